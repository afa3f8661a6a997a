/* SPDX-License-Identifier: Apache-2.0 */
/* The DAG copy check: the worker's DAG file against the lease's hash
 * (dagcheck.h). */
#include "dagcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dag.h"
#include "gitrev.h"
#include "sha256.h"

#define CACHE_N   32 /* files whose hash is kept */
#define SHORT_HEX 12 /* hex digits of a hash in messages */

static const char deploy_hint[] =
    "deploy the same revision of the DAGs folder on servers and workers";

/* A file hashed before, known by where it is and when it last changed. */
struct cached {
    char *path;         /* as opened; NULL for a free entry */
    dev_t dev;          /* its device */
    ino_t ino;          /* its inode */
    off_t size;         /* its bytes */
    struct timespec mt; /* its last change of content */
    struct timespec ct; /* its last change of inode (a rename over it) */
    char hash[65];      /* SHA-256 of its bytes, in hex */
};

static struct cached cache[CACHE_N]; /* the loop thread's */
static size_t cache_next;            /* the entry replaced next */

static bool same_time(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static struct cached *cache_find(const char *path, const struct stat *st)
{
    for (size_t i = 0; i < CACHE_N; i++) {
        struct cached *c = &cache[i];

        if (c->path != NULL && strcmp(c->path, path) == 0 &&
            c->dev == st->st_dev && c->ino == st->st_ino &&
            c->size == st->st_size && same_time(&c->mt, &st->st_mtim) &&
            same_time(&c->ct, &st->st_ctim))
            return c;
    }
    return NULL;
}

static void cache_put(const char *path, const struct stat *st,
                      const char hash[65])
{
    struct cached *c = &cache[cache_next];
    char *p = strdup(path);

    if (p == NULL)
        return; /* not kept: hashed again next time */
    cache_next = (cache_next + 1) % CACHE_N;
    free(c->path);
    *c = (struct cached){p,           st->st_dev,  st->st_ino, st->st_size,
                         st->st_mtim, st->st_ctim, {0}};
    memcpy(c->hash, hash, 65);
}

/* The hash of the file at path into hex; -1 with why (errno text or a
 * phrase) in *why when it cannot be read. */
static int file_hash(const char *path, char hex[65], const char **why)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    const struct cached *c;
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    int rc = -1;

    *why = NULL;
    if (fd < 0 || fstat(fd, &st) != 0) {
        *why = strerror(errno);
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > DAG_MAX_FILE_BYTES) {
        *why = !S_ISREG(st.st_mode) ? "not a regular file" : "too large";
        goto out;
    }
    if ((c = cache_find(path, &st)) != NULL) {
        memcpy(hex, c->hash, 65);
        rc = 0;
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    while (buf != NULL && got <= (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size + 1 - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (buf == NULL || got != (size_t)st.st_size) {
        *why = buf == NULL ? "out of memory" : "it changed while read";
        goto out;
    }
    sha256_hex(buf, got, hex);
    cache_put(path, &st, hex);
    rc = 0;
out:
    free(buf);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* The lease's dags_revision against the revision dags_dir is checked
 * out at: -1 with msg when both are known and differ. */
static int revision_check(const cJSON *doc, const char *dags_dir, char *msg,
                          size_t len)
{
    const cJSON *want = cJSON_GetObjectItemCaseSensitive(doc, "dags_revision");
    char have[GITREV_HEX_MAX + 1];

    if (!cJSON_IsString(want) || want->valuestring[0] == '\0' ||
        !gitrev_get(dags_dir, have) || strcmp(have, want->valuestring) == 0)
        return 0;
    snprintf(msg, len,
             "this worker's --dags-dir %s is checked out at git revision "
             "%.*s, the server's DAGs folder at %.*s: %s",
             dags_dir, SHORT_HEX, have, SHORT_HEX, want->valuestring,
             deploy_hint);
    return -1;
}

int dagcheck_lease(const cJSON *doc, const char *dags_dir, char *msg,
                   size_t len)
{
    const cJSON *rel = cJSON_GetObjectItemCaseSensitive(doc, "dag_path");
    const cJSON *want = cJSON_GetObjectItemCaseSensitive(doc, "dag_hash");
    char path[4096], have[65];
    const char *why = NULL;

    if (!cJSON_IsString(rel) || rel->valuestring[0] == '\0' ||
        !cJSON_IsString(want) || want->valuestring[0] == '\0')
        return 0;
    if (revision_check(doc, dags_dir, msg, len) != 0)
        return -1;
    if (rel->valuestring[0] == '/')
        snprintf(path, sizeof(path), "%s", rel->valuestring);
    else
        snprintf(path, sizeof(path), "%s/%s", dags_dir, rel->valuestring);
    if (file_hash(path, have, &why) != 0) {
        snprintf(msg, len,
                 "the DAG file %s cannot be read in this worker's "
                 "--dags-dir %s (%s; the server's sha256 %.*s): %s",
                 rel->valuestring, dags_dir, why, SHORT_HEX, want->valuestring,
                 deploy_hint);
        return -1;
    }
    if (strcmp(have, want->valuestring) == 0)
        return 0;
    snprintf(msg, len,
             "the DAG file %s in this worker's --dags-dir %s differs from "
             "the server's (worker sha256 %.*s, server sha256 %.*s): %s",
             rel->valuestring, dags_dir, SHORT_HEX, have, SHORT_HEX,
             want->valuestring, deploy_hint);
    return -1;
}

void dagcheck_forget(void)
{
    for (size_t i = 0; i < CACHE_N; i++) {
        free(cache[i].path);
        cache[i].path = NULL;
    }
    cache_next = 0;
}
