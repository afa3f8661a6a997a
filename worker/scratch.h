/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A worker's own folder under the scratch folder, and the removal of what
 * a worker that died (SIGKILL, a crash) left there.
 *
 * Design. Each worker process makes SCRATCH/weir-worker-XXXXXX (mode 0700)
 * and holds an exclusive flock() on it for as long as it lives; its
 * attempt folders, made ahead or in use, go inside. The kernel drops the
 * lock when the process dies, however it dies. At start a worker sweeps
 * the scratch folder: a weir-worker-* folder it can lock is a dead
 * worker's and is removed with everything in it; one it cannot lock
 * belongs to a live worker (two workers may share a scratch folder) and
 * is left alone. The folder is made under a weir-new-* name, locked, and
 * only then renamed, so a sweep never sees it unlocked. Nothing else in
 * the scratch folder is touched.
 */
#ifndef WEIR_SCRATCH_H
#define WEIR_SCRATCH_H

#include "err.h"

/* One worker's folder: its path and the descriptor that holds the lock. */
struct scratch {
    char *dir;   /* SCRATCH/weir-worker-XXXXXX, owned */
    int lock_fd; /* open on dir with LOCK_EX held, close-on-exec */
};

/*
 * Remove the folders of dead workers under scratch_dir (each logged),
 * then make and lock this worker's own into *s. Returns 0, or a negative
 * WEIR_E* code with err filled (nothing to release then).
 */
WEIR_MUSTCHECK int scratch_claim(const char *scratch_dir, struct scratch *s,
                                 struct weir_err *err);

/*
 * Remove the worker's folder (with whatever is still inside) and drop the
 * lock. s->dir is freed; s may be claimed again.
 */
void scratch_release(struct scratch *s);

#endif
