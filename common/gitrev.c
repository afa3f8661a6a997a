/* SPDX-License-Identifier: Apache-2.0 */
/* The git revision of a folder, read from git's files (gitrev.h). */
#include "gitrev.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SMALL_MAX  4096 /* bytes of HEAD, a loose ref, a gitdir file */
#define REF_DEPTH  5    /* symbolic refs followed */
#define PATH_BYTES 4096 /* longest path built here */

/* The first line of the small file at path, without its line end, into
 * buf (len bytes); false when it cannot be read or is too long. */
static bool read_line(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    size_t got = 0;
    struct stat st;
    bool ok = false;

    if (fd < 0)
        return false;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size >= SMALL_MAX)
        goto out;
    while (got + 1 < len) {
        ssize_t n = read(fd, buf + got, len - 1 - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    ok = true;
out:
    close(fd);
    return ok;
}

/* Whether s is a whole object id: 40 or 64 lowercase hex digits. */
static bool is_oid(const char *s, size_t n)
{
    if (n != 40 && n != 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* Whether name is a ref name that stays inside the git folder. */
static bool ref_name_ok(const char *name)
{
    return strncmp(name, "refs/", 5) == 0 && strstr(name, "..") == NULL &&
           strstr(name, "//") == NULL && name[strlen(name) - 1] != '/';
}

/* dir joined with rel, or rel when it is absolute; false when too long. */
static bool join(const char *dir, const char *rel, char out[PATH_BYTES])
{
    int n = rel[0] == '/' ? snprintf(out, PATH_BYTES, "%s", rel)
                          : snprintf(out, PATH_BYTES, "%s/%s", dir, rel);

    return n > 0 && n < PATH_BYTES;
}

/* The id packed-refs in common gives name; false when it has none. */
static bool packed_ref(const char *common, const char *name,
                       char out[GITREV_HEX_MAX + 1])
{
    char path[PATH_BYTES], line[PATH_BYTES + 80];
    size_t nlen = strlen(name);
    bool found = false;
    FILE *f;

    if (!join(common, "packed-refs", path) || (f = fopen(path, "re")) == NULL)
        return false;
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        char *sp = strchr(line, ' ');

        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || line[0] == '^' || sp == NULL)
            continue;
        if (strlen(sp + 1) == nlen && memcmp(sp + 1, name, nlen) == 0 &&
            is_oid(line, (size_t)(sp - line))) {
            memcpy(out, line, (size_t)(sp - line));
            out[sp - line] = '\0';
            found = true;
        }
    }
    fclose(f);
    return found;
}

/* The id HEAD of gitdir names (its refs also under common). */
static bool head_oid(const char *gitdir, const char *common,
                     char out[GITREV_HEX_MAX + 1])
{
    char path[PATH_BYTES], text[SMALL_MAX];

    if (!join(gitdir, "HEAD", path) || !read_line(path, text, sizeof(text)))
        return false;
    for (int depth = 0; depth < REF_DEPTH; depth++) {
        char name[SMALL_MAX];

        if (is_oid(text, strlen(text))) {
            memcpy(out, text, strlen(text) + 1);
            return true;
        }
        if (strncmp(text, "ref: ", 5) != 0 || !ref_name_ok(text + 5))
            return false;
        memcpy(name, text + 5, strlen(text + 5) + 1);
        /* a worktree's own refs first, then the shared ones */
        if ((join(gitdir, name, path) && read_line(path, text, sizeof(text))) ||
            (join(common, name, path) && read_line(path, text, sizeof(text))))
            continue;
        return packed_ref(common, name, out);
    }
    return false;
}

/* The git folder of the checkout whose top is top (a `.git` directory,
 * or the folder a `.git` file names) into gitdir; false when top has
 * neither. */
static bool git_folder(const char *top, char gitdir[PATH_BYTES])
{
    char dotgit[PATH_BYTES], text[SMALL_MAX];
    struct stat st;

    if (!join(top, ".git", dotgit) || stat(dotgit, &st) != 0)
        return false;
    if (S_ISDIR(st.st_mode))
        return join(top, ".git", gitdir);
    if (!S_ISREG(st.st_mode) || !read_line(dotgit, text, sizeof(text)) ||
        strncmp(text, "gitdir: ", 8) != 0 || text[8] == '\0')
        return false;
    return join(top, text + 8, gitdir);
}

bool gitrev_get(const char *dir, char out[GITREV_HEX_MAX + 1])
{
    char *top = realpath(dir, NULL);
    char gitdir[PATH_BYTES], common[PATH_BYTES], rel[SMALL_MAX];
    char oid[GITREV_HEX_MAX + 1];
    bool found = false;

    if (top == NULL)
        return false;
    for (;;) {
        char *slash;

        if (git_folder(top, gitdir)) {
            found = true;
            break;
        }
        slash = strrchr(top, '/');
        if (slash == NULL || (slash == top && top[1] == '\0'))
            break;
        if (slash == top)
            slash[1] = '\0'; /* the root is tried last */
        else
            *slash = '\0';
    }
    free(top);
    if (!found)
        return false;
    if (!join(gitdir, "commondir", common) ||
        !read_line(common, rel, sizeof(rel)) || rel[0] == '\0')
        snprintf(rel, sizeof(rel), ".");
    if (!join(gitdir, rel, common) || !head_oid(gitdir, common, oid))
        return false;
    memcpy(out, oid, strlen(oid) + 1);
    return true;
}
