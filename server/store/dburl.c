/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The database URL: parsed once at start with PQconninfoParse(), so that a
 * malformed one is refused at once with libpq's reason instead of being
 * retried as if the database were down; and its password, which libpq
 * never prints but a user's typo can put anywhere, hidden from messages.
 */
#include "store/dburl.h"

#include <ctype.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* True when url may carry a password: the keyword or URL parameter, or
 * user:password@ in a URL. */
static bool may_hold_password(const char *url)
{
    const char *p = strstr(url, "://");
    const char *at;

    if (strstr(url, "password") != NULL)
        return true;
    if (p == NULL)
        return false;
    p += 3;
    at = strchr(p, '@');
    return at != NULL && memchr(p, ':', (size_t)(at - p)) != NULL;
}

/* True when word (n bytes) is the name of a libpq connection option, or
 * one character of punctuation (libpq quotes the "=" it missed). */
static bool is_keyword(const char *word, size_t n)
{
    PQconninfoOption *opts;
    bool found = false;

    if (n == 1 && ispunct((unsigned char)word[0]))
        return true;
    opts = PQconndefaults();
    for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++)
        if (strlen(o->keyword) == n && memcmp(o->keyword, word, n) == 0)
            found = true;
    PQconninfoFree(opts);
    return found;
}

/*
 * libpq's parse error into dst, on one line. libpq quotes the piece it
 * could not read, and for a URL the whole URL: when the URL may hold a
 * password, every quoted piece but an option's name is hidden.
 */
static void parse_error(char *dst, size_t len, const char *msg, bool hide)
{
    size_t n = 0;

    for (const char *p = msg; *p != '\0' && n + 1 < len; p++) {
        const char *end = *p == '"' ? strchr(p + 1, '"') : NULL;

        if (end != NULL) { /* a quoted piece, whole */
            size_t k = (size_t)(end - p - 1);

            if (hide && !is_keyword(p + 1, k))
                n += (size_t)snprintf(dst + n, len - n, "\"(hidden)\"");
            else
                n += (size_t)snprintf(dst + n, len - n, "\"%.*s\"", (int)k,
                                      p + 1);
            if (n >= len)
                n = len - 1;
            p = end;
            continue;
        }
        dst[n++] = *p;
        if (*p == '\n')
            dst[n - 1] = ' ';
    }
    while (n > 0 && dst[n - 1] == ' ')
        n--;
    dst[n] = '\0';
}

int dburl_check(const char *url, char **secret, struct weir_err *err)
{
    char *msg = NULL, text[200];
    PQconninfoOption *opts = PQconninfoParse(url, &msg);
    const char *pw = NULL;

    if (opts == NULL) {
        if (msg == NULL)
            return weir_err_set(err, WEIR_ENOMEM, "out of memory");
        parse_error(text, sizeof(text), msg, may_hold_password(url));
        PQfreemem(msg);
        return weir_err_set(err, WEIR_EINVAL,
                            "--database-url is not a valid libpq connection "
                            "string or URL: %s",
                            text);
    }
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val != NULL &&
            o->val[0] != '\0')
            pw = o->val;
    *secret = pw != NULL ? strdup(pw) : NULL;
    PQconninfoFree(opts);
    if (pw != NULL && *secret == NULL)
        return weir_err_set(err, WEIR_ENOMEM, "out of memory");
    return 0;
}

void dburl_redact(char *msg, size_t len, const char *secret)
{
    size_t k = secret != NULL ? strlen(secret) : 0;
    char *from = msg, *hit;

    if (k == 0)
        return;
    while ((hit = strstr(from, secret)) != NULL) {
        size_t at = (size_t)(hit - msg), tail = strlen(hit + k);

        if (at + 4 > len) { /* no room for the stars: cut here */
            *hit = '\0';
            return;
        }
        if (at + 3 + tail >= len) /* a secret of 1 or 2 bytes */
            tail = len - at - 4;
        memmove(hit + 3, hit + k, tail);
        hit[3 + tail] = '\0';
        memcpy(hit, "***", 3);
        from = hit + 3; /* a secret such as "*" is not found again */
    }
}
