/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the YAML reader: any bytes go through ydoc_parse with the
 * limits DAG files use, and a document that parses is walked with every
 * accessor and turned into JSON. Any crash, leak, broken invariant or slow
 * input is a bug.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ynode.h"

#define WALK_MAX_VISITS 300000 /* aliases may share nodes; stop re-walking */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void scalar_reads(const struct ynode *n)
{
    long long i = 0;
    double d = 0;
    bool b = false;
    int rc;

    check(n->str != NULL && n->str[n->len] == '\0');
    rc = ynode_get_bool(n, &b);
    check(rc == 0 || rc == WEIR_ETYPE);
    rc = ynode_get_int(n, &i);
    check(rc == 0 || rc == WEIR_ETYPE || rc == WEIR_ERANGE);
    rc = ynode_get_double(n, &d);
    check(rc == 0 || rc == WEIR_ETYPE);
    (void)ynode_is_null(n);
}

static void walk(const struct ynode *n, int depth, size_t *visits)
{
    const struct ynode *k;
    size_t i;

    check(n != NULL);
    /* collections stay within the limit; a scalar may sit one below */
    check(depth <=
          ydoc_limits_default().max_depth + (n->kind == YNODE_SCALAR ? 1 : 0));
    check(n->line >= 1 && n->col >= 1);
    check(ynode_describe(n) != NULL);
    if (++*visits > WALK_MAX_VISITS)
        return;
    if (n->kind == YNODE_SCALAR) {
        scalar_reads(n);
        return;
    }
    check(n->kind == YNODE_SEQ || n->kind == YNODE_MAP);
    check(!ynode_is_null(n));
    check(ynode_map_get(n, "\x01missing") == NULL);
    for (i = 0; i < n->n; i++) {
        if (n->kind == YNODE_SEQ) {
            walk(n->items[i], depth + 1, visits);
            continue;
        }
        k = n->items[2 * i];
        if (i < 8 && k->kind == YNODE_SCALAR && strlen(k->str) == k->len)
            check(ynode_map_get(n, k->str) != NULL);
        walk(k, depth + 1, visits);
        walk(n->items[2 * i + 1], depth + 1, visits);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ydoc_limits lim = ydoc_limits_default();
    struct weir_err err = {0, ""};
    const struct ynode *bad = NULL;
    struct ydoc *doc = NULL;
    cJSON *json = NULL;
    size_t visits = 0;
    int line = -1, col = -1;
    int rc;

    rc = ydoc_parse((const char *)data, size, &lim, &doc, &err, &line, &col);
    if (rc < 0) {
        check(doc == NULL && err.code == rc && err.msg[0] != '\0');
        check(line >= 0 && col >= 0 && (line == 0) == (col == 0));
        return 0;
    }
    check(rc == 0 && doc != NULL);
    walk(ydoc_root(doc), 1, &visits);
    rc = ynode_to_json(ydoc_root(doc), &json, &err, &bad);
    if (rc == 0)
        cJSON_Delete(json);
    else
        check(bad != NULL && json == NULL && err.code == rc);
    ydoc_free(doc);
    return 0;
}
