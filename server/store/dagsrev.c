/* SPDX-License-Identifier: Apache-2.0 */
/* The DAGs folder's git revision (store/dagsrev.h). */
#include "store/dagsrev.h"

#include <stdlib.h>

#include "store/query.h"

int store_dags_revision_set(struct store_conn *c, const char *rev,
                            bool *changed, struct weir_err *err)
{
    const char *params[1] = {rev};
    PGresult *r = NULL;
    int rc =
        store_query(c,
                    "UPDATE dags_revision SET revision = $1, updated_at = now()"
                    " WHERE id = 1 AND revision IS DISTINCT FROM $1",
                    1, params, &r, err);

    if (rc == 0)
        *changed = atoi(PQcmdTuples(r)) > 0;
    PQclear(r);
    return rc;
}
