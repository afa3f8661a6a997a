/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The two trigger kinds that follow other runs: `after:` (a run of another
 * DAG ended, {dag: ID, state: success|failed|any}) and `data:` (a run
 * recorded a new version of a named dataset). Their `when:` is checked
 * here too: an after trigger's sees the upstream run (run.id, run.dag,
 * run.state, run.params.NAME, run.outputs.STEP.KEY), a data trigger's the
 * event (event.payload.version and the rest, as an event trigger).
 */
#include <string.h>

#include "dag_internal.h"

enum after_key { AK_DAG, AK_STATE, AK_COUNT };

static const char *const after_keys[AK_COUNT] = {"dag", "state"};

static const char *const after_states[3] = {"success", "failed", "any"};

/* The fields of the upstream run an after trigger's `when:` sees. */
static const char *const run_fields[5] = {"id", "dag", "state", "params",
                                          "outputs"};

#define DATASET_MAX 128 /* longest dataset name */

const char *dag_after_state_name(enum dag_after_state s)
{
    if ((unsigned)s >= WEIR_ARRAY_LEN(after_states))
        return "?";
    return after_states[s];
}

/* The upstream DAG's id of n into t->target, checked. */
static void load_dag_id(struct dag_ctx *c, struct dag_trigger *t,
                        const char *key, const struct ynode *n)
{
    if (!dag_get_str(c, key, n, &t->target))
        return;
    if (!dag_id_valid(n->str, n->len)) {
        dag_error(c, dag_npos(n),
                  "\"%s\" is not a DAG id: use lowercase letters, digits, "
                  "\"_\" and \"-\", starting with a letter or digit (at "
                  "most 64)",
                  dag_q(c, n->str));
        t->target = NULL;
    }
}

void dag_load_after(struct dag_ctx *c, struct dag_trigger *t,
                    const struct ynode *n)
{
    struct dag_keys k;
    int state = DAG_AFTER_SUCCESS;

    t->after_state = DAG_AFTER_SUCCESS;
    if (n->kind == YNODE_SCALAR) { /* after: ingest, a shorthand */
        load_dag_id(c, t, "after", n);
        return;
    }
    if (n->kind != YNODE_MAP) {
        dag_error(c, dag_npos(n),
                  "\"after\" must be a mapping such as {dag: ingest, state: "
                  "success}, got %s",
                  dag_got(c, n));
        return;
    }
    dag_walk_map(c, n, after_keys, AK_COUNT, UINT32_MAX, "in \"after\"", &k);
    if (k.val[AK_STATE] &&
        dag_get_enum(c, "state", k.val[AK_STATE], after_states, 3, &state))
        t->after_state = (enum dag_after_state)state;
    if (k.val[AK_DAG] == NULL) {
        dag_error(c, dag_npos(n),
                  "\"after\" needs \"dag\" (the id of the DAG whose runs it "
                  "follows)");
        return;
    }
    load_dag_id(c, t, "dag", k.val[AK_DAG]);
}

/* A dataset name: 1-128 letters, digits, '.', '-', '_', starting with a
 * letter or digit (as an artifact's name). */
static bool dataset_valid(const char *s, size_t len)
{
    if (len == 0 || len > DATASET_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                     (ch >= '0' && ch <= '9');

        if (!alnum && (i == 0 || (ch != '.' && ch != '-' && ch != '_')))
            return false;
    }
    return true;
}

void dag_load_data(struct dag_ctx *c, struct dag_trigger *t,
                   const struct ynode *n)
{
    if (!dataset_valid(t->target, n->len))
        dag_error(c, dag_npos(n),
                  "dataset name \"%s\" is not valid: use 1-128 letters, "
                  "digits, \".\", \"-\" and \"_\", starting with a letter or "
                  "digit",
                  dag_q(c, t->target));
}

/* Whether the dotted name s has n segments at least, none of them empty. */
static size_t segments(const char *s, const char **seg, size_t max)
{
    size_t n = 0;

    for (;;) {
        const char *dot = strchr(s, '.');

        if (n < max)
            seg[n] = s;
        n++;
        if (dot == NULL)
            return n;
        if (dot == s)
            return 0;
        s = dot + 1;
    }
}

void dag_check_after_ref(struct dag_ctx *c, const struct dag_ref *r)
{
    const char *seg[4] = {0};
    size_t n = segments(r->name, seg, 4);
    struct dag_pos pos = dag_pos_in(c, r->node, r->offset);
    char field[64], fix[80];
    const char *best;
    size_t len;

    if (n < 2 || strncmp(r->name, "run.", 4) != 0) {
        dag_error(c, pos,
                  "unknown name \"%s\": an after trigger's \"when\" sees the "
                  "upstream run: run.id, run.dag, run.state, "
                  "run.params.NAME, run.outputs.STEP.KEY",
                  dag_q(c, r->name));
        return;
    }
    len = strcspn(seg[1], ".");
    snprintf(field, sizeof(field), "%.*s", (int)(len < 63 ? len : 63), seg[1]);
    if ((n == 2 && (strcmp(field, "id") == 0 || strcmp(field, "dag") == 0 ||
                    strcmp(field, "state") == 0)) ||
        (n >= 3 && strcmp(field, "params") == 0) ||
        (n >= 4 && strcmp(field, "outputs") == 0))
        return;
    if (strcmp(field, "params") == 0 || strcmp(field, "outputs") == 0) {
        dag_error(c, pos, "\"%s\": expected %s", dag_q(c, r->name),
                  field[0] == 'p' ? "run.params.NAME" : "run.outputs.STEP.KEY");
        return;
    }
    best = dag_suggest(c, field, run_fields, 5);
    if (best != NULL) {
        snprintf(fix, sizeof(fix), "run.%s", best);
        best = fix;
    }
    dag_error(c, pos,
              "unknown name \"%s\" (an after trigger sees run.id, run.dag, "
              "run.state, run.params.NAME, run.outputs.STEP.KEY)%s",
              dag_q(c, r->name), dag_mean(c, best));
}
