/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `approvers:` and `self_approve:` of an approval gate (`approval:` of a
 * step), of an environment (its approve_before gates) and of an artifact
 * (its promotions): the names and groups that may decide. The loader
 * checks their form only; who is in a group is known to the server alone,
 * when a person signs in (docs/dag-format.md, "Approval policy").
 */
#include <string.h>

#include "dag_internal.h"

#define APPROVER_MAX 255 /* a token name is at most this long */

/* Whether n's "WORD:" prefix (letters, then a colon) is one approvers:
 * knows, "user:" or "group:" with something after it; reported
 * otherwise. An entry with no such prefix is a bare name or group. */
static bool prefix_valid(struct dag_ctx *c, const char *where,
                         const struct ynode *n)
{
    static const char *const known[] = {"user", "group"};
    size_t w = strspn(n->str, "abcdefghijklmnopqrstuvwxyz"
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    char word[16];

    if (w == 0 || n->str[w] != ':')
        return true;
    if ((w == 4 && strncmp(n->str, "user", 4) == 0) ||
        (w == 5 && strncmp(n->str, "group", 5) == 0)) {
        if (n->str[w + 1] != '\0')
            return true;
        dag_error(c, dag_npos(n),
                  "%s, approver \"%s\" names no one: write the name after "
                  "the colon",
                  where, dag_q(c, n->str));
        return false;
    }
    snprintf(word, sizeof(word), "%.*s", (int)(w < 15 ? w : 15), n->str);
    dag_error(c, dag_npos(n),
              "%s, approver \"%s\" has an unknown prefix \"%s:\"%s: write "
              "\"user:NAME\" for a name, \"group:NAME\" for a group (a "
              "group whose name has a colon too)",
              where, dag_q(c, n->str), dag_q(c, word),
              dag_mean(c, dag_suggest(c, word, known, 2)));
    return false;
}

/* Whether the scalar n is a usable approver: reported otherwise. */
static bool approver_valid(struct dag_ctx *c, const char *where,
                           const struct ynode *n)
{
    if (n->kind != YNODE_SCALAR || dag_is_null(n)) {
        dag_error(c, dag_npos(n),
                  "%s, each of \"approvers\" must be a name or a group "
                  "(a string), got %s",
                  where, dag_got(c, n));
        return false;
    }
    if (n->len == 0 || strspn(n->str, " \t") == n->len) {
        dag_error(c, dag_npos(n),
                  "%s, an entry of \"approvers\" is empty: give a name or a "
                  "group",
                  where);
        return false;
    }
    if (strlen(n->str) != n->len || n->len > APPROVER_MAX) {
        dag_error(c, dag_npos(n),
                  "%s, approver \"%s\" is not valid: at most %d bytes, no "
                  "NUL characters",
                  where, dag_q(c, n->str), APPROVER_MAX);
        return false;
    }
    return prefix_valid(c, where, n);
}

void dag_load_approvers(struct dag_ctx *c, const char *where,
                        const struct ynode *n, struct dag_approvers *out)
{
    out->pos = dag_npos(n);
    if (n->kind != YNODE_SEQ) {
        dag_error(c, dag_npos(n),
                  "%s, \"approvers\" must be a list of names or groups, "
                  "got %s",
                  where, dag_got(c, n));
        return;
    }
    if (n->n == 0) {
        dag_error(c, dag_npos(n),
                  "%s, \"approvers\" is an empty list: name at least one "
                  "name or group, or leave it out to let anyone allowed "
                  "decide",
                  where);
        return;
    }
    out->names = arena_array(c, n->n, sizeof(*out->names));
    if (out->names == NULL)
        return;
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *it = n->items[i];
        size_t j = 0;

        if (!approver_valid(c, where, it))
            continue;
        while (j < i && !(n->items[j]->kind == YNODE_SCALAR &&
                          strcmp(n->items[j]->str, it->str) == 0))
            j++;
        if (j < i) {
            dag_error(c, dag_npos(it),
                      "%s, approver \"%s\" is listed twice (first at line "
                      "%d, column %d)",
                      where, dag_q(c, it->str), dag_npos(n->items[j]).line,
                      dag_npos(n->items[j]).col);
            continue;
        }
        out->names[out->n] = arena_strndup(c, it->str, it->len);
        if (out->names[out->n] == NULL)
            return;
        out->n++;
    }
}
