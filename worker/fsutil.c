/* SPDX-License-Identifier: Apache-2.0 */
/*
 * File helpers for per-attempt folders. Removal walks with openat() and
 * unlinkat() relative to an open folder, with O_NOFOLLOW everywhere, so
 * what a step left behind (links to elsewhere, unreadable folders) is
 * removed without touching anything outside the folder.
 */
#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fsutil_file_write(const char *path, const char *data, size_t len,
                      struct weir_err *err)
{
    int fd =
        open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    size_t done = 0;

    if (fd < 0)
        return weir_err_set(err, errno == EEXIST ? WEIR_EEXISTS : WEIR_EIO,
                            "cannot create \"%s\": %s", path, strerror(errno));
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int saved = errno;

            close(fd);
            return weir_err_set(err, WEIR_EIO, "cannot write \"%s\": %s", path,
                                strerror(saved));
        }
        done += (size_t)n;
    }
    if (close(fd) != 0)
        return weir_err_set(err, WEIR_EIO, "cannot write \"%s\": %s", path,
                            strerror(errno));
    return 0;
}

/* Read until EOF or until more than max bytes came; returns -errno. */
static ssize_t read_all(int fd, char *buf, size_t max)
{
    size_t total = 0;

    while (total <= max) {
        ssize_t n = read(fd, buf + total, max + 1 - total);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        total += (size_t)n;
    }
    return (ssize_t)total;
}

int fsutil_file_read(const char *path, size_t max, char **out, size_t *len,
                     struct weir_err *err)
{
    int fd = -1, rc = 0;
    char *buf = NULL;
    struct stat st;
    ssize_t n;

    /* O_NONBLOCK: opening a FIFO must not wait for a writer */
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        rc = weir_err_set(err, WEIR_EIO, "cannot open \"%s\": %s", path,
                          strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = weir_err_set(err, WEIR_EINVAL, "\"%s\" is not a regular file",
                          path);
        goto out;
    }
    if ((unsigned long long)st.st_size > max) {
        rc = weir_err_set(err, WEIR_ETOOBIG,
                          "\"%s\" is %lld bytes; the limit is %zu", path,
                          (long long)st.st_size, max);
        goto out;
    }
    buf = malloc(max + 2);
    if (buf == NULL) {
        rc = weir_err_set(err, WEIR_ENOMEM, "cannot read \"%s\": out of memory",
                          path);
        goto out;
    }
    n = read_all(fd, buf, max);
    if (n < 0) {
        rc = weir_err_set(err, WEIR_EIO, "cannot read \"%s\": %s", path,
                          strerror((int)-n));
        goto out;
    }
    if ((size_t)n > max) {
        rc = weir_err_set(err, WEIR_ETOOBIG,
                          "\"%s\" is more than %zu bytes (the limit)", path,
                          max);
        goto out;
    }
    buf[n] = '\0';
    *out = buf;
    *len = (size_t)n;
    buf = NULL;
out:
    free(buf);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Remember the first failure of a walk that goes on past failures. */
static void tree_fail(int *rc, struct weir_err *err, int code, const char *what,
                      const char *name, int errnum)
{
    if (*rc != 0)
        return;
    *rc = weir_err_set(err, code, "cannot %s \"%s\": %s", what, name,
                       strerror(errnum));
}

/*
 * Open the folder `name` in parent without following a link, giving it
 * mode 0700 first when its mode keeps us from listing it.
 */
static int tree_open(int parent, const char *name)
{
    int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    int fd = openat(parent, name, flags);

    if (fd < 0 && errno == EACCES &&
        fchmodat(parent, name, 0700, AT_SYMLINK_NOFOLLOW) == 0)
        fd = openat(parent, name, flags);
    return fd;
}

static bool entry_is_dir(int dfd, const struct dirent *ent)
{
    struct stat st;

    if (ent->d_type != DT_UNKNOWN)
        return ent->d_type == DT_DIR;
    return fstatat(dfd, ent->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
           S_ISDIR(st.st_mode);
}

static void tree_remove_at(int parent, const char *name, int depth, int *rc,
                           struct weir_err *err);

/* Remove every entry of the open folder d. */
static void tree_empty(DIR *d, const char *name, int depth, int *rc,
                       struct weir_err *err)
{
    int dfd = dirfd(d);

    for (;;) {
        struct dirent *ent;

        errno = 0;
        ent = readdir(d);
        if (ent == NULL)
            break;
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
            continue;
        if (entry_is_dir(dfd, ent))
            tree_remove_at(dfd, ent->d_name, depth + 1, rc, err);
        else if (unlinkat(dfd, ent->d_name, 0) != 0 && errno != ENOENT)
            tree_fail(rc, err, WEIR_EIO, "remove", ent->d_name, errno);
    }
    if (errno != 0)
        tree_fail(rc, err, WEIR_EIO, "list", name, errno);
}

static void tree_remove_at(int parent, const char *name, int depth, int *rc,
                           struct weir_err *err)
{
    struct stat st;
    DIR *d = NULL;
    int fd;

    if (depth > FSUTIL_TREE_MAX_DEPTH) {
        if (*rc == 0)
            *rc = weir_err_set(err, WEIR_ETOOBIG,
                               "cannot remove \"%s\": more than %d folders "
                               "deep",
                               name, FSUTIL_TREE_MAX_DEPTH);
        return;
    }
    fd = tree_open(parent, name);
    if (fd < 0) {
        if (errno != ENOENT)
            tree_fail(rc, err, WEIR_EIO, "open", name, errno);
        return;
    }
    /* entries can only be removed from a folder we may write to */
    if (fstat(fd, &st) == 0 && (st.st_mode & 0700) != 0700)
        fchmod(fd, (st.st_mode & 07777) | 0700);
    d = fdopendir(fd);
    if (d == NULL) {
        tree_fail(rc, err, WEIR_EIO, "list", name, errno);
        close(fd);
        return;
    }
    tree_empty(d, name, depth, rc, err);
    closedir(d);
    if (unlinkat(parent, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
        tree_fail(rc, err, WEIR_EIO, "remove", name, errno);
}

int fsutil_tree_remove(const char *path, struct weir_err *err)
{
    int rc = 0;

    tree_remove_at(AT_FDCWD, path, 0, &rc, err);
    return rc;
}
