/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The git revision a folder is checked out at, read from git's files
 * alone (nothing is spawned): the `.git` of the folder or of its nearest
 * parent that has one (a directory, or a file `gitdir: PATH` as in
 * worktrees and submodules), its HEAD (a commit id, or `ref: refs/...`
 * resolved through the loose ref file or `packed-refs`; a worktree's
 * branches live in the common folder its `commondir` file names).
 *
 * The server records the revision of its DAGs folder and puts it in each
 * lease (dags_revision); a worker whose --dags-dir is a checkout at
 * another revision refuses the attempt (docs/deploy.md, "Workers and the
 * CLI with several servers"). Refs in the reftable format are not read:
 * such a checkout has no revision here.
 */
#ifndef WEIR_GITREV_H
#define WEIR_GITREV_H

#include <stdbool.h>

#define GITREV_HEX_MAX 64 /* hex digits of a SHA-256 repository's ids */

/*
 * The commit the folder dir is checked out at, into out as lowercase hex
 * (40 digits, or 64 in a SHA-256 repository) and a NUL. Returns true when
 * found; false, with out untouched, when dir is not inside a checkout or
 * what git keeps cannot be read or makes no sense (no revision is not an
 * error). Blocks on a few small file reads.
 */
bool gitrev_get(const char *dir, char out[GITREV_HEX_MAX + 1]);

#endif
