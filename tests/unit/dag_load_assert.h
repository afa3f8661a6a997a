/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the loader's unit tests of one feature each need (cmocka): a text
 * that loads with no problem, and a text that fails with exactly one
 * problem at a given place. Include after <cmocka.h> and "dag.h".
 */
#ifndef WEIR_TEST_DAG_LOAD_ASSERT_H
#define WEIR_TEST_DAG_LOAD_ASSERT_H

#include <string.h>

/* Print every diagnostic of d (shown when a test fails). */
static inline void print_diags_of(const struct dag_diags *d)
{
    for (size_t i = 0; i < d->n; i++)
        print_message("  got %d:%d: %s\n", d->v[i].pos.line, d->v[i].pos.col,
                      d->v[i].msg);
}

/* yaml loads with no problem; the DAG is the caller's. */
static inline struct dag *load_ok(const char *yaml)
{
    struct dag_diags d;
    struct dag *dag = NULL;
    int rc;

    dag_diags_init(&d);
    rc = dag_load("dags/t.yaml", yaml, strlen(yaml), &dag, &d);
    print_diags_of(&d);
    assert_int_equal(rc, 0);
    assert_int_equal(d.n, 0);
    dag_diags_cleanup(&d);
    return dag;
}

/* Loading yaml fails with exactly one problem: msg at line:col. */
static inline void load_bad(const char *yaml, int line, int col,
                            const char *msg)
{
    struct dag_diags d;
    struct dag *dag = NULL;
    int rc;

    dag_diags_init(&d);
    rc = dag_load("dags/t.yaml", yaml, strlen(yaml), &dag, &d);
    print_diags_of(&d);
    assert_int_equal(rc, WEIR_EINVAL);
    assert_null(dag);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.v[0].msg, msg);
    assert_int_equal(d.v[0].pos.line, line);
    assert_int_equal(d.v[0].pos.col, col);
    dag_diags_cleanup(&d);
}

#endif
