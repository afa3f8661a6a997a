/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The audit log in the engine: the record a mutating request arms (it is
 * appended in the transaction of the change: store/audit.h), the record
 * written apart when a request ends without a committed change, and the
 * retention prune the leader runs with the event prune (jobs/chores.h).
 */
#ifndef WEIR_ENGINE_AUDIT_H
#define WEIR_ENGINE_AUDIT_H

#include <stdint.h>

#include "err.h"
#include "store/audit.h"

struct store;

/* Arm a for the calling thread's request; NULL disarms. a must stay put
 * until disarmed. */
void engine_audit_arm(struct store_audit_armed *a);

/* Append rec in a transaction of its own. 0 or a WEIR_E* code. */
WEIR_MUSTCHECK int engine_audit_append(struct store *s,
                                       const struct store_audit_rec *rec,
                                       struct weir_err *err);

/*
 * The role mapping file path (single sign-on) with SHA-256 digest was
 * loaded: one record "role_map.load" (actor weir-server) when the latest
 * such record names another digest or there is none, so that each change
 * of the mapping, applied at a start, is recorded once, also with several
 * servers. Failures are logged, not returned: they do not stop a start.
 */
void engine_audit_role_map(struct store *s, const char *path,
                           const char *digest);

/* How long rows are kept (--audit-retention), in seconds. */
void engine_audit_set_retention(int64_t seconds);

/* Delete the rows past the retention (one record says how many and up to
 * when), logging the outcome. */
void engine_audit_prune_logged(struct store *s);

#endif
