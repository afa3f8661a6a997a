/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Steps mapped over an upstream's output as the loader reads them: `map:`
 * and a matrix axis given as "${{ steps.X.outputs.Y }}", what the model
 * and its JSON say of them, and every problem with its line:col.
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

/* An upstream writing a list, to complete a document. */
#define LIST "steps:\n  - id: list\n    run: echo\n"

static void test_map_shorthand(void **state)
{
    struct dag *dag = load_ok(LIST "  - id: each\n"
                                   "    needs: list\n"
                                   "    map: ${{ steps.list.outputs.files }}\n"
                                   "    run: echo ${{ matrix.item }}\n");
    const struct dag_step *s = dag_step_get(dag, "each");
    const struct dag_step *l = dag_step_get(dag, "list");

    (void)state;
    assert_non_null(s);
    assert_true(dag_step_mapped(s));
    assert_false(dag_step_mapped(l));
    assert_string_equal(s->map_step, "list");
    assert_string_equal(s->map_output, "files");
    assert_int_equal(s->n_matrix, 1);
    assert_string_equal(s->matrix[0].name, "item");
    assert_null(s->matrix[0].values);
    assert_int_equal(s->n_cells, 1);
    assert_int_equal(s->map_pos.line, 6);
    assert_int_equal(s->map_pos.col, 14);
    dag_free(dag);
}

static void test_matrix_form_json(void **state)
{
    struct dag *dag =
        load_ok(LIST "  - id: mid\n    needs: list\n    run: x\n"
                     "  - id: each\n"
                     "    needs: mid\n"
                     "    matrix:\n"
                     "      file: \"${{ steps.list.outputs.f }}\"\n"
                     "    run: echo ${{ matrix.file }}\n");
    const struct dag_step *s = dag_step_get(dag, "each");
    cJSON *j = dag_to_json(dag), *step = NULL, *it;

    (void)state;
    assert_non_null(s);
    /* a transitive upstream is enough */
    assert_string_equal(s->map_step, "list");
    assert_string_equal(s->matrix[0].name, "file");
    assert_non_null(j);
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(j, "steps"))
    {
        if (strcmp(cJSON_GetObjectItem(it, "id")->valuestring, "each") == 0)
            step = it;
    }
    assert_non_null(step);
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(step, "matrix"), "file")
            ->valuestring,
        "${{ steps.list.outputs.f }}");
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(step, "map"), "step")
            ->valuestring,
        "list");
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(step, "map"), "output")
            ->valuestring,
        "f");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(step, "cells")));
    /* other steps have no "map" key */
    assert_null(cJSON_GetObjectItem(
        cJSON_GetArrayItem(cJSON_GetObjectItem(j, "steps"), 0), "map"));
    cJSON_Delete(j);
    dag_free(dag);
}

/* An expected problem: where, and the message. */
struct want {
    int line, col;
    const char *msg;
};

static void expect_one(const char *yaml, struct want w)
{
    struct dag_diags d;
    struct dag *dag = NULL;
    int rc;

    dag_diags_init(&d);
    rc = dag_load("dags/t.yaml", yaml, strlen(yaml), &dag, &d);
    if (d.n != 1 || strcmp(d.v[0].msg, w.msg) != 0 ||
        d.v[0].pos.line != w.line || d.v[0].pos.col != w.col) {
        print_message("wanted %d:%d: %s\n%s\n", w.line, w.col, w.msg, yaml);
        for (size_t i = 0; i < d.n; i++)
            print_message("  got %d:%d: %s\n", d.v[i].pos.line, d.v[i].pos.col,
                          d.v[i].msg);
    }
    assert_int_equal(rc, WEIR_EINVAL);
    assert_null(dag);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.v[0].msg, w.msg);
    assert_int_equal(d.v[0].pos.line, w.line);
    assert_int_equal(d.v[0].pos.col, w.col);
    dag_diags_cleanup(&d);
}

#define EACH "  - id: each\n    needs: list\n"

static void test_map_errors(void **state)
{
    (void)state;
    expect_one(LIST EACH "    map: ${{ steps.lst.outputs.files }}\n"
                         "    run: x\n",
               (struct want){6, 14,
                             "steps.lst.outputs.files: \"lst\" is not a step "
                             "(did you mean \"list\"?)"});
    expect_one(LIST EACH "    map: ${{ steps.list.output.files }}\n"
                         "    run: x\n",
               (struct want){6, 10,
                             "\"map\" takes one upstream output, \"${{ "
                             "steps.<id>.outputs.<key> }}\" (a JSON list), "
                             "got \"${{ steps.list.output.files }}\" (did you "
                             "mean \"steps.list.outputs.files\"?)"});
    expect_one(LIST EACH "    map: ${{ step.list.outputs.files }}\n"
                         "    run: x\n",
               (struct want){6, 10,
                             "\"map\" takes one upstream output, \"${{ "
                             "steps.<id>.outputs.<key> }}\" (a JSON list), "
                             "got \"${{ step.list.outputs.files }}\" (did you "
                             "mean \"steps.list.outputs.files\"?)"});
    expect_one(LIST EACH "    map: [a, b]\n    run: x\n",
               (struct want){6, 10,
                             "\"map\" takes one upstream output, \"${{ "
                             "steps.<id>.outputs.<key> }}\" (a JSON list), "
                             "got a list"});
    expect_one(LIST EACH "    map: files-${{ steps.list.outputs.f }}\n"
                         "    run: x\n",
               (struct want){6, 10,
                             "\"map\" takes one upstream output, \"${{ "
                             "steps.<id>.outputs.<key> }}\" (a JSON list), "
                             "got \"files-${{ steps.list.outputs.f }}\""});
    expect_one(LIST EACH "    map: ${{ steps.list.state }}\n    run: x\n",
               (struct want){6, 10,
                             "\"map\" takes one upstream output, \"${{ "
                             "steps.<id>.outputs.<key> }}\" (a JSON list), "
                             "got \"${{ steps.list.state }}\""});
}

static void test_map_rules(void **state)
{
    (void)state;
    /* the step mapped over must be upstream */
    expect_one(LIST "  - id: other\n    run: x\n"
                    "  - id: each\n"
                    "    map: ${{ steps.other.outputs.f }}\n"
                    "    needs: list\n"
                    "    run: x\n",
               (struct want){7, 14,
                             "steps.other.outputs.f: \"other\" is not "
                             "upstream of \"each\""});
    /* map and matrix together */
    expect_one(LIST EACH "    map: ${{ steps.list.outputs.f }}\n"
                         "    matrix: {x: [1]}\n"
                         "    run: x\n",
               (struct want){6, 5,
                             "step \"each\" has both \"map\" and \"matrix\"; "
                             "\"map\" is the shorthand of a matrix with one "
                             "axis mapped at run time"});
    /* a mapped axis with a listed one */
    expect_one(LIST EACH "    matrix:\n"
                         "      x: [1, 2]\n"
                         "      f: ${{ steps.list.outputs.f }}\n"
                         "    run: x\n",
               (struct want){6, 5,
                             "a matrix with an axis mapped at run time "
                             "(\"${{ }}\") must have that axis only; mapped "
                             "and listed axes (or two mapped axes) do not "
                             "combine"});
    /* an upstream with a matrix of its own */
    expect_one(
        "steps:\n  - id: list\n    matrix: {k: [1, 2]}\n    run: x\n" EACH
        "    map: ${{ steps.list.outputs.f }}\n    run: x\n",
        (struct want){7, 14,
                      "step \"each\" maps over an output of \"list\", "
                      "which has a matrix: map over one step's output "
                      "(a matrix step's cells reach a fan-in step in "
                      "$WEIR_INPUTS)"});
    /* matrix.<axis> of a mapped step */
    expect_one(LIST EACH "    map: ${{ steps.list.outputs.f }}\n"
                         "    run: echo ${{ matrix.itm }}\n",
               (struct want){7, 19,
                             "unknown name \"matrix.itm\" (did you mean "
                             "\"matrix.item\"?)"});
    /* a typo of the key */
    expect_one(LIST EACH "    mapp: ${{ steps.list.outputs.f }}\n"
                         "    run: x\n",
               (struct want){6, 5,
                             "unknown key \"mapp\" in step \"each\" (did you "
                             "mean \"map\"?)"});
    /* an approval gate is one task */
    expect_one(LIST EACH "    map: ${{ steps.list.outputs.f }}\n"
                         "    approval: true\n",
               (struct want){6, 5, "an approval step cannot have a map"});
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_shorthand),
        cmocka_unit_test(test_matrix_form_json),
        cmocka_unit_test(test_map_errors),
        cmocka_unit_test(test_map_rules),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
