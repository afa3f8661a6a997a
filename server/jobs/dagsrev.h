/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The DAGs folder's git revision, recorded by the leader: after each scan
 * of the folder (jobs/dagdir.c) and each batch of reloads (jobs/watch.c),
 * whose writes are already fenced as the leader's. The row is written
 * only when the revision changed (store/dagsrev.h); every lease of a DAG
 * loaded from the folder carries it as dags_revision.
 */
#ifndef WEIR_JOBS_DAGSREV_H
#define WEIR_JOBS_DAGSREV_H

#include <stdbool.h>

#include "store/store.h"

/* Record the revision root is checked out at (none when it is not a
 * checkout: common/gitrev.h). Returns false, having logged why, when the
 * database could not record it. Blocks: thread pool or chore threads. */
bool dagsrev_record(struct store *store, const char *root);

#endif
