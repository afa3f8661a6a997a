/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The DAG model: one YAML document (docs/dag-format.md) loaded, validated and
 * normalized. A loaded struct dag is immutable; all its memory belongs to it
 * and goes with dag_free(). Positions are 1-based line and column in the
 * source text, kept so that later checks can still point at the file.
 */
#ifndef WEIR_DAG_H
#define WEIR_DAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "cron.h"
#include "err.h"

/* The body a webhook trigger accepts (`max_body:`, bytes). */
#define DAG_HOOK_BODY_MAX 262144 /* the most, and the default */
#define DAG_HOOK_BODY_MIN 1024   /* the least */

/* Limits that keep hostile files cheap to refuse. */
#define DAG_MAX_FILE_BYTES (1024 * 1024) /* larger sources are refused */
#define DAG_MAX_DEPTH      32            /* nesting of YAML collections */
#define DAG_MAX_NODES      100000        /* YAML nodes, aliases expanded */
#define DAG_MAX_STEPS      2000          /* steps in one DAG */
#define DAG_MAX_CELLS      1000          /* cells of one matrix */
#define DAG_MAX_MAP_CELLS  10000         /* cells a map makes at run time */
#define DAG_MAX_DIAGS      100           /* diagnostics kept per file */
#define DAG_ID_MAX         64            /* bytes in a DAG or step id */
#define DAG_CACHE_TTL_MS   (7LL * 24 * 3600 * 1000) /* default cache ttl */

/* A place in the source text; line 0 means "no place" (a default). */
struct dag_pos {
    int line; /* 1-based line */
    int col;  /* 1-based column, in bytes */
};

/* One problem found in a DAG file. */
struct dag_diag {
    struct dag_pos pos; /* where it is */
    char msg[256];      /* what is wrong and what was expected */
};

/* Every problem found in one file, in source order. */
struct dag_diags {
    struct dag_diag *v; /* the diagnostics */
    size_t n;           /* how many are in v */
    size_t cap;         /* allocated slots in v */
    bool truncated;     /* more than DAG_MAX_DIAGS were found */
};

enum dag_priority {
    DAG_PRIO_LOW,      /* after everything else */
    DAG_PRIO_NORMAL,   /* the default */
    DAG_PRIO_HIGH,     /* ahead of normal work in every queue */
    DAG_PRIO_CRITICAL, /* ahead of everything */
};

enum dag_trigger_rule {
    DAG_RULE_ALL_SUCCESS, /* every upstream succeeded (or was skipped) */
    DAG_RULE_ALL_DONE,    /* every upstream is terminal, whatever its state */
    DAG_RULE_NONE_FAILED, /* no upstream failed or was upstream_failed */
    DAG_RULE_ONE_FAILED,  /* at least one upstream failed */
    DAG_RULE_ONE_SUCCESS, /* at least one upstream succeeded */
};

enum dag_trigger_kind {
    DAG_TRIG_CRON,    /* a cron schedule */
    DAG_TRIG_EVENT,   /* a named event posted to the API */
    DAG_TRIG_METRIC,  /* a metric crossing a line */
    DAG_TRIG_FILE,    /* a file matching a glob appears or changes */
    DAG_TRIG_WEBHOOK, /* an HMAC-signed POST to the hooks endpoint */
    DAG_TRIG_AFTER,   /* a run of another DAG ending */
    DAG_TRIG_DATA,    /* a new data version of a named dataset */
};

/* Which end of the upstream run fires an after trigger. */
enum dag_after_state {
    DAG_AFTER_SUCCESS, /* the upstream run succeeded (the default) */
    DAG_AFTER_FAILED,  /* it failed */
    DAG_AFTER_ANY,     /* it ended, whichever way */
};

/* Which hook a step runs, if any (docs/dag-format.md, "Hooks"). */
enum dag_hook_kind {
    DAG_HOOK_NONE,       /* a step of the file */
    DAG_HOOK_ON_FAILURE, /* the step the loader adds for on_failure: {run} */
    DAG_HOOK_ON_SUCCESS, /* the step the loader adds for on_success: {run} */
};

/* A `KEY: value` pair of `env:`; value may hold `${{ }}`. */
struct dag_env {
    char *name;         /* variable name, [A-Za-z_][A-Za-z0-9_]* */
    char *value;        /* template text, rendered in plain mode */
    struct dag_pos pos; /* the value's position */
};

/* One axis of a matrix: a name and its values (scalars). */
struct dag_axis {
    char *name;         /* as used in matrix.<name> */
    cJSON *values;      /* a JSON array of strings, numbers or bools; NULL
                           for an axis mapped at run time (step map_*) */
    struct dag_pos pos; /* the axis key's position */
};

/* A hook: a command run as a step of its own, or a webhook. */
struct dag_hook {
    char *run;              /* shell command, or NULL */
    char *webhook;          /* http(s) URL to POST the run's summary to, or
                               NULL (parsed; not delivered yet) */
    struct dag_pos pos;     /* where the hook is written */
    struct dag_pos run_pos; /* position of the run: value */
};

struct dag_trigger {
    enum dag_trigger_kind kind; /* which of the kinds below */
    char *key;          /* stable identity: `id:` or "<kind>:<target>" */
    char *target;       /* cron text, event name, metric name, glob, hook */
    struct dag_pos pos; /* the trigger's first key */
    /* cron */
    struct cron_expr cron; /* parsed target */
    bool catchup;          /* a run for every slot missed while down */
    int64_t jitter_ms;     /* random delay up to this, 0 for none */
    /* event, webhook */
    char *when;       /* filter expression, or NULL */
    char *accumulate; /* expression summed over matching events, or NULL */
    double threshold; /* fire once the sum reaches this */
    char *secret_env; /* webhook: variable holding the signing secret */
    int max_body;     /* webhook: largest body accepted, bytes */
    /* metric */
    bool has_below;  /* below is set */
    double below;    /* fire when value < below */
    bool has_above;  /* above is set */
    double above;    /* fire when value > above */
    int for_samples; /* consecutive samples past the line, >= 1 */
    cJSON *labels;   /* object of label matchers, or NULL */
    /* file */
    int64_t stable_ms; /* how long a file must stay unchanged */
    /* after (target: the upstream DAG's id); data (target: the dataset) */
    enum dag_after_state after_state; /* which end of the upstream fires */
    /* every kind */
    bool has_priority;          /* priority was given */
    enum dag_priority priority; /* priority of the runs it starts */
    cJSON *params;              /* object of param overrides, or NULL */
};

/*
 * Who may decide an approval (`approvers:` of a gate, of an environment's
 * approve_before gates, or of an artifact's promotions): names (a token's
 * or a signed-in user's) or groups (of a signed-in user), any one of which
 * the decider must match. None (n 0): anyone the route lets in.
 */
struct dag_approvers {
    char **names;       /* names and groups, each non-empty, no repeats */
    size_t n;           /* entries in names; 0 when not given */
    struct dag_pos pos; /* the approvers: value; line 0 when absent */
};

/* An environment a run can target (dev, staging, prod, ...). */
struct dag_environment {
    char *name;            /* its id */
    cJSON *params;         /* object of param overrides, or NULL */
    char *queue;           /* queue every step of a run here goes to, or NULL */
    char **approve_before; /* steps that need an approval in this env */
    size_t n_approve_before;        /* entries in approve_before */
    struct dag_approvers approvers; /* who may decide those gates */
    bool self_approve;  /* who started the run may approve them too */
    struct dag_pos pos; /* the environment's key */
};

/* Which environments' versions may be promoted to a stage. */
struct dag_promote_from {
    char *stage;   /* dev, staging, prod or archived */
    char **envs;   /* environment names the DAG declares */
    size_t n_envs; /* entries in envs */
};

/* What a DAG says of an artifact it produces (`artifacts:`). */
struct dag_artifact {
    char *name;        /* the artifact name, as in artifact.name outputs */
    int max_prod;      /* versions in prod at once, >= 1 */
    bool self_approve; /* who asks for a promotion may approve it too */
    struct dag_approvers approvers;        /* who may decide a promotion */
    struct dag_promote_from *promote_from; /* per stage, or NULL: any */
    size_t n_promote_from;                 /* entries in promote_from */
    struct dag_pos pos;                    /* the name's key */
};

/* `deadline:` (docs/dag-format.md, "Run timeouts and deadlines"). */
struct dag_deadline {
    int64_t finish_within_ms; /* from the run's logical time (else its
                                 creation); 0 for none */
    bool has_succeed_by;      /* succeed_by is set */
    int succeed_by_min;       /* minute of the day (HH*60+MM) in the DAG's
                                 zone the run must have succeeded by */
    bool cancel;              /* cancel a run that misses it */
    struct dag_pos pos;       /* the deadline: key; line 0 when absent */
};

struct dag_step {
    char *id;           /* [a-z0-9][a-z0-9_-]{0,63} */
    struct dag_pos pos; /* the step's `id:` value */
    char *run;          /* shell command template; NULL for an approval gate */
    struct dag_pos run_pos;  /* position of run: value */
    struct dag_env *env;     /* environment additions */
    size_t n_env;            /* entries in env */
    char *workdir;           /* folder to run in, relative to the DAG file */
    char **needs;            /* upstream step ids */
    size_t n_needs;          /* entries in needs */
    size_t *needs_idx;       /* needs[i] as an index into dag.steps */
    struct dag_axis *matrix; /* axes; NULL when not a matrix step */
    size_t n_matrix;         /* axes in matrix */
    size_t n_cells;          /* product of the axis lengths; 1 if no matrix */
    char *queue;             /* queue name ("default" unless set) */
    int retries;             /* extra tries after the first */
    int64_t retry_delay_ms;  /* delay before the first retry */
    double retry_backoff;    /* delay multiplier per try, >= 1 */
    int64_t max_retry_delay_ms;         /* cap on the delay; 0 for none */
    int64_t timeout_ms;                 /* per attempt; 0 for none */
    int *retry_on_exit;                 /* only these exit codes are retried */
    size_t n_retry_on_exit;             /* entries; 0 means every failure */
    int *no_retry_on_exit;              /* these exit codes are never retried */
    size_t n_no_retry_on_exit;          /* entries in no_retry_on_exit */
    enum dag_trigger_rule trigger_rule; /* when it may start */
    char *if_expr;                      /* condition, or NULL */
    struct dag_pos if_pos;              /* position of the if: value */
    bool approval;                      /* an approval gate */
    char *approval_message; /* template shown to the approver, or NULL */
    struct dag_approvers approvers; /* gate: who may decide it */
    bool self_approve;       /* gate: who started the run may approve it too */
    size_t *upstream;        /* every transitive upstream, as indexes */
    size_t n_upstream;       /* entries in upstream */
    enum dag_hook_kind hook; /* the hook this step runs, or DAG_HOOK_NONE */
    char *map_step;          /* mapped: the upstream giving its cells */
    char *map_output;        /* mapped: that upstream's output (a list) */
    struct dag_pos map_pos;  /* mapped: where the expression is */
    bool cache;              /* a success is reused (`cache:`) */
    char *cache_key;         /* `cache: {key}` template, or NULL: the
                                default key (docs "Step caching") */
    int64_t cache_ttl_ms;    /* how long a cached success is reused */
    char *pool;              /* the pool its attempts take slots of, or NULL */
    int pool_slots;          /* slots each attempt holds there, >= 1 */
    struct dag_pos pool_pos; /* the pool: value (the step's or defaults') */
    struct dag_pos pool_slots_pos; /* the pool_slots: value, or pool_pos */
};

struct dag {
    char *id;          /* [a-z0-9][a-z0-9_-]{0,63} */
    bool id_given;     /* id came from a `dag:` key, not the file name */
    char *description; /* free text, or NULL */
    char **tags;       /* free-form tags */
    size_t n_tags;     /* entries in tags */
    cJSON *params;     /* object: param name -> default value */
    char *timezone;    /* IANA zone name of every cron ("UTC" default) */
    struct dag_trigger *triggers; /* `schedule:` comes first, then triggers */
    size_t n_triggers;            /* entries in triggers */
    int64_t cooldown_ms;          /* least time between triggered runs */
    int max_runs_per_day;         /* 0 for no cap */
    int max_active_runs;          /* runs at once; 0 for no limit */
    int concurrency;              /* tasks at once; 0 for no limit */
    enum dag_priority priority;   /* default run priority */
    char *environment;            /* default environment, or NULL */
    struct dag_environment *environments; /* declared environments */
    size_t n_environments;                /* entries in environments */
    struct dag_artifact *artifacts;       /* declared artifacts */
    size_t n_artifacts;                   /* entries in artifacts */
    struct dag_hook on_failure;           /* hook, fields NULL when absent */
    struct dag_hook on_success;           /* hook, fields NULL when absent */
    int64_t run_timeout_ms;               /* bounds the whole run; 0: none */
    struct dag_deadline deadline;         /* when the run is late */
    struct dag_step *steps; /* in topological order (stable: ties keep
                               file order); the steps of `run:` hooks
                               last */
    size_t n_steps;         /* entries in steps */
    char *source;           /* the YAML text as loaded */
    size_t source_len;      /* bytes in source */
    char hash[65];          /* SHA-256 of source, lowercase hex */
};

/*
 * Load and validate one DAG document from `text` (len bytes). `name` is
 * used in messages and, through its stem, as the default DAG id (e.g.
 * "dags/hello.yaml" -> "hello"). Every problem found is appended to diags
 * (in source order); the result is 0 with *out a new DAG only when there
 * were none. Returns WEIR_EINVAL when the file has problems (diags says
 * which), WEIR_ENOMEM when memory ran out.
 */
WEIR_MUSTCHECK int dag_load(const char *name, const char *text, size_t len,
                            struct dag **out, struct dag_diags *diags);

/*
 * Read and load the file at path. A file that cannot be read or is over
 * DAG_MAX_FILE_BYTES is one diagnostic at 0:0 and WEIR_EIO/WEIR_ETOOBIG.
 */
WEIR_MUSTCHECK int dag_load_file(const char *path, struct dag **out,
                                 struct dag_diags *diags);

/* Free a DAG; dag_free(NULL) is a no-op. */
void dag_free(struct dag *dag);

/* The step with this id, or NULL (borrowed). */
const struct dag_step *dag_step_get(const struct dag *dag, const char *id);

/* Whether step's cells come from an upstream's output at run time (then
 * its one axis has no values and n_cells is 1, its placeholder task). */
bool dag_step_mapped(const struct dag_step *step);

/*
 * Cell `cell` (0 <= cell < step->n_cells) of a matrix step (not mapped) as a
 * new JSON object {axis: value, ...}; the first axis varies slowest. NULL when
 * out of memory. The caller frees it with cJSON_Delete().
 */
cJSON *dag_step_cell(const struct dag_step *step, size_t cell);

/* How many versions of artifact `name` may be in prod at once by what
 * dag says (1 when it does not say). */
int dag_artifact_max_prod(const struct dag *dag, const char *name);

/* What DAG dag (may be NULL) says of artifact `name`, or NULL when it
 * declares nothing of it (borrowed). */
const struct dag_artifact *dag_artifact_find(const struct dag *dag,
                                             const char *name);

/*
 * The first instant at or after `base` (Unix seconds) whose wall-clock
 * time in zone tz_name is minute `minute` of the day (0..1439): the
 * `succeed_by:` instant of a run whose logical time (else creation) is
 * base. A wall time that a spring-forward gap skips maps to the end of
 * the gap; one shown twice in a fall-back overlap, to the earlier. Returns
 * 0 with *out, or the error of tz_load() (err says which).
 */
WEIR_MUSTCHECK int dag_succeed_by_at(const char *tz_name, int64_t base,
                                     int minute, int64_t *out,
                                     struct weir_err *err);

/* Names of the enum values as written in YAML ("high", "none_failed"...). */
const char *dag_priority_name(enum dag_priority p);
const char *dag_trigger_rule_name(enum dag_trigger_rule r);
const char *dag_trigger_kind_name(enum dag_trigger_kind k);
/* "success", "failed" or "any". */
const char *dag_after_state_name(enum dag_after_state s);
/* "on_failure", "on_success", or NULL for DAG_HOOK_NONE. */
const char *dag_hook_name(enum dag_hook_kind h);

/* Empty diags, ready for use. */
void dag_diags_init(struct dag_diags *d);
/* Free the diagnostics and leave d empty. */
void dag_diags_cleanup(struct dag_diags *d);
/* Append a diagnostic (dropped, with truncated set, past DAG_MAX_DIAGS). */
void dag_diags_add(struct dag_diags *d, struct dag_pos pos, const char *fmt,
                   ...) WEIR_PRINTF(3, 4);

/*
 * Print every diagnostic as "file:line:col: message" lines to f.
 */
void dag_diags_print(const struct dag_diags *d, const char *file, FILE *f);

/*
 * The normalized DAG as JSON (defaults applied, steps in topological
 * order, matrix cells expanded), as `weir dag show` prints it. NULL when
 * out of memory; the caller frees it with cJSON_Delete().
 */
cJSON *dag_to_json(const struct dag *dag);

#endif
