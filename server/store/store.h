/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The face of store/ for the engine and the jobs: every statement of the
 * server, grouped by table, and the connection pool. Nothing outside
 * store/ sees SQL or libpq. The API reads through store/read.h.
 *
 *   pool.h       the pool, ping, migrations, transactions
 *   dags.h       DAG rows: flags, cap, the row lock of a run creation
 *   versions.h   DAG versions: from a file or the API; deleting a DAG
 *   runs.h       runs
 *   tasks.h      tasks
 *   attempts.h   attempts: the claim, leases, log lines
 *   workers.h    workers
 *   tokens.h     API tokens and what they own
 *   triggers.h   events and trigger state
 *   metrics.h    metric samples and metric trigger state
 *   artifacts.h  artifacts and their promotions, lineage
 *   notify.h     notifications of finished runs
 *   pools.h      pools of slots shared by DAGs, the pooled claim
 *   read.h       the read models of the API
 */
#ifndef WEIR_STORE_H
#define WEIR_STORE_H

#include "store/artifacts.h"
#include "store/attempts.h"
#include "store/dags.h"
#include "store/metrics.h"
#include "store/notify.h"
#include "store/pool.h"
#include "store/pools.h"
#include "store/read.h"
#include "store/runs.h"
#include "store/tasks.h"
#include "store/tokens.h"
#include "store/triggers.h"
#include "store/versions.h"
#include "store/workers.h"

#endif
