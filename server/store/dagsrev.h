/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The statement of the DAGs folder's git revision (migration 0022): the
 * one row the leader writes when the revision of its folder changed
 * (jobs/dagsrev.h). Leases read it with their run (store/runs.c).
 */
#ifndef WEIR_STORE_DAGSREV_H
#define WEIR_STORE_DAGSREV_H

#include <stdbool.h>

#include "store/pool.h"

/* Record rev (hex, or NULL: the folder is not a checkout) as the DAGs
 * folder's revision; *changed says whether it differed from the one
 * recorded (nothing is written then). */
WEIR_MUSTCHECK int store_dags_revision_set(struct store_conn *c,
                                           const char *rev, bool *changed,
                                           struct weir_err *err);

#endif
