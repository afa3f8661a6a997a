/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Preparing what a step sees (docs/dag-format.md, "What a step sees"): a
 * private folder with the step's input files, and the clean environment
 * it runs with; after the run, its outputs; then removing the folder.
 *
 * The attempt description is one element of the server's lease answer, a
 * JSON object with these fields (ids are strings, or integers kept as
 * their decimal text):
 *
 *   attempt_id     id, required       the attempt; used in the URLs about it
 *   lease_id       id, required       fencing token sent with every call
 *   run_id         id, required       WEIR_RUN_ID
 *   dag            string, required   WEIR_DAG
 *   step           string, required   WEIR_STEP
 *   try            integer >= 1, req. WEIR_TRY (1 for the first try)
 *   command        string, required   the rendered `run:`, for /bin/sh -c
 *   logical_time   string or null     WEIR_LOGICAL_TIME (ISO-8601); "" when
 *                                     null or absent
 *   environment    string or null     WEIR_ENV; "" when null or absent
 *   dag_path       string or null     the DAG file, relative to the
 *                                     worker's DAG folder (or absolute);
 *                                     null or absent for a DAG without a
 *                                     file
 *   workdir        string or null     where the command runs: absolute, or
 *                                     relative to the DAG file's folder
 *                                     (the DAG folder when there is no
 *                                     dag_path); null, absent or "": that
 *                                     folder itself
 *   env            object             extra variables, already rendered;
 *                                     names [A-Za-z_][A-Za-z0-9_]*, not
 *                                     starting with WEIR_
 *   params         object             WEIR_PARAM_<NAME> for each member
 *   matrix         object or null     WEIR_MATRIX_<KEY> for each member
 *   inputs         any JSON           written to $WEIR_INPUTS; {} if absent
 *   trigger        any JSON           written to $WEIR_TRIGGER; {} if absent
 *   timeout_ms     integer >= 0/null  0, null or absent: no timeout
 *   kill_grace_ms  integer >= 0/null  SIGTERM to SIGKILL; absent or null:
 *                                     ATTEMPT_KILL_GRACE_MS
 *
 * Unknown fields (task_id, cell, dag_hash, ...) are ignored.
 *
 * Environment. Only PATH, HOME and LANG are kept from the worker's own
 * environment (PATH is ATTEMPT_DEFAULT_PATH when the worker has none).
 * LC_ALL and the other LC_* are not kept: LC_ALL overrides LANG, so a
 * worker's LC_ALL would silently defeat a step that sets LANG in its env:;
 * a step that wants LC_ALL sets it there. Then come the step's env (which
 * may replace PATH, HOME or LANG), then the WEIR_* variables. Values of
 * env, params and matrix are written as text: strings as they are, numbers
 * in their shortest form (3, 0.1), booleans as true/false, null as "", and
 * arrays and objects as compact JSON. Param and matrix names must be
 * [A-Za-z_][A-Za-z0-9_]* and are upper-cased; two names that differ only
 * in case are an error, as they would be the same variable.
 *
 * The folder is made with mkdtemp() under the scratch folder, mode 0700,
 * and holds inputs.json, trigger.json and an empty file `outputs`
 * ($WEIR_OUTPUTS), all mode 0600. A worker may make such folders ahead
 * (attempt_dir_premake(), with the three files empty) and prepare an
 * attempt in one (attempt_prepare_in()): creating a folder and files
 * costs far more than writing files that exist on some file systems
 * (ext4 with many recently deleted inodes: a millisecond), and ahead of
 * time it is off the path from a lease to the step's start.
 */
#ifndef WEIR_ATTEMPT_H
#define WEIR_ATTEMPT_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "err.h"
#include "executor.h"

/* The grace from SIGTERM to SIGKILL when the lease names none. */
#define ATTEMPT_KILL_GRACE_MS 10000

/* PATH for steps when the worker itself has none. */
#define ATTEMPT_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

/* One leased attempt, ready to run. Every string is owned by the struct. */
struct attempt {
    char *attempt_id;       /* the server's id of the attempt */
    char *lease_id;         /* fencing token for heartbeats, logs, complete */
    char *run_id;           /* the run it belongs to */
    char *dag;              /* the DAG's id */
    char *step;             /* the step's id */
    int try_number;         /* 1 for the first try */
    char *logical_time;     /* the run's logical time, or "" */
    char *environment;      /* the run's environment, or "" */
    char *command;          /* shell text for /bin/sh -c */
    char *workdir;          /* absolute working directory */
    uint64_t timeout_ms;    /* 0: none */
    uint64_t kill_grace_ms; /* from SIGTERM to SIGKILL */
    char *dir;              /* the private folder; NULL once removed */
    char *inputs_path;      /* dir/inputs.json, $WEIR_INPUTS */
    char *trigger_path;     /* dir/trigger.json, $WEIR_TRIGGER */
    char *outputs_path;     /* dir/outputs, $WEIR_OUTPUTS */
    char **env;             /* NULL-terminated "NAME=VALUE" list */
    size_t n_env;           /* entries in env before the NULL */
};

/*
 * Check the attempt description `lease` (see above), make its private
 * folder under scratch_dir and write the files into it, and build its
 * environment. dags_dir is the worker's DAG folder, which a relative
 * workdir is resolved against; the workdir must be an existing folder. On
 * success *out is a new attempt for attempt_free(). On failure returns a
 * negative WEIR_E* code (WEIR_EINVAL or WEIR_ETYPE for a bad field,
 * WEIR_ENOTFOUND for a missing workdir, WEIR_EIO for the files) with err
 * filled; nothing is left on disk and *out is untouched.
 */
WEIR_MUSTCHECK int attempt_prepare(const cJSON *lease, const char *dags_dir,
                                   const char *scratch_dir,
                                   struct attempt **out, struct weir_err *err);

/*
 * attempt_prepare() in ready (taken, may be NULL), a folder made by
 * attempt_dir_premake() that no attempt used: its files are written
 * instead of a new folder made. When ready cannot be used (it was removed
 * meanwhile) a new folder is made; on failure ready is removed too.
 */
WEIR_MUSTCHECK int attempt_prepare_in(const cJSON *lease, const char *dags_dir,
                                      const char *scratch_dir, char *ready,
                                      struct attempt **out,
                                      struct weir_err *err);

/*
 * Make a folder under scratch_dir as attempt_prepare() would, with its
 * three files empty, for a later attempt_prepare_in(). *dir gets its
 * path (for free()). Safe from any thread.
 */
WEIR_MUSTCHECK int attempt_dir_premake(const char *scratch_dir, char **dir,
                                       struct weir_err *err);

/*
 * Detach the attempt's folder: the caller removes it (fsutil_tree_remove(),
 * from any thread) and frees the path. NULL when it has none.
 */
char *attempt_dir_take(struct attempt *a);

/*
 * Fill spec to run the attempt: command, workdir, environment, timeout and
 * grace. The strings are borrowed from a, which must outlive exec_start().
 * linger_ms is left 0 (the executor's default).
 */
void attempt_exec_spec(const struct attempt *a, struct exec_spec *spec);

/*
 * Read and parse the outputs file after the run (see outputs.h). On
 * success *out is a new cJSON object of strings the caller frees with
 * cJSON_Delete(). A failure (a malformed line, a limit) is returned with
 * err naming the line; the attempt's exit code stands on its own and the
 * error goes with it to the server.
 */
WEIR_MUSTCHECK int attempt_outputs_read(const struct attempt *a, cJSON **out,
                                        struct weir_err *err);
/* attempt_outputs_read() quoting lines masked with m (outputs.h). */
struct mask;
WEIR_MUSTCHECK int attempt_outputs_read_masked(const struct attempt *a,
                                               const struct mask *m,
                                               cJSON **out,
                                               struct weir_err *err);

/*
 * Remove the private folder and everything the step left in it, without
 * following symbolic links out of it (see fsutil_tree_remove()). On
 * success a->dir becomes NULL. Returns 0 or WEIR_EIO/WEIR_ETOOBIG with err
 * filled; calling it again retries.
 */
WEIR_MUSTCHECK int attempt_dir_remove(struct attempt *a, struct weir_err *err);

/*
 * Free the attempt, first removing its folder if attempt_dir_remove() has
 * not (failures there are ignored: call attempt_dir_remove() to see
 * them). attempt_free(NULL) is a no-op.
 */
void attempt_free(struct attempt *a);

#endif
