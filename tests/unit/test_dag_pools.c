/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `pool:` and `pool_slots:` in the DAG loader: what steps inherit from
 * `defaults:`, and each error with its exact message and line:col. Which
 * pools exist is the server's check (tests/integration/pools_test.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dag.h"
#include "dag_load_assert.h"

static void test_inherit(void **state)
{
    const char *yaml = "dag: p\n"
                       "defaults:\n"
                       "  pool: gpu\n"
                       "  pool_slots: 2\n"
                       "steps:\n"
                       "  - {id: a, run: x}\n"
                       "  - {id: b, run: x, pool: db}\n"
                       "  - {id: c, run: x, pool_slots: 3}\n"
                       "  - {id: d, run: x, pool: null}\n"
                       "  - {id: e, run: x, pool: gpu, pool_slots: 1}\n";
    struct dag *d = load_ok(yaml);
    const struct dag_step *s;
    cJSON *j;

    (void)state;
    s = dag_step_get(d, "a");
    assert_string_equal(s->pool, "gpu");
    assert_int_equal(s->pool_slots, 2);
    assert_int_equal(s->pool_pos.line, 3);
    assert_int_equal(s->pool_pos.col, 9);
    assert_int_equal(s->pool_slots_pos.line, 4);
    s = dag_step_get(d, "b");
    assert_string_equal(s->pool, "db");
    assert_int_equal(s->pool_slots, 2);
    assert_int_equal(s->pool_pos.line, 7);
    assert_int_equal(s->pool_pos.col, 27);
    s = dag_step_get(d, "c");
    assert_string_equal(s->pool, "gpu");
    assert_int_equal(s->pool_slots, 3);
    assert_int_equal(s->pool_slots_pos.line, 8);
    assert_int_equal(s->pool_slots_pos.col, 33);
    assert_null(dag_step_get(d, "d")->pool);
    assert_int_equal(dag_step_get(d, "e")->pool_slots, 1);
    j = dag_to_json(d);
    assert_non_null(j);
    s = NULL;
    for (int i = 0; i < 5; i++) {
        const cJSON *st =
            cJSON_GetArrayItem(cJSON_GetObjectItem(j, "steps"), i);
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(st, "id"));

        if (strcmp(id, "c") == 0) {
            assert_string_equal(
                cJSON_GetStringValue(cJSON_GetObjectItem(st, "pool")), "gpu");
            assert_int_equal(
                cJSON_GetNumberValue(cJSON_GetObjectItem(st, "pool_slots")), 3);
        }
        if (strcmp(id, "d") == 0)
            assert_true(cJSON_IsNull(cJSON_GetObjectItem(st, "pool")));
    }
    cJSON_Delete(j);
    dag_free(d);
}

static void test_default_none(void **state)
{
    struct dag *d = load_ok("dag: p\nsteps:\n  - {id: a, run: x}\n");

    (void)state;
    assert_null(d->steps[0].pool);
    assert_int_equal(d->steps[0].pool_slots, 1);
    dag_free(d);
}

static void test_errors(void **state)
{
    (void)state;
    load_bad("dag: p\nsteps:\n  - {id: a, run: x, pool: gpu, pool_slots: 0}\n",
             3, 44, "\"pool_slots\" must be a whole number >= 1, got 0");
    load_bad(
        "dag: p\nsteps:\n  - {id: a, run: x, pool: gpu, pool_slots: two}\n", 3,
        44, "\"pool_slots\" must be a whole number >= 1, got \"two\"");
    load_bad("dag: p\nsteps:\n  - {id: a, run: x, pool_slots: 2}\n", 3, 33,
             "in step \"a\", \"pool_slots\" needs a \"pool\" (the pool whose "
             "slots it takes)");
    load_bad(
        "dag: p\ndefaults:\n  pool_slots: 2\nsteps:\n  - {id: a, run: x}\n", 3,
        15,
        "in defaults, \"pool_slots\" needs a \"pool\" (the pool whose "
        "slots it takes)");
    load_bad("dag: p\nsteps:\n  - {id: a, run: x, pool: GPU}\n", 3, 27,
             "pool name \"GPU\" is not valid: use lowercase letters, digits, "
             "\"_\" and \"-\", starting with a letter or digit (at most 64)");
    load_bad("dag: p\nsteps:\n  - {id: a, run: x, pool: [a]}\n", 3, 27,
             "\"pool\" must be a string, got a list");
    load_bad("dag: p\nsteps:\n  - {id: a, run: x, pol: gpu}\n", 3, 21,
             "unknown key \"pol\" in step \"a\" (did you mean \"pool\"?)");
    load_bad("dag: p\nsteps:\n  - {id: a, run: x, pool_slot: 2}\n", 3, 21,
             "unknown key \"pool_slot\" in step \"a\" (did you mean "
             "\"pool_slots\"?)");
    load_bad("dag: p\ndefaults:\n  pools: gpu\nsteps:\n  - {id: a, run: x}\n",
             3, 3,
             "unknown key \"pools\" in defaults (did you mean \"pool\"?)");
    load_bad("dag: p\nsteps:\n  - id: a\n    approval: {}\n    pool: gpu\n", 5,
             11,
             "an approval step runs no command: \"pool\" does not apply to "
             "it");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inherit),
        cmocka_unit_test(test_default_none),
        cmocka_unit_test(test_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
