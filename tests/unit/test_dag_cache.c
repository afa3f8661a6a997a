/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cache:` of the DAG loader (docs/dag-format.md, "Step caching"): what a
 * step gets from its own value and from `defaults:`, and every error with
 * its exact line:col and message.
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

static void test_forms(void **state)
{
    struct dag *d = load_ok("params: {v: 1}\n"
                            "steps:\n"
                            "  - id: plain\n"
                            "    run: echo\n"
                            "  - id: on\n"
                            "    run: echo\n"
                            "    cache: true\n"
                            "  - id: keyed\n"
                            "    run: echo\n"
                            "    cache: {key: \"v${{ params.v }}\", ttl: 2s}\n"
                            "  - id: off\n"
                            "    run: echo\n"
                            "    cache: false\n");
    const struct dag_step *s;

    (void)state;
    s = dag_step_get(d, "plain");
    assert_false(s->cache);
    s = dag_step_get(d, "on");
    assert_true(s->cache);
    assert_null(s->cache_key);
    assert_int_equal(s->cache_ttl_ms, DAG_CACHE_TTL_MS);
    assert_int_equal(DAG_CACHE_TTL_MS, 7LL * 24 * 3600 * 1000);
    s = dag_step_get(d, "keyed");
    assert_true(s->cache);
    assert_string_equal(s->cache_key, "v${{ params.v }}");
    assert_int_equal(s->cache_ttl_ms, 2000);
    s = dag_step_get(d, "off");
    assert_false(s->cache);
    dag_free(d);
}

static void test_defaults(void **state)
{
    struct dag *d = load_ok("defaults:\n"
                            "  cache: {key: k, ttl: 1h}\n"
                            "steps:\n"
                            "  - id: a\n"
                            "    run: echo\n"
                            "  - id: b\n"
                            "    needs: [a]\n"
                            "    run: echo\n"
                            "    cache: false\n"
                            "  - id: c\n"
                            "    needs: [a]\n"
                            "    run: echo\n"
                            "    cache: {ttl: 5m}\n"
                            "  - id: gate\n"
                            "    needs: [a]\n"
                            "    approval: true\n"
                            "on_failure:\n"
                            "  run: echo hook\n");
    const struct dag_step *s;

    (void)state;
    s = dag_step_get(d, "a");
    assert_true(s->cache);
    assert_string_equal(s->cache_key, "k");
    assert_int_equal(s->cache_ttl_ms, 3600 * 1000);
    assert_false(dag_step_get(d, "b")->cache);
    /* a step's own mapping: the defaults' ttl is its default, not the key */
    s = dag_step_get(d, "c");
    assert_true(s->cache);
    assert_null(s->cache_key);
    assert_int_equal(s->cache_ttl_ms, 5 * 60 * 1000);
    /* an approval gate and a hook's step never inherit it */
    assert_false(dag_step_get(d, "gate")->cache);
    assert_false(dag_step_get(d, "on_failure")->cache);
    dag_free(d);
}

static void test_errors(void **state)
{
    (void)state;
    load_bad("steps:\n  - id: a\n    run: echo\n    cache: maybe\n", 4, 12,
             "\"cache\" must be true, false or a mapping with \"key\" and "
             "\"ttl\", got \"maybe\"");
    load_bad("steps:\n  - id: a\n    run: echo\n    cache: {kee: x}\n", 4, 13,
             "unknown key \"kee\" in the cache of step \"a\" (did you mean "
             "\"key\"?)");
    load_bad("defaults:\n  cache: {tll: 1d}\nsteps:\n  - id: a\n    run: x\n",
             2, 11,
             "unknown key \"tll\" in the cache of defaults (did you mean "
             "\"ttl\"?)");
    load_bad("steps:\n  - id: a\n    run: echo\n    cache: {ttl: 0s}\n", 4, 18,
             "\"ttl\" of \"cache\" must be longer than 0s");
    load_bad("steps:\n  - id: a\n    run: echo\n    cache: {ttl: soon}\n", 4,
             18,
             "bad duration \"soon\" for \"ttl\": expected a number at "
             "\"soon\"; write e.g. 30s, 10m, 1h30m");
    load_bad("steps:\n  - id: a\n    run: echo\n    cache: {key: \"\"}\n", 4,
             18, "\"key\" must not be empty");
    load_bad("steps:\n  - id: g\n    approval: true\n    cache: true\n", 4, 5,
             "step \"g\" is an approval gate and cannot be cached; remove "
             "\"cache\"");
    load_bad("steps:\n  - id: a\n    run: echo\n"
             "    cache: {key: \"${{ params.nope }}\"}\n",
             4, 23, "unknown param \"nope\"");
    load_bad("steps:\n  - id: a\n    run: echo\n"
             "    cache: {key: \"${{ params.x \"}\n",
             4, 19,
             "bad template in \"key\": unterminated \"${{\" (expected \"}}\")");
    /* the defaults' key is checked once for its syntax... */
    load_bad("defaults:\n  cache: {key: \"${{ oops\"}\nsteps:\n"
             "  - id: a\n    run: x\n  - id: b\n    run: x\n",
             2, 17,
             "bad template in \"key\": unterminated \"${{\" (expected \"}}\")");
    /* ...and for its names in each step that inherits it */
    load_bad("defaults:\n  cache: {key: \"${{ steps.b.outputs.v }}\"}\n"
             "steps:\n  - id: a\n    run: x\n    cache: false\n"
             "  - id: b\n    needs: [a]\n    run: x\n",
             2, 21, "steps.b.outputs.v: \"b\" is not upstream of \"b\"");
    dag_free(load_ok("defaults:\n  cache: {key: \"${{ steps.a.outputs.v }}\"}\n"
                     "steps:\n  - id: a\n    run: x\n    cache: false\n"
                     "  - id: b\n    needs: [a]\n    run: x\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
