/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The secrets a step uses (docs/dag-format.md, "Secrets"): the names of
 * its `secrets:` list, each set as a variable of that name, and the
 * ${{ secrets.NAME }} of its env: values (the only place a secret may be
 * templated). Whether each name exists only the server knows: it checks
 * them when it records the DAG (engine/secrets.c).
 */
#include <string.h>

#include "dag_internal.h"

#define SECRET_NAME_MAX 128 /* bytes of a secret's name */

static bool secret_name_ok(const char *s, size_t len)
{
    return len <= SECRET_NAME_MAX && dag_name_valid(s, len);
}

/* Append name to s's secrets (once; as_env sticks once set). */
static void add_secret(struct dag_ctx *c, struct dag_step *s, const char *name,
                       size_t len, struct dag_pos pos, bool as_env)
{
    struct dag_secret *v;

    for (size_t i = 0; i < s->n_secrets; i++)
        if (strlen(s->secrets[i].name) == len &&
            memcmp(s->secrets[i].name, name, len) == 0) {
            s->secrets[i].as_env = s->secrets[i].as_env || as_env;
            return;
        }
    /* a step names few secrets: a new arena array per name is fine */
    v = arena_array(c, s->n_secrets + 1, sizeof(*v));
    if (v == NULL)
        return;
    if (s->n_secrets > 0)
        memcpy(v, s->secrets, s->n_secrets * sizeof(*v));
    v[s->n_secrets].name = arena_strndup(c, name, len);
    v[s->n_secrets].pos = pos;
    v[s->n_secrets].as_env = as_env;
    if (v[s->n_secrets].name == NULL)
        return;
    s->secrets = v;
    s->n_secrets++;
}

void dag_load_secrets(struct dag_ctx *c, struct dag_step *s, const char *label,
                      const struct ynode *n)
{
    if (n->kind != YNODE_SEQ) {
        dag_error(c, dag_npos(n),
                  "\"secrets\" must be a list of secret names, such as "
                  "[DB_PASSWORD], got %s",
                  dag_got(c, n));
        return;
    }
    if (s->approval) {
        dag_error(c, dag_npos(n),
                  "%s is an approval step and runs no command: \"secrets\" "
                  "does not apply to it",
                  label);
        return;
    }
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *it = n->items[i];
        bool dup = false;

        if (it->kind != YNODE_SCALAR || dag_is_null(it) ||
            !secret_name_ok(it->str, it->len)) {
            dag_error(c, dag_npos(it),
                      "secret name %s is not valid: use letters, digits and "
                      "\"_\", starting with a letter or \"_\" (at most %d)",
                      dag_got(c, it), SECRET_NAME_MAX);
            continue;
        }
        if (strncmp(it->str, "WEIR_", 5) == 0) {
            dag_error(c, dag_npos(it),
                      "secret \"%s\" would set a variable reserved for Weir "
                      "(names starting with \"WEIR_\"); use "
                      "env: {NAME: ${{ secrets.%s }}} to rename it",
                      dag_q(c, it->str), dag_q(c, it->str));
            continue;
        }
        for (size_t k = 0; k < s->n_secrets && !dup; k++)
            dup = strcmp(s->secrets[k].name, it->str) == 0;
        if (dup) {
            dag_error(c, dag_npos(it), "secret \"%s\" is listed twice",
                      dag_q(c, it->str));
            continue;
        }
        add_secret(c, s, it->str, it->len, dag_npos(it), true);
    }
}

/*
 * Whether the ${{ }} around r (a secrets.X ref at r->offset of its scalar)
 * holds that name alone: an expression that does more with a secret (a
 * comparison, a call) could quote its value in a render error.
 */
static bool secret_ref_bare(const struct dag_ref *r)
{
    const char *text = r->node->str, *open = NULL, *end, *p;
    size_t nlen = strlen(r->name);

    if (text == NULL || r->offset < 0 || (size_t)r->offset > r->node->len)
        return false;
    for (p = text; (p = strstr(p, "${{")) != NULL && p <= text + r->offset;
         p += 3)
        open = p;
    if (open == NULL || (end = strstr(text + r->offset, "}}")) == NULL)
        return false;
    for (p = open + 3; p < end && (*p == ' ' || *p == '\t'); p++)
        ;
    if ((size_t)(end - p) < nlen || memcmp(p, r->name, nlen) != 0)
        return false;
    for (p += nlen; p < end && (*p == ' ' || *p == '\t'); p++)
        ;
    return p == end;
}

void dag_load_env_secrets(struct dag_ctx *c, struct dag_step *s,
                          struct dag_env *e, size_t first)
{
    for (size_t k = 0; k < s->n_secrets; k++)
        if (s->secrets[k].as_env && e->name != NULL &&
            strcmp(s->secrets[k].name, e->name) == 0)
            dag_error(c, e->pos,
                      "env \"%s\" is also set by `secrets: [%s]`: keep one "
                      "of the two",
                      e->name, e->name);
    for (size_t i = first; i < c->n_refs; i++) {
        struct dag_ref *r = &c->refs[i];
        const char *name = r->name + 8;
        size_t len = strlen(name);

        r->env = true;
        if (strncmp(r->name, "secrets.", 8) != 0)
            continue;
        /* a bad shape is reported by the check of refs (dag_check.c) */
        if (!secret_name_ok(name, len))
            continue;
        if (!secret_ref_bare(r)) {
            dag_error(c, dag_pos_in(c, r->node, r->offset),
                      "env \"%s\": a secret may be templated only as a bare "
                      "${{ secrets.%s }}, with no other expression around it "
                      "inside the ${{ }}",
                      e->name ? e->name : "?", dag_q(c, name));
            continue;
        }
        e->secret = true;
        add_secret(c, s, name, len, dag_pos_in(c, r->node, r->offset), false);
    }
}
