/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The worker's own scratch folder, locked for its lifetime, and the sweep
 * of dead workers' folders. See scratch.h for the design.
 */
#include "scratch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"

#define OWN_PREFIX "weir-worker-" /* a worker's folder */
#define NEW_PREFIX "weir-new-"    /* one not locked yet */

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);

    if (p != NULL)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Remove name under dir when no live worker holds its lock. */
static void sweep_one(const char *dir, const char *name)
{
    struct weir_err err = {0};
    char *path = path_join(dir, name);
    char q[300];
    int fd;

    if (path == NULL)
        return;
    fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
        /* the owner is gone: the lock is ours while we remove it */
        if (fsutil_tree_remove(path, &err) == 0)
            log_info("event=scratch_swept folder=%s",
                     log_quote(path, q, sizeof(q)));
        else
            log_warn("event=scratch_sweep_failed error=%s",
                     log_quote(err.msg, q, sizeof(q)));
    }
    if (fd >= 0)
        close(fd);
    free(path);
}

static void sweep(const char *scratch_dir)
{
    DIR *d = opendir(scratch_dir);
    struct dirent *de;

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, OWN_PREFIX, strlen(OWN_PREFIX)) == 0)
            sweep_one(scratch_dir, de->d_name);
    closedir(d);
}

int scratch_claim(const char *scratch_dir, struct scratch *s,
                  struct weir_err *err)
{
    char *tmp = path_join(scratch_dir, NEW_PREFIX "XXXXXX");
    char *own = NULL;
    int fd = -1, rc = 0;

    sweep(scratch_dir);
    if (tmp == NULL ||
        (own = path_join(scratch_dir, OWN_PREFIX "XXXXXX")) == NULL) {
        rc = weir_err_set(err, WEIR_ENOMEM, "scratch: out of memory");
        goto out;
    }
    if (mkdtemp(tmp) == NULL) {
        rc = weir_err_set(err, WEIR_EIO, "cannot make a folder in \"%s\": %s",
                          scratch_dir, strerror(errno));
        free(tmp);
        tmp = NULL;
        goto out;
    }
    /* the same six characters, under the name a sweep looks at */
    memcpy(own + strlen(own) - 6, tmp + strlen(tmp) - 6, 6);
    fd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0 || rename(tmp, own) != 0) {
        rc = weir_err_set(err, WEIR_EIO, "cannot lock \"%s\": %s", tmp,
                          strerror(errno));
        rmdir(tmp);
        goto out;
    }
    s->dir = own;
    s->lock_fd = fd;
    own = NULL;
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    free(tmp);
    free(own);
    return rc;
}

void scratch_release(struct scratch *s)
{
    struct weir_err err = {0};

    if (s->dir != NULL && fsutil_tree_remove(s->dir, &err) != 0) {
        char q[300];

        log_warn("event=scratch_left error=%s",
                 log_quote(err.msg, q, sizeof(q)));
    }
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    free(s->dir);
    s->dir = NULL;
    s->lock_fd = -1;
}
