/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Role grants: what a token or a signed-in user may do, and where.
 *
 * A grant is a role, optionally scoped to environments and to DAG name
 * patterns (and, for the worker role, to queues). Written as text:
 *
 *     ROLE[:env=E,...][:dag=PATTERN,...][:queues=Q,...]
 *
 * e.g. "operator:env=dev,staging:dag=team-a-*". A pattern is a DAG id
 * where "*" stands for any run of characters and "?" for one.
 *
 * Each role gives a fixed set of actions (grant_role_allows()). A grant
 * allows an action on a target (a DAG in an environment) when its role
 * gives the action and its scopes cover the target. A target that is not
 * one DAG (dag NULL: tokens, pools, events) or not one environment (env
 * NULL or "": a DAG-wide change such as a pause, a DAG without
 * environments) is covered only by a grant without that scope: a grant
 * limited to dev covers nothing that reaches beyond dev.
 *
 * Pure: no database, no HTTP.
 */
#ifndef WEIR_GRANT_H
#define WEIR_GRANT_H

#include <stdbool.h>
#include <stddef.h>

#include <cJSON.h>

#include "err.h"

enum grant_role {
    GRANT_ADMIN,    /* every action */
    GRANT_OPERATOR, /* read, trigger, cancel, retry, approve, pause, promote */
    GRANT_AUTHOR,   /* read, submit and delete API DAGs */
    GRANT_READ,     /* read */
    GRANT_INGEST,   /* post events and metrics */
    GRANT_WORKER,   /* the worker protocol */
};
#define GRANT_ROLES 6

enum grant_action {
    GRANT_ACT_READ,    /* see DAGs, runs, logs, artifacts, events */
    GRANT_ACT_TRIGGER, /* start runs and backfills */
    GRANT_ACT_CANCEL,  /* cancel runs and backfills */
    GRANT_ACT_RETRY,   /* retry runs */
    GRANT_ACT_APPROVE, /* approve or reject an approval gate */
    GRANT_ACT_PAUSE,   /* pause and unpause DAGs */
    GRANT_ACT_PROMOTE, /* promote artifact versions, decide promotions */
    GRANT_ACT_SUBMIT,  /* submit DAGs over the API */
    GRANT_ACT_DELETE,  /* delete DAGs submitted over the API */
    GRANT_ACT_INGEST,  /* post events and metrics */
    GRANT_ACT_WORK,    /* register, lease, heartbeat, logs, complete */
    GRANT_ACT_ADMIN,   /* tokens, pools, secrets, the audit log, sessions */
};
#define GRANT_ACTIONS 12

#define GRANT_MAX       16  /* grants of one token or user */
#define GRANT_SCOPE_LEN 512 /* bytes of one scope list, "a,b,c" */
#define GRANT_TEXT_LEN  (16 + 3 * (GRANT_SCOPE_LEN + 8))

struct grant {
    enum grant_role role;
    /* Comma-separated lists; "" means not limited. */
    char envs[GRANT_SCOPE_LEN];   /* environment names */
    char dags[GRANT_SCOPE_LEN];   /* DAG id patterns */
    char queues[GRANT_SCOPE_LEN]; /* worker role only: queue names */
};

struct grant_set {
    size_t n;
    struct grant g[GRANT_MAX];
};

/* "admin", "operator", "author", "read", "ingest", "worker". */
const char *grant_role_name(enum grant_role role);

/* "read", "trigger", "cancel", "retry", "approve", "pause", "promote",
 * "submit", "delete", "ingest", "work", "admin". */
const char *grant_action_name(enum grant_action a);

/* The role named name; WEIR_EINVAL naming the roles (and the closest one)
 * otherwise. */
WEIR_MUSTCHECK int grant_role_parse(const char *name, enum grant_role *out,
                                    struct weir_err *err);

/* Whether role gives action a (scopes aside). */
bool grant_role_allows(enum grant_role role, enum grant_action a);

/*
 * Grant text ("operator:env=dev:dag=team-a-*") into *g. WEIR_EINVAL says
 * what is wrong and where: an unknown role or scope key (with the closest
 * known one), an empty or repeated scope, a name that is not one (env and
 * queue names [A-Za-z0-9_.-], at most 64 bytes; patterns: DAG id
 * characters and * ?), queues on a role other than worker, env or dag on
 * ingest or worker (their calls name no DAG), a list longer than
 * GRANT_SCOPE_LEN.
 */
WEIR_MUSTCHECK int grant_parse(const char *text, struct grant *g,
                               struct weir_err *err);

/*
 * A grant from JSON: grant text, or an object {"role": R, "env": [..],
 * "dag": [..], "queues": [..]} (unknown keys are errors with a "did you
 * mean"). Checked as grant_parse() does.
 */
WEIR_MUSTCHECK int grant_from_json(const cJSON *item, struct grant *g,
                                   struct weir_err *err);

/* g as its canonical text into buf (cut to len; GRANT_TEXT_LEN always
 * fits). */
void grant_format(const struct grant *g, char *buf, size_t len);

/* g as {"role", "env"?, "dag"?, "queues"?} (lists only when limited);
 * NULL when out of memory. */
cJSON *grant_to_json(const struct grant *g);

/* Append g to s; WEIR_EINVAL when s holds GRANT_MAX already. */
WEIR_MUSTCHECK int grant_set_add(struct grant_set *s, const struct grant *g,
                                 struct weir_err *err);

/* A set from a JSON array of grants (grant_from_json() each; an error
 * names the element's index). At least one grant. */
WEIR_MUSTCHECK int grant_set_from_json(const cJSON *arr, struct grant_set *s,
                                       struct weir_err *err);

/* s as a JSON array of grant_to_json(); NULL when out of memory. */
cJSON *grant_set_to_json(const struct grant_set *s);

/* s as a JSON array of grant texts ("operator:env=dev"); NULL when out
 * of memory. */
cJSON *grant_set_texts(const struct grant_set *s);

/* s as grant texts joined by " " into buf ("" for none). */
void grant_set_format(const struct grant_set *s, char *buf, size_t len);

/* Whether g allows a on dag (NULL: no one DAG) in env (NULL or "": no one
 * environment), by the rules at the top. */
bool grant_allows(const struct grant *g, enum grant_action a, const char *dag,
                  const char *env);

/*
 * 0 when some grant of s allows a on dag in env; WEIR_EFORBIDDEN otherwise,
 * err saying what was asked, which roles give it, the scope that would
 * cover it and the grants the caller has.
 */
WEIR_MUSTCHECK int grant_set_allows(const struct grant_set *s,
                                    enum grant_action a, const char *dag,
                                    const char *env, struct weir_err *err);

/* Whether some grant of s gives a somewhere (scopes aside): the check of a
 * route before its target is known, and of a listing before it is
 * filtered. */
bool grant_set_any(const struct grant_set *s, enum grant_action a);

/* Whether a grant of s that gives GRANT_ACT_WORK covers queue (a grant
 * without a queues scope covers every queue). */
bool grant_set_queue(const struct grant_set *s, const char *queue);

/*
 * The scope of a for a listing filtered in SQL: a JSON array with one
 * object per grant of s that gives a, {"env": [names] or null, "dag":
 * [LIKE patterns] or null} (null: not limited; "*" -> "%", "?" -> "_",
 * "%", "_" and "\" escaped with "\"). An empty array when no grant gives
 * a. NULL when out of memory.
 */
cJSON *grant_set_scope_sql(const struct grant_set *s, enum grant_action a);

/* Whether the DAG id pattern pat matches id ("*": any run, "?": one). */
bool grant_pattern_match(const char *pat, const char *id);

#endif
