/* SPDX-License-Identifier: Apache-2.0 */
/* Recording the DAGs folder's git revision (jobs/dagsrev.h). */
#include "jobs/dagsrev.h"

#include "gitrev.h"
#include "log.h"
#include "store/dagsrev.h"

bool dagsrev_record(struct store *store, const char *root)
{
    char rev[GITREV_HEX_MAX + 1];
    bool has = gitrev_get(root, rev), changed = false;
    struct store_conn *c = NULL;
    struct weir_err err = {0};
    char q[300];
    int rc = store_conn_get(store, &c, &err);

    if (rc == 0)
        rc = store_dags_revision_set(c, has ? rev : NULL, &changed, &err);
    store_conn_put(c);
    if (rc < 0) {
        log_warn("event=dags_revision_failed dir=%s msg=%s", root,
                 log_quote(err.msg, q, sizeof(q)));
        return false;
    }
    if (changed)
        log_info("event=dags_revision dir=%s revision=%s", root,
                 has ? rev : "none");
    return true;
}
