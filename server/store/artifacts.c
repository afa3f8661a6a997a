/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SQL of the model registry and of lineage: recording artifact versions
 * from attempt outputs, listing them, promoting them through their stages,
 * and the lineage of a run. PostgreSQL builds the JSON of the reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approvers.h"
#include "log.h"
#include "store/after.h"
#include "store/artifacts.h"
#include "store/query.h"
#include "store/read.h"
#include "weir.h"

#define NAME_MAX_LEN 128 /* bytes of an artifact name or version */

/* The stages, in the only order an artifact moves through them. */
static const char *const stages[] = {"none", "dev", "staging", "prod",
                                     "archived"};

/* The object of the keys of jsonb expression J that start with PREFIX
 * (given with its dot), the prefix taken off. */
#define PREFIXED(J, PREFIX)                                                    \
    "(SELECT coalesce(jsonb_object_agg(substr(k.key, length('" PREFIX          \
    "') + 1), k.value), '{}') FROM jsonb_each(coalesce(" J ", '{}')) k"        \
    " WHERE starts_with(k.key, '" PREFIX "'))"

/* An artifact version of table a as JSON. */
#define ARTIFACT_JSON                                                          \
    "jsonb_build_object('name', a.name, 'version', a.version, 'uri', a.uri,"   \
    " 'stage', a.stage, 'pending', a.pending_stage, 'pending_by',"             \
    " a.pending_by, 'metrics', a.metrics, 'data_version',"                     \
    " a.data_version, 'data_hash', a.data_hash, 'run_id', a.run_id, 'dag',"    \
    " a.dag_id, 'dag_version_id', a.dag_version_id, 'dag_hash', (SELECT"       \
    " hash FROM dag_versions WHERE id = a.dag_version_id), 'environment',"     \
    " a.environment, 'step', a.step_id, 'attempt_id', a.attempt_id,"           \
    " 'created_at', weir_iso(a.created_at))"

/* The promotions of artifact a as a JSON array. */
#define PROMOTIONS_JSON                                                        \
    "(SELECT coalesce(jsonb_agg(jsonb_build_object('from', p.from_stage,"      \
    " 'to', p.to_stage, 'outcome', p.outcome, 'by', p.by, 'decided_by',"       \
    " p.decided_by, 'comment', p.comment, 'reason', p.reason, 'at',"           \
    " weir_iso(p.at), 'rollback',"                                             \
    " p.from_stage = 'archived' AND p.to_stage = 'prod')"                      \
    " ORDER BY p.id), '[]') FROM artifact_promotions p"                        \
    " WHERE p.artifact_id = a.id)"

/* Whether s is a valid artifact name or version. */
static bool name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n == 0 || n > NAME_MAX_LEN || s[0] == '.' || s[0] == '-' || s[0] == '_')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '-' ||
              s[i] == '_'))
            return false;
    return true;
}

static const char record_sql[] =
    "INSERT INTO artifacts (name, version, uri, metrics, data_version,"
    " data_hash, run_id, dag_id, dag_version_id, environment, step_id,"
    " attempt_id)"
    " SELECT $2, coalesce($3, 'run-' || r.id), o->>'artifact.uri',"
    " (SELECT coalesce(jsonb_object_agg(substr(k.key, 8), CASE WHEN k.value"
    " ~ '^-?[0-9]{1,30}(\\.[0-9]{1,30})?([eE][-+]?[0-9]{1,3})?$' THEN"
    " to_jsonb(k.value::numeric) ELSE to_jsonb(k.value) END), '{}')"
    " FROM jsonb_each_text(o) k WHERE starts_with(k.key, 'metric.')"
    " AND length(k.key) > 7),"
    " coalesce(o->>'data.version', (SELECT u.outputs->>'data.version'"
    " FROM tasks u WHERE u.run_id = r.id AND u.id < t.id AND u.outputs ?"
    " 'data.version' ORDER BY u.id DESC LIMIT 1)),"
    " coalesce(o->>'data.hash', (SELECT u.outputs->>'data.hash' FROM tasks u"
    " WHERE u.run_id = r.id AND u.id < t.id AND u.outputs ? 'data.hash'"
    " ORDER BY u.id DESC LIMIT 1)),"
    " r.id, r.dag_id, r.dag_version_id, r.environment, t.step_id, x.id"
    " FROM (SELECT $4::jsonb AS o) j, attempts x"
    " JOIN tasks t ON t.id = x.task_id JOIN runs r ON r.id = t.run_id"
    " WHERE x.id = $1"
    " ON CONFLICT (name, version) DO NOTHING RETURNING version";

int store_artifact_record(struct store_conn *c, int64_t attempt_id,
                          const char *outputs, struct weir_err *err)
{
    const cJSON *name, *version;
    PGresult *r = NULL;
    char idb[WEIR_I64_LEN];
    cJSON *o;
    int rc = 0;

    /* Most attempts declare no artifact: no parse, no statement. */
    if (outputs == NULL || strstr(outputs, "\"artifact.name\"") == NULL)
        return 0;
    o = cJSON_Parse(outputs);
    if (o == NULL)
        return weir_err_set(err, WEIR_EINTERNAL,
                            "cannot parse stored JSON (malformed, or nested "
                            "deeper than cJSON reads)");
    name = cJSON_GetObjectItemCaseSensitive(o, "artifact.name");
    version = cJSON_GetObjectItemCaseSensitive(o, "artifact.version");
    if (!cJSON_IsString(name) || !name_ok(name->valuestring) ||
        (version != NULL &&
         (!cJSON_IsString(version) || !name_ok(version->valuestring)))) {
        log_warn("event=artifact_refused attempt=%lld reason=\"artifact.name"
                 " and artifact.version are 1 to 128 letters, digits, '.',"
                 " '-' or '_'\"",
                 (long long)attempt_id);
    } else {
        const char *params[4] = {idb, name->valuestring,
                                 version ? version->valuestring : NULL,
                                 outputs};

        WEIR_I64(idb, attempt_id);
        rc = store_query(c, record_sql, 4, params, &r, err);
        if (rc == 0 && PQntuples(r) == 1)
            log_info("event=artifact_recorded attempt=%lld name=%s "
                     "version=%s",
                     (long long)attempt_id, name->valuestring,
                     PQgetvalue(r, 0, 0));
        else if (rc == 0)
            log_warn("event=artifact_exists attempt=%lld name=%s",
                     (long long)attempt_id, name->valuestring);
        PQclear(r);
    }
    cJSON_Delete(o);
    return rc;
}

int store_artifacts_list(struct store_conn *c, const char *name, cJSON **out,
                         struct weir_err *err)
{
    const char *params[1] = {name};

    return store_json_query(c,
                            "SELECT coalesce(jsonb_agg(" ARTIFACT_JSON
                            " ORDER BY a.id DESC), '[]') FROM artifacts a"
                            " WHERE $1::text IS NULL OR a.name = $1",
                            1, params, out, err);
}

/* When version a reached prod, as the id of its promotion there: the
 * oldest prod version is the one archived to make room. */
#define PROD_SINCE                                                             \
    "(SELECT max(p.id) FROM artifact_promotions p WHERE p.artifact_id ="       \
    " a.id AND p.to_stage = 'prod' AND p.outcome = 'done')"

int store_artifact_get(struct store_conn *c, const char *name, cJSON **out,
                       struct weir_err *err)
{
    const char *params[1] = {name};
    int rc;

    rc = store_json_query(
        c,
        "SELECT jsonb_build_object('name', $1::text, 'prod', (SELECT"
        " version FROM artifacts a WHERE name = $1 AND stage = 'prod' ORDER BY"
        " " PROD_SINCE " DESC NULLS LAST, id DESC LIMIT 1), 'prod_versions',"
        " (SELECT coalesce(jsonb_agg(version ORDER BY " PROD_SINCE
        " DESC NULLS LAST, id DESC), '[]') FROM artifacts a WHERE name = $1"
        " AND stage = 'prod'), 'versions',"
        " jsonb_agg(" ARTIFACT_JSON
        " || jsonb_build_object('promotions', " PROMOTIONS_JSON
        ") ORDER BY a.id DESC)) FROM artifacts a"
        " WHERE a.name = $1 HAVING count(*) > 0",
        1, params, out, err);
    if (rc == WEIR_ENOTFOUND)
        rc = weir_err_set(err, WEIR_ENOTFOUND, "no artifact \"%s\"", name);
    return rc;
}

/* The index of stage s in stages[], or -1. */
static int stage_rank(const char *s)
{
    for (size_t i = 0; s != NULL && i < WEIR_ARRAY_LEN(stages); i++)
        if (strcmp(stages[i], s) == 0)
            return (int)i;
    return -1;
}

/* What promote_lock() found of a version. */
struct locked {
    char stage[16];        /* its stage */
    char pending[16];      /* the stage awaiting approval, or "" */
    char pending_by[256];  /* who asked for it */
    char environment[128]; /* where it was made, or "" */
    char reason[1024];     /* why the pending promotion was asked, or "" */
    bool was_prod;         /* a promotion to prod of it was done */
};

/* Lock every version of name (promotions of one name take turns) and
 * read what version holds. */
static int promote_lock(struct store_conn *c, const char *name,
                        const char *version, struct locked *l,
                        struct weir_err *err)
{
    const char *params[1] = {name};
    PGresult *r = NULL;
    int rc, row = -1;

    rc = store_query(c,
                     "SELECT version, stage, coalesce(pending_stage, ''),"
                     " coalesce(pending_by, ''), coalesce(environment, ''),"
                     " coalesce(pending_reason, ''),"
                     " EXISTS (SELECT 1 FROM artifact_promotions p WHERE"
                     " p.artifact_id = a.id AND p.to_stage = 'prod' AND"
                     " p.outcome = 'done') FROM artifacts a"
                     " WHERE name = $1 ORDER BY id FOR UPDATE",
                     1, params, &r, err);
    if (rc < 0)
        return rc;
    for (int i = 0; i < PQntuples(r); i++)
        if (strcmp(PQgetvalue(r, i, 0), version) == 0)
            row = i;
    if (row < 0) {
        rc = weir_err_set(err, WEIR_ENOTFOUND, "no version \"%s\" of %s \"%s\"",
                          version, PQntuples(r) ? "artifact" : "unknown", name);
    } else {
        snprintf(l->stage, sizeof(l->stage), "%s", PQgetvalue(r, row, 1));
        snprintf(l->pending, sizeof(l->pending), "%s", PQgetvalue(r, row, 2));
        snprintf(l->pending_by, sizeof(l->pending_by), "%s",
                 PQgetvalue(r, row, 3));
        snprintf(l->environment, sizeof(l->environment), "%s",
                 PQgetvalue(r, row, 4));
        snprintf(l->reason, sizeof(l->reason), "%s", PQgetvalue(r, row, 5));
        l->was_prod = PQgetvalue(r, row, 6)[0] == 't';
    }
    PQclear(r);
    return rc;
}

/* Make room in prod for p->version: archive the oldest prod versions of
 * p->name so that p->max_prod - 1 stay; their versions, oldest first and
 * separated by ", ", into *archived (NULL when none). */
static int promote_archive(struct store_conn *c,
                           const struct store_promotion *p, char **archived,
                           struct weir_err *err)
{
    char keep[16];
    const char *params[4] = {p->name, p->by, p->version, keep};
    PGresult *r = NULL;
    int rc;

    WEIR_I64(keep, p->max_prod > 1 ? p->max_prod - 1 : 0);
    rc = store_query(
        c,
        "WITH old AS (UPDATE artifacts SET stage = 'archived' WHERE id IN"
        " (SELECT a.id FROM artifacts a WHERE a.name = $1 AND a.stage ="
        " 'prod' ORDER BY " PROD_SINCE " DESC NULLS LAST, a.id DESC"
        " OFFSET $4::int) RETURNING id, version), ins AS (INSERT INTO"
        " artifact_promotions (artifact_id, from_stage, to_stage, by,"
        " comment) SELECT id, 'prod', 'archived', $2, 'replaced by ' || $3"
        " FROM old) SELECT string_agg(version, ', ' ORDER BY id) FROM old"
        " HAVING count(*) > 0",
        4, params, &r, err);
    if (rc == 0 && PQntuples(r) == 1)
        rc = store_val_dup(r, 0, 0, archived, err);
    PQclear(r);
    return rc;
}

/*
 * Record one promotion of p->version from stage `from` (outcome "done",
 * or "rejected", which changes no stage) and clear what awaited approval;
 * p->by asked, decided_by (or NULL) approved or rejected. *out gets the
 * answer.
 */
static int promote_record(struct store_conn *c, const struct store_promotion *p,
                          const char *from, const char *outcome,
                          const char *decided_by, cJSON **out,
                          struct weir_err *err)
{
    char *archived = NULL;
    const char *params[9] = {p->name,    p->version, p->to,      p->by,    from,
                             decided_by, outcome,    p->comment, p->reason};
    PGresult *r = NULL;
    bool done = strcmp(outcome, "done") == 0;
    int rc = 0;

    if (done && strcmp(p->to, "prod") == 0)
        rc = promote_archive(c, p, &archived, err);
    if (rc == 0)
        rc = store_query(
            c,
            "WITH a AS (UPDATE artifacts SET stage = CASE WHEN $7 = 'done'"
            " THEN $3 ELSE stage END, pending_stage = NULL, pending_by ="
            " NULL, pending_at = NULL, pending_reason = NULL WHERE name = $1"
            " AND version = $2 RETURNING id) INSERT INTO"
            " artifact_promotions (artifact_id, from_stage, to_stage, by,"
            " decided_by, outcome, comment, reason)"
            " SELECT a.id, $5, $3, $4, $6, $7, $8, $9 FROM a"
            " RETURNING weir_iso(at)",
            9, params, &r, err);
    if (rc == 0) {
        *out = cJSON_CreateObject();
        cJSON_AddStringToObject(*out, "name", p->name);
        cJSON_AddStringToObject(*out, "version", p->version);
        cJSON_AddStringToObject(*out, "from", from);
        cJSON_AddStringToObject(*out, "stage", done ? p->to : from);
        cJSON_AddStringToObject(*out, "outcome", outcome);
        cJSON_AddBoolToObject(*out, "rollback",
                              strcmp(from, "archived") == 0 &&
                                  strcmp(p->to, "prod") == 0);
        cJSON_AddStringToObject(*out, "by", p->by);
        cJSON_AddItemToObject(*out, "decided_by",
                              decided_by ? cJSON_CreateString(decided_by)
                                         : cJSON_CreateNull());
        cJSON_AddStringToObject(*out, "at", PQgetvalue(r, 0, 0));
        cJSON_AddItemToObject(*out, "archived",
                              archived ? cJSON_CreateString(archived)
                                       : cJSON_CreateNull());
    }
    PQclear(r);
    free(archived);
    return rc;
}

/* Ask for an approval of p: the version waits with pending_stage. */
static int promote_request(struct store_conn *c,
                           const struct store_promotion *p, const char *from,
                           cJSON **out, struct weir_err *err)
{
    const char *params[5] = {p->name, p->version, p->to, p->by, p->reason};
    int rc;

    rc = store_cmd(c,
                   "UPDATE artifacts SET pending_stage = $3, pending_by = $4,"
                   " pending_at = now(), pending_reason = $5 WHERE name = $1"
                   " AND version = $2",
                   5, params, err);
    if (rc == 0) {
        *out = cJSON_CreateObject();
        cJSON_AddStringToObject(*out, "name", p->name);
        cJSON_AddStringToObject(*out, "version", p->version);
        cJSON_AddStringToObject(*out, "from", from);
        cJSON_AddStringToObject(*out, "stage", from);
        cJSON_AddStringToObject(*out, "outcome", "awaiting_approval");
        cJSON_AddBoolToObject(*out, "rollback", strcmp(from, "archived") == 0);
        cJSON_AddStringToObject(*out, "pending", p->to);
        cJSON_AddStringToObject(*out, "by", p->by);
    }
    return rc;
}

/* Whether the DAG lets a version made in environment env reach p->to. */
static bool env_may_feed(const struct store_promotion *p, const char *env)
{
    if (!p->from_restricted)
        return true;
    for (size_t i = 0; i < p->n_from_envs; i++)
        if (strcmp(p->from_envs[i], env) == 0)
            return true;
    return false;
}

/*
 * Whether p may move the version l describes: forward only, except a
 * rollback (archived back to prod, for a version that was in prod, with
 * a reason); and from an environment the DAG lets feed p->to.
 */
static int promote_allowed(const struct store_promotion *p,
                           const struct locked *l, struct weir_err *err)
{
    bool rollback =
        strcmp(l->stage, "archived") == 0 && strcmp(p->to, "prod") == 0;
    char list[200] = "";

    if (rollback && !l->was_prod)
        return weir_err_set(err, WEIR_ECONFLICT,
                            "%s %s was never in prod: only a version archived "
                            "from prod can be rolled back to it",
                            p->name, p->version);
    if (rollback && (p->comment == NULL || p->comment[0] == '\0'))
        return weir_err_set(err, WEIR_EINVAL,
                            "rolling %s %s back to prod needs a reason "
                            "(\"comment\"; weir artifact promote --reason "
                            "TEXT)",
                            p->name, p->version);
    if (!rollback && stage_rank(p->to) <= stage_rank(l->stage))
        return weir_err_set(err, WEIR_ECONFLICT,
                            "%s %s is in stage %s: stages only move forward"
                            " (none, dev, staging, prod, archived), but for"
                            " a rollback of an archived prod version to prod",
                            p->name, p->version, l->stage);
    if (env_may_feed(p, l->environment))
        return 0;
    for (size_t i = 0; i < p->n_from_envs; i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
                 i ? ", " : "", p->from_envs[i]);
    return weir_err_set(err, WEIR_ECONFLICT,
                        "%s %s was made in environment \"%s\"; the DAG "
                        "lets only %s feed stage %s (artifacts.%s."
                        "promote_from)",
                        p->name, p->version,
                        l->environment[0] ? l->environment : "(none)",
                        list[0] ? list : "no environment", p->to, p->name);
}

int store_artifact_promote(struct store_conn *c,
                           const struct store_promotion *p, cJSON **out,
                           struct weir_err *err)
{
    struct locked l;
    int rc;

    if (stage_rank(p->to) <= 0)
        return weir_err_set(err, WEIR_EINVAL,
                            "unknown stage \"%s\": expected dev, staging, prod"
                            " or archived",
                            p->to ? p->to : "");
    rc = store_begin(c, err);
    if (rc == 0)
        rc = promote_lock(c, p->name, p->version, &l, err);
    if (rc == 0)
        rc = promote_allowed(p, &l, err);
    if (rc == 0 && l.pending[0] != '\0')
        rc = weir_err_set(err, WEIR_ECONFLICT,
                          "%s %s already awaits approval for %s (asked by %s)",
                          p->name, p->version, l.pending, l.pending_by);
    if (rc == 0 && p->needs_approval && strcmp(p->to, "prod") == 0)
        rc = promote_request(c, p, l.stage, out, err);
    else if (rc == 0)
        rc = promote_record(c, p, l.stage, "done", NULL, out, err);
    if (rc == 0)
        rc = store_commit(c, err);
    if (rc < 0)
        store_rollback(c);
    return rc;
}

/* The approvers of d's artifact against who decides (who asked may
 * always withdraw; self approval is checked apart). */
static int decider_listed(const struct store_decision *d,
                          const struct locked *l, struct weir_err *err)
{
    char what[200];
    struct approval_subject s = {.what = what,
                                 .approvers = d->approvers,
                                 .self_approve = true,
                                 .started_by = l->pending_by,
                                 .allow_self = ""};
    struct approval_decider who = {d->by, d->groups, d->n_groups};

    snprintf(what, sizeof(what), "artifact \"%s\"", d->name);
    return approval_check(&s, &who, d->approve, err);
}

int store_artifact_decide(struct store_conn *c, const struct store_decision *d,
                          cJSON **out, struct weir_err *err)
{
    struct store_promotion p = {.name = d->name,
                                .version = d->version,
                                .comment = d->comment,
                                .max_prod = d->max_prod};
    const char *name = d->name, *version = d->version, *by = d->by;
    bool approve = d->approve;
    struct locked l;
    int rc = store_begin(c, err);

    if (rc == 0)
        rc = promote_lock(c, name, version, &l, err);
    if (rc == 0 && l.pending[0] == '\0')
        rc = weir_err_set(err, WEIR_ECONFLICT,
                          "%s %s awaits no approval (stage %s)", name, version,
                          l.stage);
    if (rc == 0)
        rc = decider_listed(d, &l, err);
    if (rc == 0 && approve && !d->self_approve && strcmp(l.pending_by, by) == 0)
        rc = weir_err_set(err, WEIR_EFORBIDDEN,
                          "%s asked for the promotion of %s %s to %s and "
                          "cannot approve it too: someone else must (or the "
                          "DAG allows it: artifacts: {%s: {self_approve: "
                          "true}})",
                          by, name, version, l.pending, name);
    if (rc == 0) {
        p.to = l.pending;
        p.by = l.pending_by;
        p.reason = l.reason[0] ? l.reason : NULL;
        rc = promote_record(c, &p, l.stage, approve ? "done" : "rejected", by,
                            out, err);
    }
    if (rc == 0)
        rc = store_commit(c, err);
    if (rc < 0)
        store_rollback(c);
    return rc;
}

int store_artifact_dag_version(struct store_conn *c, const char *name,
                               const char *version, int64_t *version_id,
                               struct weir_err *err)
{
    const char *params[2] = {name, version};
    PGresult *r = NULL;
    int rc;

    rc = store_query(c,
                     "SELECT dag_version_id FROM artifacts WHERE name = $1"
                     " AND version = $2",
                     2, params, &r, err);
    if (rc < 0)
        return rc;
    if (PQntuples(r) == 0)
        rc = weir_err_set(err, WEIR_ENOTFOUND, "no version \"%s\" of \"%s\"",
                          version, name);
    else
        *version_id = store_val_i64(r, 0, 0);
    PQclear(r);
    return rc;
}

/* One upstream task's producing attempt x, for attempts.inputs_from. */
#define INPUT_FROM_JSON                                                        \
    "jsonb_build_object('attempt_id', x.id, 'try', x.try) ||"                  \
    " jsonb_strip_nulls(jsonb_build_object('data_version', u.dv, 'reused',"    \
    " CASE WHEN x.finished_at < r.retried_at THEN true END))"

/*
 * The SQL of store_attempts_inputs_from(): every lookup is by primary or
 * unique key ((task_id, try) of attempts), so its cost is the number of
 * upstream tasks, whatever the size of the tables.
 */
static const char inputs_from_sql[] =
    "WITH u AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS u(a bigint,"
    " r bigint, t bigint, try int, s text, c int, m bool, dv text)), src AS"
    " (SELECT u.a, u.s, u.c, u.m, " INPUT_FROM_JSON " AS v FROM u LEFT JOIN"
    " attempts x ON x.task_id = u.t AND x.try = u.try AND x.state ="
    " 'success' LEFT JOIN runs r ON r.id = u.r), per_step AS (SELECT a, s,"
    " CASE WHEN bool_or(m) THEN jsonb_agg(v || jsonb_build_object('cell',"
    " c) ORDER BY c) ELSE (array_agg(v))[1] END AS v FROM src GROUP BY a,"
    " s) UPDATE attempts a SET inputs_from = f.v FROM (SELECT a,"
    " jsonb_object_agg(s, v) AS v FROM per_step GROUP BY a) f WHERE a.id ="
    " f.a";

int store_attempts_inputs_from(struct store_conn *c, const char *want,
                               struct weir_err *err)
{
    const char *params[1] = {want};

    return store_cmd(c, inputs_from_sql, 1, params, err);
}

/* The outputs of task t split by prefix, for the lineage. */
#define T_DATA     PREFIXED("t.outputs", "data.")
#define T_ARTIFACT PREFIXED("t.outputs", "artifact.")
#define T_METRICS  PREFIXED("t.outputs", "metric.")

/* A task of the lineage; x is the attempt that made its outputs. */
#define LINEAGE_TASK_JSON                                                      \
    "jsonb_build_object('task_id', t.id, 'step', t.step_id, 'cell', t.cell,"   \
    " 'matrix', t.matrix, 'state', t.state, 'attempt_id', x.id, 'try',"        \
    " x.try, 'worker', w.name, 'finished_at', weir_iso(x.finished_at),"        \
    " 'outputs', t.outputs, 'data', " T_DATA ", 'artifact', " T_ARTIFACT       \
    ", 'metrics', " T_METRICS ", 'reused', coalesce(x.finished_at <"           \
    " r.retried_at, false), 'reused_from', CASE WHEN x.finished_at <"          \
    " r.retried_at THEN x.id END, 'inputs_from', x.inputs_from)"

/* The SQL of store_run_lineage(): a task's attempt is its last success. */
static const char lineage_sql[] =
    "SELECT jsonb_build_object('run_id', r.id, 'dag', r.dag_id, 'state',"
    " r.state, 'dag_version', jsonb_build_object('id', v.id, 'hash', v.hash,"
    " 'path', v.path, 'origin', v.origin, 'created_at',"
    " weir_iso(v.created_at)), 'params', r.params, 'environment',"
    " r.environment, 'trigger', jsonb_build_object('kind', r.trigger_kind,"
    " 'key', r.trigger_key, 'payload', r.trigger_payload), 'reason',"
    " r.reason, 'created_at', weir_iso(r.created_at), 'retry_count',"
    " r.retry_count, 'retried_at', weir_iso(r.retried_at), 'param_changes',"
    " r.param_changes, " STORE_UPSTREAM_JSON ", 'steps',"
    " (SELECT coalesce(jsonb_agg(" LINEAGE_TASK_JSON " ORDER BY t.id), '[]')"
    " FROM tasks t LEFT JOIN LATERAL (SELECT * FROM attempts y WHERE"
    " y.task_id = t.id AND y.state = 'success' ORDER BY y.try DESC LIMIT 1)"
    " x ON true LEFT JOIN workers w ON w.id = x.worker_id"
    " WHERE t.run_id = r.id), 'artifacts', (SELECT "
    "coalesce(jsonb_agg(" ARTIFACT_JSON
    " ORDER BY a.id), '[]') FROM artifacts a"
    " WHERE a.run_id = r.id))"
    " FROM runs r JOIN dag_versions v ON v.id = r.dag_version_id"
    " WHERE r.id = $1";

int store_run_lineage(struct store_conn *c, int64_t run_id, cJSON **out,
                      int64_t *version_id, struct weir_err *err)
{
    char idb[WEIR_I64_LEN];
    const char *params[1] = {idb};
    const cJSON *v;
    int rc;

    WEIR_I64(idb, run_id);
    rc = store_json_query(c, lineage_sql, 1, params, out, err);
    if (rc == WEIR_ENOTFOUND)
        return weir_err_set(err, WEIR_ENOTFOUND, "no run %s", idb);
    if (rc < 0)
        return rc;
    v = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(*out, "dag_version"), "id");
    *version_id = cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
    return 0;
}
