/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Events and webhooks feeding triggers. An accepted event is stored, then
 * offered, in the same transaction, to every event trigger of its name in
 * every DAG's current version: `when:` filters it; a matching event is
 * added to the trigger's pending events with the value of `accumulate:`
 * (1 without it); a trigger without `accumulate:` fires at once, one with
 * it once the pending sum reaches `threshold:`. The firing goes through
 * the shared guards (engine_fire.h); a run made or fed consumes every
 * pending event of the trigger, so the sum starts again from zero. The
 * DAG rows concerned are locked in id order before anything is matched,
 * so two requests never see half of each other's sums.
 */
#ifndef WEIR_EVENTS_H
#define WEIR_EVENTS_H

#include <cJSON.h>

#include "engine/engine.h"
#include "store/read.h" /* types; the engine files include store/store.h */

#define EVENT_NAME_MAX             200 /* bytes of an event name */
#define EVENT_ID_MAX               200 /* bytes of a client's event id */
#define EVENT_PAYLOAD_MAX          (1024 * 1024)      /* bytes of a payload */
#define EVENTS_BODY_MAX            (16 * 1024 * 1024) /* bytes of a batch */
#define HOOK_BODY_MAX              DAG_HOOK_BODY_MAX  /* bytes of a delivery */
#define HOOK_TIMESTAMP_TOLERANCE_S 300 /* X-Weir-Timestamp from now, s */
#define HOOK_DELIVERY_KEEP_S       (7 * 86400)  /* delivery ids kept, s */
#define EVENTS_RETENTION_DEFAULT_S (30 * 86400) /* events kept, s */
#define EVENTS_PRUNE_BATCH         10000        /* deleted per statement */
#define EVENTS_PRUNE_ROUNDS        100          /* statements per prune */

/* One event to accept. */
struct event_in {
    const char *ext_id;   /* the client's id, or NULL */
    const char *name;     /* the event's name */
    const cJSON *payload; /* any JSON, or NULL for {} */
    const char *by;       /* the poster (token or user name), or NULL: the
                             runs it starts count as started by it */
    int64_t id;           /* out: the stored event's id */
    bool duplicate;       /* out: ext_id was seen before; nothing applied */
    int runs;             /* out: runs it created or fed */
};

/*
 * Accept n events in one transaction (committed before returning 0) and
 * fire what they complete; the out fields of each are filled. A
 * duplicate id is acknowledged, not applied again. WEIR_EINVAL (err names
 * the field) for a bad name or id.
 */
WEIR_MUSTCHECK int events_accept(struct engine *e, struct event_in *v, size_t n,
                                 struct weir_err *err);

/* A webhook delivery. */
struct hook_in {
    const char *dag_id;    /* {dag} of the path */
    const char *trigger;   /* {trigger}: its id, or the name after webhook: */
    const char *body;      /* the body as received */
    size_t len;            /* bytes in body */
    const char *sig;       /* X-Hub-Signature-256, or NULL */
    const char *timestamp; /* X-Weir-Timestamp (Unix seconds), or NULL */
    const char *delivery;  /* X-Weir-Delivery or X-GitHub-Delivery, or NULL */
    int64_t event_id;      /* out: the stored event (0 for a duplicate) */
    int runs;              /* out: runs it created or fed */
    bool duplicate;        /* out: the delivery id was seen before */
};

/*
 * Accept webhook delivery h. Its signature is checked first, before any
 * row is locked: "sha256=<hex>" HMAC-SHA256 with the secret in the
 * trigger's secret_env variable, of the body, or of "TIMESTAMP.BODY"
 * when h->timestamp is given (then it must be within
 * HOOK_TIMESTAMP_TOLERANCE_S of now), compared in constant time. Any
 * refusal (no such DAG or trigger, no secret, a wrong or stale
 * signature) is the same WEIR_EAUTH, its reason logged. A delivery id
 * seen before for the trigger (within HOOK_DELIVERY_KEEP_S) is
 * acknowledged as a duplicate without a run. Otherwise the body (JSON)
 * is stored as an event named after the trigger and fed to that trigger
 * alone, like events_accept(). WEIR_EPARSE or WEIR_EINVAL for a body
 * that is not JSON, too deep, or not UTF-8.
 */
WEIR_MUSTCHECK int events_webhook(struct engine *e, struct hook_in *h,
                                  struct weir_err *err);

/* A DAG whose current version has triggers a request may feed. */
struct trig_dag {
    char id[STORE_ID_MAX]; /* the DAG */
    const struct dag *d;   /* its current version (a cache reference) */
};

/*
 * Every DAG (current version, file not missing) with a trigger of kind
 * whose target is one of names[0..n), in id order, into a new array *out
 * of *n_out entries, freed with trig_dags_free(). With lock, their rows
 * are locked in that order inside the caller's transaction.
 */
WEIR_MUSTCHECK int trig_dags_find(struct engine *e, struct store_conn *c,
                                  enum dag_trigger_kind kind,
                                  const char *const *names, size_t n, bool lock,
                                  struct trig_dag **out, size_t *n_out,
                                  struct weir_err *err);

/* Drop the references of v and free it; (NULL, 0) is a no-op. */
void trig_dags_free(struct engine *e, struct trig_dag *v, size_t n);

/*
 * Keep events for seconds (> 0). Call it before the server starts its
 * threads; the default is EVENTS_RETENTION_DEFAULT_S.
 */
void events_set_retention(int64_t seconds);

/*
 * Delete the events older than the retention that nothing needs: an
 * event still pending for a trigger, or consumed by a run (whose record
 * lists it), is kept as long as that row exists; a consumed one goes with
 * its run's DAG. At most EVENTS_PRUNE_ROUNDS statements of
 * EVENTS_PRUNE_BATCH each, each its own transaction, so a large backlog
 * is worked off over several calls without long locks. *deleted says how
 * many went. Returns 0 or the store's error.
 */
WEIR_MUSTCHECK int events_prune(struct store *st, int64_t *deleted,
                                struct weir_err *err);

/*
 * The state of every trigger of DAG dag_id's current version, as a new
 * object {triggers: [{id, kind, target, state, next_fire_time,
 * accumulated, threshold, pending_events, cooldown_until, last_fired_at,
 * suppressed}]} in *out. state is armed, waiting_rearm, cooldown, or
 * paused / missing when the DAG fires nothing. WEIR_ENOTFOUND for no such
 * DAG.
 */
WEIR_MUSTCHECK int events_dag_triggers(struct engine *e, const char *dag_id,
                                       cJSON **out, struct weir_err *err);

#endif
