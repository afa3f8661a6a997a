/* SPDX-License-Identifier: Apache-2.0 */
/*
 * File triggers: `file: GLOB` fires for a new or changed file once it has
 * stopped changing for `stable:`.
 *
 * Design: scans run in the thread pool, one at a time, started by a
 * timer on the scheduler's loop. A scan reads the file triggers of every
 * active DAG (paused ones and missing files skipped), expands each glob
 * (a relative one against the DAGs folder) and stats the regular files
 * it names. A file whose size and modification time differ from the last
 * scan starts its stable period again; one unchanged for `stable:` is
 * checked against the database (file_trigger_seen): unless this trigger
 * already acted on that path with that size and time, it fires (guards
 * included), and the file is recorded as seen in the same transaction,
 * whatever the guards decided, so an unchanged file never fires twice,
 * across restarts too. The memory of a scan (paths, sizes, times, the
 * folders to watch) belongs to the scan while it runs and to the loop in
 * between; it is only a cache of the disk and the database.
 *
 * When scans happen: the folder a glob names files in (the part before
 * its last slash, when it has no wildcard) is watched with uv_fs_event
 * (inotify); an event there starts a scan CHORE_FILES_EVENT_MS later, and
 * a file still in its stable period gets a scan when that period ends.
 * A glob with a wildcard before its last slash (inotify is not
 * recursive), a folder that does not exist yet or cannot be watched
 * (inotify limits, logged as event=file_watch_fallback), and a database
 * that does not answer make scans run every CHORE_FILES_POLL_MS, as before
 * the watches; otherwise a scan runs every CHORE_FILES_RESCAN_MS anyway, in
 * case an event was lost, and after every change of the DAGs.
 */
#ifndef WEIR_FILETRIG_H
#define WEIR_FILETRIG_H

#include "jobs/chores.h"

#include <uv.h>

#include "engine/engine.h"

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

/* The DAGs changed (file triggers may have): scan soon. Loop thread only;
 * NULL is a no-op. */
void filetrig_kick(struct filetrig *ft);

#endif
