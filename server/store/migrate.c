/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Schema migrations. Each compiled-in migration is applied in a
 * transaction of its own that first takes a transaction-level advisory
 * lock and then looks in schema_migrations, so that a migration is applied
 * exactly once even when several servers start together, and a failed one
 * leaves nothing behind.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "store/migrations.h"
#include "store/query.h"

#define XSTR(x) #x
#define STR(x)  XSTR(x)

static const char lock_sql[] = "SELECT pg_advisory_xact_lock(" STR(
    STORE_LOCK_CLASS) ", " STR(STORE_LOCK_MIGRATE) ")";

static const char create_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY,"
    " name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

/* Run a migration's text, which may hold many statements and no
 * parameters. */
static int exec_script(struct store_conn *c, const struct migration *m,
                       struct weir_err *err)
{
    PGconn *pg = store_conn_pg(c);
    PGresult *r = PQexec(pg, m->sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    int rc = 0;

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char msg[200];

        snprintf(msg, sizeof(msg), "%s",
                 r ? PQresultErrorMessage(r) : PQerrorMessage(pg));
        msg[strcspn(msg, "\n")] = '\0';
        rc = weir_err_set(
            err, PQstatus(pg) == CONNECTION_OK ? WEIR_EINTERNAL : WEIR_EUNAVAIL,
            "migration %04d_%s failed: %s", m->version, m->name, msg);
    }
    PQclear(r);
    return rc;
}

/* Apply one migration unless it is recorded; *done says if it was. */
static int migrate_one(struct store_conn *c, const struct migration *m,
                       bool *done, struct weir_err *err)
{
    char version[16];
    const char *params[2] = {version, m->name};
    PGresult *r = NULL;
    bool have;
    int rc;

    WEIR_I64(version, m->version);
    *done = false;
    rc = store_begin(c, err);
    if (rc == 0)
        rc = store_cmd(c, lock_sql, 0, NULL, err);
    if (rc == 0)
        rc = store_cmd(c, create_sql, 0, NULL, err);
    if (rc == 0)
        rc =
            store_query(c, "SELECT 1 FROM schema_migrations WHERE version = $1",
                        1, params, &r, err);
    if (rc < 0)
        goto out;
    have = PQntuples(r) > 0;
    PQclear(r);
    if (have) {
        rc = store_commit(c, err);
        goto out;
    }
    rc = exec_script(c, m, err);
    if (rc == 0)
        rc = store_cmd(c,
                       "INSERT INTO schema_migrations (version, name) "
                       "VALUES ($1, $2)",
                       2, params, err);
    if (rc == 0)
        rc = store_commit(c, err);
    *done = rc == 0;
out:
    if (rc < 0)
        store_rollback(c);
    return rc;
}

int store_migrate(struct store_conn *c, int *applied, struct weir_err *err)
{
    int n = 0;

    for (size_t i = 0; i < migrations_count; i++) {
        const struct migration *m = &migrations[i];
        bool done;
        int rc = migrate_one(c, m, &done, err);

        if (rc < 0)
            return rc;
        if (done) {
            log_info("event=migration_applied version=%d name=%s", m->version,
                     m->name);
            n++;
        }
    }
    if (applied != NULL)
        *applied = n;
    return 0;
}
