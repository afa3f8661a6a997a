/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared inside the DAG loader only (dag.c, dag_load*.c, dag_check.c): the
 * arena that owns a DAG's memory, the loading context with what the tree
 * walk leaves for the cross-checks, and small helpers for messages.
 *
 * Loading runs in two phases. The tree walk (dag_load.c, dag_load_trig.c,
 * dag_load_steps.c, with the typed reads of dag_walk.c) checks every key,
 * fills struct dag, parses expressions and records every name they use.
 * The cross-checks (dag_check.c) then resolve step ids, find cycles, order
 * the steps and check the recorded names. Every problem becomes one
 * diagnostic; the walk goes on, so that one load reports them all.
 */
#ifndef WEIR_DAG_INTERNAL_H
#define WEIR_DAG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dag.h"
#include "ynode.h"

/* A bump allocator: many allocations, one free. Memory comes zeroed. */
struct arena_chunk;
struct arena {
    struct arena_chunk *head; /* newest chunk, linked to older ones */
};

/* A DAG and the arena that holds all of its memory but the cJSON values. */
struct dag_box {
    struct dag dag;     /* what callers see; first, so the box is the dag */
    struct arena arena; /* every string and array of dag */
};

/* Where a name in an expression or template is used. */
enum dag_scope {
    DAG_SCOPE_STEP,   /* a step's run, env, workdir, if or approval */
    DAG_SCOPE_EVENT,  /* when/accumulate of an event or webhook trigger */
    DAG_SCOPE_METRIC, /* a metric trigger */
    DAG_SCOPE_HOOK,   /* on_failure / on_success (step: 0 or 1) until the
                         hook's step is added; then DAG_SCOPE_STEP */
    DAG_SCOPE_AFTER,  /* when of an after trigger: the upstream run */
};

/* One name used by an expression or template, checked after the walk. */
struct dag_ref {
    const char *name;         /* dotted name, in the arena */
    const struct ynode *node; /* the scalar it is written in */
    int offset;               /* its byte offset in the scalar's text */
    enum dag_scope scope;     /* what it may refer to */
    size_t step;              /* DAG_SCOPE_STEP: file index of the step */
};

/* What the walk keeps about a step for the cross-checks. */
struct dag_step_aux {
    struct dag_pos *needs_pos; /* position of each needs entry */
};

/* What the walk keeps about an environment for the cross-checks. */
struct dag_env_aux {
    struct dag_pos *approve_pos; /* position of each approve_before entry */
};

/* What `defaults:` sets for every step; the built-in defaults otherwise. */
struct dag_defaults {
    char *queue;                /* "default" unless set */
    int retries;                /* 0 unless set */
    int64_t retry_delay_ms;     /* 10 s unless set */
    double retry_backoff;       /* 1.0 unless set */
    int64_t max_retry_delay_ms; /* 0 (none) unless set */
    int64_t timeout_ms;         /* 0 (none) unless set */
    enum dag_trigger_rule rule; /* all_success unless set */
    bool cache;                 /* `cache:` on; false unless set */
    char *cache_key;            /* its key template, or NULL */
    const struct ynode *ckey;   /* the key template's node, or NULL */
    int64_t cache_ttl_ms;       /* its ttl (DAG_CACHE_TTL_MS unless set) */
    char *pool;                 /* NULL unless set */
    int pool_slots;             /* 1 unless set */
    struct dag_pos pool_pos;    /* where pool was set */
    struct dag_pos slots_pos;   /* where pool_slots was set, or pool_pos */
};

/* The state of one dag_load() call. */
struct dag_ctx {
    struct dag *dag;              /* being built */
    struct arena *arena;          /* dag's arena */
    struct dag_diags *diags;      /* where problems go */
    size_t n_found;               /* problems found by this load */
    bool nomem;                   /* an allocation failed: give up, ENOMEM */
    const char *src;              /* the source text */
    size_t src_len;               /* bytes in src */
    size_t *line_start;           /* byte offset of each line, made on demand */
    size_t n_lines;               /* entries in line_start */
    long suggest_budget;          /* edit-distance cells left for suggestions */
    struct dag_step_aux *aux;     /* per step, in file order */
    struct dag_env_aux *env_aux;  /* per environment */
    struct dag_defaults defaults; /* what steps inherit */
    const char **params;          /* declared param names, sorted */
    size_t n_params;              /* entries in params */
    struct dag_ref *refs;         /* names used by expressions (malloc) */
    size_t n_refs;                /* entries in refs */
    size_t cap_refs;              /* slots in refs */
    char qring[6][128];           /* buffers for dag_q() */
    unsigned qnext;               /* next buffer of qring */
};

/* The arena (dag.c). An allocation that fails sets c->nomem and returns
 * NULL; arena_alloc and arena_array memory is zeroed. */
void *arena_alloc(struct dag_ctx *c, size_t size);
void *arena_array(struct dag_ctx *c, size_t n, size_t size);
char *arena_strndup(struct dag_ctx *c, const char *s, size_t len);
void arena_cleanup(struct arena *a);

/*
 * Messages and names (dag.c). dag_error() records one problem of this load.
 * dag_q() escapes and shortens a value for a message, dag_got() says what a
 * node is ("a list", "\"three\"", "42"), dag_mean() makes the " (did you mean
 * ...)" tail of dag_suggest()'s pick; all three return buffers of c->qring
 * that live for the next few calls only. dag_pos_in() is the position of
 * byte `off` of a scalar's text.
 */
void dag_error(struct dag_ctx *c, struct dag_pos pos, const char *fmt, ...)
    WEIR_PRINTF(3, 4);
const char *dag_q(struct dag_ctx *c, const char *s);
const char *dag_got(struct dag_ctx *c, const struct ynode *n);
const char *dag_suggest(struct dag_ctx *c, const char *word,
                        const char *const *cands, size_t n);
const char *dag_mean(struct dag_ctx *c, const char *best);
bool dag_is_null(const struct ynode *n);
struct dag_pos dag_npos(const struct ynode *n);
struct dag_pos dag_pos_in(struct dag_ctx *c, const struct ynode *n, int off);
bool dag_id_valid(const char *s, size_t len);
bool dag_name_valid(const char *s, size_t len);
void dag_add_ref(struct dag_ctx *c, const char *name, const struct ynode *node,
                 int offset, enum dag_scope scope, size_t step);

/* The walk, by part of the document (dag_load*.c). */
void dag_build(struct dag_ctx *c, const struct ynode *root, const char *name);
void dag_build_triggers(struct dag_ctx *c, const struct ynode *sched_key,
                        const struct ynode *sched, const struct ynode *list);
void dag_build_steps(struct dag_ctx *c, const struct ynode *key,
                     const struct ynode *steps);
void dag_build_deadline(struct dag_ctx *c, const struct ynode *run_timeout,
                        const struct ynode *deadline);

/*
 * Typed reads of the walk (dag_walk.c). dag_walk_map() matches the keys of
 * `map` against names[0..n): unknown keys (with a suggestion among the names
 * whose bit is set in `suggest`) and repeated keys are reported, the others
 * land in k by index. Each dag_get_*() reads n as the value of `key`: on
 * success it stores the value and returns true, otherwise it reports the
 * problem at n and returns false. dag_load_expr() and dag_load_tmpl() parse
 * an expression or a template and record the names it uses.
 */
#define DAG_MAX_KEYS 24
struct dag_keys {
    const struct ynode *key[DAG_MAX_KEYS]; /* key node of each known key */
    const struct ynode *val[DAG_MAX_KEYS]; /* its value, NULL if absent */
};
void dag_walk_map(struct dag_ctx *c, const struct ynode *map,
                  const char *const *names, size_t n, uint32_t suggest,
                  const char *where, struct dag_keys *k);
void dag_check_map_dups(struct dag_ctx *c, const struct ynode *map, bool deep);
int dag_str_ptr_cmp(const void *a, const void *b);
bool dag_is_param(const struct dag_ctx *c, const char *name);
cJSON *dag_param_overrides(struct dag_ctx *c, const struct ynode *map,
                           const char *where);
bool dag_get_str(struct dag_ctx *c, const char *key, const struct ynode *n,
                 char **out);
bool dag_get_int(struct dag_ctx *c, const char *key, const struct ynode *n,
                 long long min, long long max, int *out);
bool dag_get_num(struct dag_ctx *c, const char *key, const struct ynode *n,
                 double lo, bool lo_open, double hi, double *out);
bool dag_get_bool(struct dag_ctx *c, const char *key, const struct ynode *n,
                  bool *out);
bool dag_get_dur(struct dag_ctx *c, const char *key, const struct ynode *n,
                 int64_t *out);
bool dag_get_enum(struct dag_ctx *c, const char *key, const struct ynode *n,
                  const char *const *names, size_t count, int *out);
/* `pool:` and `pool_slots:` (dag_load_pools.c): n_pool and n_slots are
 * the values given (NULL: not given), label how messages name the owner
 * ("step \"train\"", "defaults"). What was given is set; pool_slots
 * without a pool (given here or inherited in *pool) is an error. */
void dag_load_pool(struct dag_ctx *c, const char *label,
                   const struct ynode *n_pool, const struct ynode *n_slots,
                   char **pool, int *slots, struct dag_pos *pool_pos,
                   struct dag_pos *slots_pos);
bool dag_get_queue(struct dag_ctx *c, const char *key, const struct ynode *n,
                   char **out);
void dag_load_expr(struct dag_ctx *c, const char *key, const struct ynode *n,
                   enum dag_scope scope, size_t step);
void dag_load_tmpl(struct dag_ctx *c, const char *key, const struct ynode *n,
                   enum dag_scope scope, size_t step);

/* `approvers:` (dag_load_approvers.c): the list n into *out; `where`
 * says whose it is in messages ("in the approval of step \"ship\""). */
void dag_load_approvers(struct dag_ctx *c, const char *where,
                        const struct ynode *n, struct dag_approvers *out);

/* `cache:` of defaults and of a step (dag_load_cache.c). */
void dag_load_defaults_cache(struct dag_ctx *c, const struct ynode *n);
void dag_load_step_cache(struct dag_ctx *c, struct dag_step *s, size_t i,
                         const char *label, const struct ynode *key,
                         const struct ynode *n);

/* names of the enum values, in enum order (dag.c) */
extern const char *const dag_priority_names[4];
extern const char *const dag_rule_names[5];

/*
 * After and data triggers (dag_load_after.c). dag_load_after() reads the
 * value of `after:` (a DAG id, or {dag, state}) into t; dag_load_data()
 * reads the dataset name of `data:`; dag_check_after_ref() checks a name
 * of an after trigger's `when:` (the upstream run's fields).
 */
void dag_load_after(struct dag_ctx *c, struct dag_trigger *t,
                    const struct ynode *n);
void dag_load_data(struct dag_ctx *c, struct dag_trigger *t,
                   const struct ynode *n);
void dag_check_after_ref(struct dag_ctx *c, const struct dag_ref *r);

/* the cross-checks (dag_check.c) */
void dag_check(struct dag_ctx *c);

/*
 * Mapped steps (dag_load_map.c). dag_map_is_expr() says whether v is a
 * "${{ }}" scalar; dag_load_map() reads `map:` (key, value v) into step s
 * of file index i; dag_load_map_matrix() reads matrix m when one of its
 * axes is such an expression (true: m was handled, problems reported);
 * dag_check_maps() runs after dag_check().
 */
bool dag_map_is_expr(const struct ynode *v);
void dag_load_map(struct dag_ctx *c, struct dag_step *s, size_t i,
                  const struct ynode *key, const struct ynode *v);
bool dag_load_map_matrix(struct dag_ctx *c, struct dag_step *s, size_t i,
                         const struct ynode *key, const struct ynode *m);
void dag_check_maps(struct dag_ctx *c);

#endif
