/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The statements of the approval policy (migration 0027): who started a
 * run by hand and who retried it last, recorded in the transaction that
 * does it and read when one of its gates is decided (engine/approvals.c).
 */
#ifndef WEIR_STORE_APPROVALS_H
#define WEIR_STORE_APPROVALS_H

#include <stdint.h>

#include "err.h"
#include "store/pool.h"

#define STORE_BY_MAX 256 /* bytes of a name, NUL included */

/* Who started a run and who retried it last ("" for no one). */
struct store_run_starters {
    char started_by[STORE_BY_MAX]; /* manual trigger, or the backfill's
                                      creator; "" when no person */
    char retried_by[STORE_BY_MAX]; /* the last retry's, or "" */
};

/* Record `by` as who started run_id (a manual trigger). */
WEIR_MUSTCHECK int store_run_started_by_set(struct store_conn *c,
                                            int64_t run_id, const char *by,
                                            struct weir_err *err);

/* Record `by` as who retried run_id last. */
WEIR_MUSTCHECK int store_run_retried_by_set(struct store_conn *c,
                                            int64_t run_id, const char *by,
                                            struct weir_err *err);

/* Who started and retried run_id into *out; WEIR_ENOTFOUND for no run. */
WEIR_MUSTCHECK int store_run_starters(struct store_conn *c, int64_t run_id,
                                      struct store_run_starters *out,
                                      struct weir_err *err);

#endif
