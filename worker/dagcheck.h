/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The DAG copy check (docs/deploy.md, "Workers and the CLI with several
 * servers"): a worker runs step code from its own --dags-dir, which must
 * hold the revision of the DAG file the server recorded. The lease names
 * the file (dag_path, relative to the DAGs folder) and its content hash
 * (dag_hash: SHA-256 of the file's bytes, as the server computes it when
 * it loads the folder, common/dag.c); the worker hashes its copy the
 * same way and refuses the attempt when the two differ or its copy is
 * missing. A DAG submitted through the API has no file (no dag_path) and
 * is not checked.
 *
 * The files beside a DAG file that its steps use (scripts, SQL) are
 * covered by the folder's git revision: when the lease has dags_revision
 * (the server's DAGs folder is a git checkout) and this worker's
 * --dags-dir is a checkout too (common/gitrev.h), the two revisions must
 * be equal. A --dags-dir that is not a checkout keeps only the file check.
 *
 * Hashes are kept per file with its inode, size and times, so that a
 * file read once is hashed again only when it changes. Loop thread only.
 */
#ifndef WEIR_DAGCHECK_H
#define WEIR_DAGCHECK_H

#include <stddef.h>

#include <cJSON.h>

/*
 * Check the worker's copy, under dags_dir, of the DAG file of the lease's
 * attempt document doc. Returns 0 when it matches or there is nothing to
 * check (no dag_path, or no dag_hash: an API DAG or an older server);
 * -1 when the attempt must not run, with msg (len bytes) naming the
 * file and both hashes, or both git revisions, (short) and what to do.
 */
int dagcheck_lease(const cJSON *doc, const char *dags_dir, char *msg,
                   size_t len);

/* Forget every hash kept (the worker stops). */
void dagcheck_forget(void);

#endif
