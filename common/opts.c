/* SPDX-License-Identifier: Apache-2.0 */
#include "opts.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "suggest.h"

#define NAMES_MAX 64 /* long options offered as suggestions */

static const struct option *long_find(const struct option *longs,
                                      const char *name, size_t len)
{
    for (const struct option *o = longs; o != NULL && o->name != NULL; o++)
        if (strlen(o->name) == len && memcmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

static int unknown_long(const struct option *longs, const char *name,
                        size_t len, struct weir_err *err)
{
    const char *names[NAMES_MAX];
    char word[80];
    const char *near;
    size_t n = 0;

    for (const struct option *o = longs; o != NULL && o->name != NULL; o++)
        if (n < NAMES_MAX)
            names[n++] = o->name;
    snprintf(word, sizeof(word), "%.*s", (int)(len < 60 ? len : 60), name);
    near = suggest_word(word, names, n);
    if (near == NULL) /* an abbreviation: the option it starts */
        for (size_t i = 0; i < n && near == NULL; i++)
            if (len > 0 && strncmp(names[i], name, len) == 0)
                near = names[i];
    if (near != NULL)
        return weir_err_set(err, WEIR_EINVAL,
                            "unknown option --%s (did you mean --%s?)", word,
                            near);
    return weir_err_set(err, WEIR_EINVAL, "unknown option --%s", word);
}

/* argv[*i] is "--name[=value]": check it; *i moves past its value. */
static int check_long(int argc, char *const argv[], int *i,
                      const struct option *longs, struct weir_err *err)
{
    const char *name = argv[*i] + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const struct option *o = long_find(longs, name, len);

    if (o == NULL)
        return unknown_long(longs, name, len, err);
    if (o->has_arg == no_argument && eq != NULL)
        return weir_err_set(err, WEIR_EINVAL, "--%s takes no value", o->name);
    if (o->has_arg == required_argument && eq == NULL) {
        if (*i + 1 >= argc)
            return weir_err_set(err, WEIR_EINVAL, "--%s needs a value",
                                o->name);
        (*i)++;
    }
    return 0;
}

/* argv[*i] is "-abc": check each letter; *i moves past a value. */
static int check_shorts(int argc, char *const argv[], int *i,
                        const char *shorts, struct weir_err *err)
{
    for (const char *p = argv[*i] + 1; *p != '\0'; p++) {
        const char *s = *p != ':' ? strchr(shorts, *p) : NULL;

        if (s == NULL)
            return weir_err_set(err, WEIR_EINVAL, "unknown option -%c", *p);
        if (s[1] == ':' && p[1] != '\0')
            return 0; /* the rest is the value (required or optional) */
        if (s[1] == ':' && s[2] != ':') {
            if (*i + 1 >= argc)
                return weir_err_set(err, WEIR_EINVAL, "-%c needs a value", *p);
            (*i)++;
            return 0;
        }
    }
    return 0;
}

static int check_all(int argc, char *const argv[], const char *shorts,
                     const struct option *longs, struct weir_err *err)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int rc = 0;

        if (strcmp(a, "--") == 0)
            return 0;
        if (strncmp(a, "--", 2) == 0)
            rc = check_long(argc, argv, &i, longs, err);
        else if (a[0] == '-' && a[1] != '\0')
            rc = check_shorts(argc, argv, &i, shorts, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int weir_getopt(int argc, char *const argv[], const char *shorts,
                const struct option *longs, struct weir_err *err)
{
    int c;

    opterr = 0;
    if (optind <= 1 && check_all(argc, argv, shorts, longs, err) < 0)
        return '?';
    c = getopt_long(argc, argv, shorts, longs, NULL);
    if (c == '?' || c == ':') {
        weir_err_set(err, WEIR_EINVAL, "unknown option or missing value");
        return '?';
    }
    return c;
}
