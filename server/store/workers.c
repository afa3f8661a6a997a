/* SPDX-License-Identifier: Apache-2.0 */
/* SQL of the workers table: registration, last seen, cancels to carry. */
#include "store/workers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/query.h"

int store_worker_register(struct store_conn *c, const char *name,
                          const char *queues, int slots, const char *labels,
                          int64_t *id, struct weir_err *err)
{
    char slots_b[WEIR_I64_LEN];
    const char *params[4] = {name, queues, slots_b, labels};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(slots_b, slots);
    rc = store_query(
        c,
        "INSERT INTO workers (name, queues, slots, labels) VALUES ($1,"
        " ARRAY(SELECT jsonb_array_elements_text($2::jsonb)), $3, $4)"
        " ON CONFLICT (name) DO UPDATE SET queues = excluded.queues,"
        " slots = excluded.slots, labels = excluded.labels, state = 'online',"
        " last_seen_at = now() RETURNING id",
        4, params, &r, err);
    if (rc < 0)
        return rc;
    *id = store_val_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

int store_worker_seen(struct store_conn *c, int64_t worker_id,
                      struct weir_err *err)
{
    char id[WEIR_I64_LEN];
    const char *params[1] = {id};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(id, worker_id);
    rc = store_query(c,
                     "UPDATE workers SET last_seen_at = now(), state ="
                     " 'online' WHERE id = $1",
                     1, params, &r, err);
    if (rc == 0 && strcmp(PQcmdTuples(r), "1") != 0)
        rc = weir_err_set(err, WEIR_ENOTFOUND, "no worker %s: register first",
                          id);
    PQclear(r);
    return rc;
}

int store_worker_cancels(struct store_conn *c, int64_t worker_id,
                         const int64_t *seen, size_t n_seen, int64_t **out,
                         size_t *n, struct weir_err *err)
{
    char idb[WEIR_I64_LEN], *list = store_ids_literal(seen, n_seen);
    const char *params[2] = {idb, list};
    PGresult *r = NULL;
    int64_t *v = NULL;
    int rc;

    if (list == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    WEIR_I64(idb, worker_id);
    rc = store_query(c,
                     "SELECT a.id FROM attempts a JOIN tasks t"
                     " ON t.id = a.task_id WHERE a.worker_id = $1"
                     " AND a.state = 'running' AND a.id <> ALL($2::bigint[])"
                     " AND (t.state <> 'running' OR t.try_count <> a.try)",
                     2, params, &r, err);
    free(list);
    if (rc < 0)
        return rc;
    *n = (size_t)PQntuples(r);
    if (*n > 0 && (v = calloc(*n, sizeof(*v))) == NULL) {
        PQclear(r);
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < *n; i++)
        v[i] = strtoll(PQgetvalue(r, (int)i, 0), NULL, 10);
    PQclear(r);
    *out = v;
    return 0;
}
