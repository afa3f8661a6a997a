/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Schema migrations. Each compiled-in migration is applied in a
 * transaction of its own that first takes a transaction-level advisory
 * lock and then looks in schema_migrations, so that a migration is applied
 * exactly once even when several servers start together, and a failed one
 * leaves nothing behind.
 *
 * Before any of that, a server refuses a database that holds a migration
 * newer than the newest it knows: a newer server migrated it, and this
 * older one would neither understand the schema nor apply what it lacks.
 */
#include <stdio.h>
#include <stdlib.h>
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

/* The newest migration the database records above `newest` (this
 * binary's), if any: its version in *version (0 for none) and name. */
static int newer_migration(struct store_conn *c, const struct migration *newest,
                           int *version, char *name, size_t len,
                           struct weir_err *err)
{
    char known[16];
    const char *params[1] = {known};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(known, newest->version);
    *version = 0;
    rc = store_query(c, "SELECT to_regclass('schema_migrations') IS NOT NULL",
                     0, NULL, &r, err);
    if (rc < 0)
        return rc;
    if (strcmp(PQgetvalue(r, 0, 0), "t") != 0) { /* a new database */
        PQclear(r);
        return 0;
    }
    PQclear(r);
    rc = store_query(c,
                     "SELECT version, name FROM schema_migrations "
                     "WHERE version > $1 ORDER BY version DESC LIMIT 1",
                     1, params, &r, err);
    if (rc < 0)
        return rc;
    if (PQntuples(r) > 0) {
        *version = atoi(PQgetvalue(r, 0, 0));
        snprintf(name, len, "%s", PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    return 0;
}

/*
 * Refuse a schema newer than this binary's, before anything is applied.
 * The check takes the migrations' lock, so that it waits for a newer
 * server that is migrating right now and then sees what it applied.
 */
static int check_not_newer(struct store_conn *c, struct weir_err *err)
{
    const struct migration *newest = &migrations[migrations_count - 1];
    char name[64];
    int version = 0;
    int rc = store_begin(c, err);

    if (rc == 0)
        rc = store_cmd(c, lock_sql, 0, NULL, err);
    if (rc == 0)
        rc = newer_migration(c, newest, &version, name, sizeof(name), err);
    if (rc == 0)
        rc = store_commit(c, err);
    if (rc < 0) {
        store_rollback(c);
        return rc;
    }
    if (version == 0)
        return 0;
    return weir_err_set(
        err, WEIR_ECONFLICT,
        "the database schema is at migration %04d_%s, newer than this "
        "weir-server's newest, %04d_%s: a newer weir-server migrated it; "
        "run that version or a later one",
        version, name, newest->version, newest->name);
}

int store_migrate(struct store_conn *c, int *applied, struct weir_err *err)
{
    int n = 0;
    int rc;

    WEIR_ASSERT(migrations_count > 0);
    rc = check_not_newer(c, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < migrations_count; i++) {
        const struct migration *m = &migrations[i];
        bool done;

        rc = migrate_one(c, m, &done, err);
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
