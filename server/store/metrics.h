/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The statements of metrics (metrics.c): samples of a time series,
 * their retention, and the hysteresis state of metric triggers. Every
 * function runs inside the caller's transaction, if any.
 */
#ifndef WEIR_STORE_METRICS_H
#define WEIR_STORE_METRICS_H

#include <cJSON.h>

#include "store/pool.h"

/*
 * Store a sample of metric name at time (Unix seconds; NULL for now)
 * with labels (JSON object text).
 */
WEIR_MUSTCHECK int store_metric_insert(struct store_conn *c, const char *name,
                                       const double *time, double value,
                                       const char *labels,
                                       struct weir_err *err);

/* Delete every sample older than retention_s seconds. */
WEIR_MUSTCHECK int store_metric_prune(struct store_conn *c, int64_t retention_s,
                                      struct weir_err *err);

/* The arming of metric trigger key of dag_id (armed with streak 0 when it
 * was never fed). */
WEIR_MUSTCHECK int store_metric_state_get(struct store_conn *c,
                                          const char *dag_id, const char *key,
                                          bool *armed, int *streak,
                                          struct weir_err *err);

/* Write the arming of metric trigger key of dag_id. */
WEIR_MUSTCHECK int store_metric_state_set(struct store_conn *c,
                                          const char *dag_id, const char *key,
                                          bool armed, int streak,
                                          struct weir_err *err);

#endif
