/* SPDX-License-Identifier: Apache-2.0 */
/* A list of Weir servers from --server and WEIR_SERVER (srvlist.h). */
#include "srvlist.h"

#include <string.h>

/* Check one item of len bytes at s (spaces trimmed) and copy it to out. */
static int item_take(const char *s, size_t len, const char *what, size_t no,
                     bool strict, char out[SRVLIST_URL_MAX],
                     struct weir_err *err)
{
    size_t scheme = strncmp(s, "http://", 7) == 0    ? 7
                    : strncmp(s, "https://", 8) == 0 ? 8
                                                     : 0;

    if (len == 0)
        return weir_err_set(err, WEIR_EINVAL,
                            "%s: server %zu of the list is empty (expected "
                            "URL[,URL...])",
                            what, no);
    if (strict && (scheme == 0 || len <= scheme || s[scheme] == '/'))
        return weir_err_set(err, WEIR_EINVAL,
                            "%s: \"%.*s\" is not a server URL (expected "
                            "http://HOST:PORT or https://HOST:PORT)",
                            what, (int)(len > 120 ? 120 : len), s);
    while (len > scheme && s[len - 1] == '/')
        len--;
    if (len >= SRVLIST_URL_MAX)
        return weir_err_set(err, WEIR_EINVAL,
                            "%s: server %zu is longer than %d bytes", what, no,
                            SRVLIST_URL_MAX - 1);
    memcpy(out, s, len);
    out[len] = '\0';
    return 0;
}

int srvlist_add(struct srvlist *l, const char *text, const char *what,
                bool strict, struct weir_err *err)
{
    size_t n = l->n, no = 1;
    const char *p = text;

    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        int rc;

        while (len > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (n == SRVLIST_MAX)
            return weir_err_set(err, WEIR_EINVAL,
                                "%s: at most %d servers in all", what,
                                SRVLIST_MAX);
        rc = item_take(p, len, what, no, strict, l->url[n], err);
        if (rc < 0)
            return rc;
        n++;
        no++;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    l->n = n;
    return 0;
}

bool srvlist_reached(int rc, long status)
{
    return rc == 0 && status != 502 && status != 503 && status != 504;
}
