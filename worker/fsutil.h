/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small file-system helpers for the worker's per-attempt folders: write a
 * new private file, read a bounded regular file, and remove a folder tree
 * without ever following a symbolic link out of it.
 */
#ifndef WEIR_FSUTIL_H
#define WEIR_FSUTIL_H

#include <stddef.h>

#include "err.h"

/* How deep fsutil_tree_remove() descends before giving up. */
#define FSUTIL_TREE_MAX_DEPTH 128

/*
 * Create the file `path` (it must not exist; a symbolic link there is not
 * followed) with mode 0600 and write len bytes of data to it. Returns 0, or
 * WEIR_EIO (WEIR_EEXISTS when something is already there) with err filled.
 */
WEIR_MUSTCHECK int fsutil_file_write(const char *path, const char *data,
                                     size_t len, struct weir_err *err);

/*
 * Read the regular file `path` (a symbolic link is refused, and so are
 * FIFOs and devices, which are never opened in a way that could block). On
 * success *out is a new NUL-terminated buffer the caller frees with free()
 * and *len its length without the NUL. A file longer than max bytes is
 * WEIR_ETOOBIG; other failures are WEIR_EIO or WEIR_EINVAL (not a regular
 * file), with err filled and *out untouched.
 */
WEIR_MUSTCHECK int fsutil_file_read(const char *path, size_t max, char **out,
                                    size_t *len, struct weir_err *err);

/*
 * Remove the folder `path` and everything in it. Symbolic links inside are
 * removed, never followed, and every folder is opened relative to its
 * parent, so a link swapped in during the walk cannot lead outside. Folders
 * whose mode forbids listing or removal are given mode 0700 first. Only the
 * last component of path itself is checked for being a link. A missing path
 * is success. Returns 0, or WEIR_EIO (WEIR_ETOOBIG when the tree is deeper
 * than FSUTIL_TREE_MAX_DEPTH) with err naming what could not be removed;
 * what could be removed is gone.
 */
WEIR_MUSTCHECK int fsutil_tree_remove(const char *path, struct weir_err *err);

#endif
