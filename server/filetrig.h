/* SPDX-License-Identifier: Apache-2.0 */
/*
 * File triggers: `file: GLOB` fires for a new or changed file once it has
 * stopped changing for `stable:`.
 *
 * Design: a timer on the scheduler's loop starts a scan every
 * FILETRIG_POLL_MS, one at a time, in the thread pool. A scan reads the
 * file triggers of every active DAG (paused ones and missing files
 * skipped), expands each glob (a relative one against the DAGs folder)
 * and stats the regular files it names. A file whose size and
 * modification time differ from the last scan starts its stable period
 * again; one unchanged for `stable:` is checked against the database
 * (file_trigger_seen): unless this trigger already acted on that path
 * with that size and time, it fires (guards included), and the file is
 * recorded as seen in the same transaction, whatever the guards decided,
 * so an unchanged file never fires twice, across restarts too. The
 * memory of a scan (paths, sizes, times) belongs to the scan while it
 * runs and to the loop in between; it is only a cache of the disk and the
 * database. Polling is used everywhere: a glob may name folders that do
 * not exist yet, and inotify would need a watch per folder that matches.
 */
#ifndef WEIR_FILETRIG_H
#define WEIR_FILETRIG_H

#include <uv.h>

#include "engine.h"

#define FILETRIG_POLL_MS 500 /* time between two scans */

struct filetrig;

/*
 * Start scanning on loop (the scheduler's) for engine e; root is the DAGs
 * folder (copied). Returns 0 with *out, or WEIR_ENOMEM.
 */
WEIR_MUSTCHECK int filetrig_start(uv_loop_t *loop, struct engine *e,
                                  const char *root, struct filetrig **out,
                                  struct weir_err *err);

/* Stop scanning; the memory is freed once a scan in flight has ended and
 * the timer is closed (the loop must run until then). NULL is a no-op. */
void filetrig_close(struct filetrig *ft);

#endif
