/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The rows of the claim statements (store/attempts.c, and the pooled
 * claim of store/pools.c) read the same way: store-internal.
 */
#ifndef WEIR_STORE_CLAIM_ROW_H
#define WEIR_STORE_CLAIM_ROW_H

#include <stdint.h>

#include <libpq-fe.h>

#include "store/attempts.h"

/* Columns 0 to 7 of row i of r into cl (zeroed first: the pool fields are
 * the caller's), and column 8, the rows locked but not taken, into
 * *spare. */
void store_claim_row(const PGresult *r, int i, struct store_claim *cl,
                     int *spare);

/* Log claim cl (row i of r, column 5 its task's state before) for
 * worker_id: the task's change to running and the lease. */
void store_claim_log(const PGresult *r, int i, const struct store_claim *cl,
                     int64_t worker_id);

#endif
