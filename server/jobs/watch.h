/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The DAGs folder watch, run on the scheduler's libuv loop: a uv_fs_event
 * per folder (inotify is not recursive), so every subfolder has its own,
 * and new subfolders get theirs when they appear. A folder whose
 * uv_fs_event cannot start (inotify limits) is polled every second
 * instead, with uv_fs_poll on the folder and on each of its DAG files;
 * that is logged (event=watch_fallback).
 *
 * Events are debounced per path: a file is reloaded 200 ms after its last
 * event. A folder event (a subfolder created, removed or renamed, or a
 * name that is not a DAG file) asks for a sync: walk the tree, watch new
 * folders, stop watching gone ones, load DAG files not seen before and
 * mark the ones that disappeared. The reloads run in libuv's thread pool,
 * one batch at a time (so a remove and a re-create of one path stay in
 * order); each borrows a pool connection.
 *
 * A file that is gone: its DAG keeps its last version, and its last_error
 * says "<path>: file not found in the DAGs folder" (the text of a folder
 * scan at start). The scheduler creates no cron runs for such a DAG until
 * the file is back.
 */
#ifndef WEIR_WATCH_H
#define WEIR_WATCH_H

#include <stdbool.h>

#include <uv.h>

#include "jobs/dagdir.h"

struct watch;

/* Called on the loop after a batch of reloads that may have changed DAGs. */
typedef void (*watch_changed_cb)(void *arg);

/*
 * Start watching the folder root (already loaded by dagdir_scan(); dd
 * and store, borrowed, must outlive the watch; root is copied) on
 * loop, which must be running in the calling thread or not yet. With
 * force_poll every folder is polled (to test the fallback). changed_cb
 * (arg) runs after each batch. Returns 0 with *out, or WEIR_ENOMEM.
 */
WEIR_MUSTCHECK int watch_start(uv_loop_t *loop, struct dagdir *dd,
                               struct store *store, const char *root,
                               bool force_poll, watch_changed_cb changed_cb,
                               void *arg, struct watch **out,
                               struct weir_err *err);

/*
 * Stop: close every handle; a batch in flight finishes first. The watch
 * frees itself once its last handle is closed, on the loop, which must
 * run until then. watch_close(NULL) is a no-op.
 */
void watch_close(struct watch *w);

#endif
