/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for role grants (server/api/grant.c): the text and JSON
 * forms and their errors, what each role gives, how scopes cover a
 * target (a scoped grant never covers a target beyond its scope), the
 * refusal's words, and the SQL scope of a listing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/grant.h"

static struct grant parse_ok(const char *text)
{
    struct grant g;
    struct weir_err err = {0};

    if (grant_parse(text, &g, &err) != 0)
        fail_msg("%s: %s", text, err.msg);
    return g;
}

static void parse_bad(const char *text, const char *has)
{
    struct grant g;
    struct weir_err err = {0};

    assert_int_equal(grant_parse(text, &g, &err), WEIR_EINVAL);
    if (strstr(err.msg, has) == NULL)
        fail_msg("\"%s\" not in: %s", has, err.msg);
}

static void test_text(void **state)
{
    struct grant g;
    char buf[GRANT_TEXT_LEN];

    (void)state;
    g = parse_ok("operator:env=dev,staging:dag=team-a-*");
    assert_int_equal(g.role, GRANT_OPERATOR);
    assert_string_equal(g.envs, "dev,staging");
    assert_string_equal(g.dags, "team-a-*");
    grant_format(&g, buf, sizeof(buf));
    assert_string_equal(buf, "operator:env=dev,staging:dag=team-a-*");
    g = parse_ok("worker:queues=gpu,cpu.big");
    assert_string_equal(g.queues, "gpu,cpu.big");
    g = parse_ok("admin");
    grant_format(&g, buf, sizeof(buf));
    assert_string_equal(buf, "admin");

    parse_bad("operater", "did you mean \"operator\"");
    parse_bad("", "is not one of admin, operator");
    parse_bad("read:envs=dev", "did you mean \"env=\"");
    parse_bad("read:env", "is not KEY=NAMES");
    parse_bad("read:env=", "needs at least one name");
    parse_bad("read:env=dev,,prod", "empty name");
    parse_bad("read:env=dev:env=prod", "given twice");
    parse_bad("read:env=d ev", "\"d ev\" is not a name");
    parse_bad("read:dag=Team", "DAG id pattern");
    parse_bad("read:queues=a", "worker grant only");
    parse_bad("ingest:dag=a", "takes no env= or dag= scope");
    parse_bad("worker:env=dev", "takes no env= or dag= scope");
    parse_bad(
        "read:env=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaa",
        "longer than 64");
}

static void test_json(void **state)
{
    struct grant_set s;
    struct weir_err err = {0};
    cJSON *in = cJSON_Parse("[\"read\", {\"role\": \"operator\", \"env\": "
                            "[\"dev\"], \"dag\": [\"a-*\", \"b\"]}]");
    cJSON *out;
    char *text;

    (void)state;
    assert_int_equal(grant_set_from_json(in, &s, &err), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.g[1].dags, "a-*,b");
    out = grant_set_texts(&s);
    text = cJSON_PrintUnformatted(out);
    assert_string_equal(text, "[\"read\",\"operator:env=dev:dag=a-*,b\"]");
    cJSON_free(text);
    cJSON_Delete(out);
    out = grant_set_to_json(&s);
    text = cJSON_PrintUnformatted(out);
    assert_string_equal(text, "[{\"role\":\"read\"},{\"role\":\"operator\","
                              "\"env\":[\"dev\"],\"dag\":[\"a-*\",\"b\"]}]");
    cJSON_free(text);
    cJSON_Delete(out);
    cJSON_Delete(in);

    in = cJSON_Parse("[\"read\", {\"role\": \"read\", \"dags\": [\"a\"]}]");
    assert_int_equal(grant_set_from_json(in, &s, &err), WEIR_EINVAL);
    assert_non_null(strstr(err.msg, "grant 1: unknown key \"dags\""));
    assert_non_null(strstr(err.msg, "did you mean \"dag\""));
    cJSON_Delete(in);
    in = cJSON_Parse("[{\"role\": \"read\", \"env\": [\"a,b\"]}]");
    assert_int_equal(grant_set_from_json(in, &s, &err), WEIR_EINVAL);
    assert_non_null(strstr(err.msg, "\"a,b\" is not a name"));
    cJSON_Delete(in);
    in = cJSON_Parse("[]");
    assert_int_equal(grant_set_from_json(in, &s, &err), WEIR_EINVAL);
    cJSON_Delete(in);
    in = cJSON_Parse("[1]");
    assert_int_equal(grant_set_from_json(in, &s, &err), WEIR_EINVAL);
    assert_non_null(strstr(err.msg, "grant 0: a grant is a string"));
    cJSON_Delete(in);
}

/* Each role gives exactly its actions. */
static void test_roles(void **state)
{
    static const char *const want[GRANT_ROLES] = {
        [GRANT_ADMIN] = ("read trigger cancel retry approve pause promote "
                         "submit delete ingest work admin"),
        [GRANT_OPERATOR] = "read trigger cancel retry approve pause promote",
        [GRANT_AUTHOR] = "read submit delete",
        [GRANT_READ] = "read",
        [GRANT_INGEST] = "ingest",
        [GRANT_WORKER] = "work",
    };

    (void)state;
    for (int r = 0; r < GRANT_ROLES; r++) {
        char got[200] = "";

        for (int a = 0; a < GRANT_ACTIONS; a++) {
            if (!grant_role_allows((enum grant_role)r, (enum grant_action)a))
                continue;
            if (got[0])
                strcat(got, " ");
            strcat(got, grant_action_name((enum grant_action)a));
        }
        assert_string_equal(got, want[r]);
    }
}

static void test_scopes(void **state)
{
    struct grant g = parse_ok("operator:env=dev,staging:dag=team-a-*");
    struct grant any = parse_ok("operator");

    (void)state;
    assert_true(grant_allows(&g, GRANT_ACT_TRIGGER, "team-a-etl", "dev"));
    assert_true(grant_allows(&g, GRANT_ACT_READ, "team-a-", "staging"));
    assert_false(grant_allows(&g, GRANT_ACT_TRIGGER, "team-a-etl", "prod"));
    assert_false(grant_allows(&g, GRANT_ACT_TRIGGER, "team-b-etl", "dev"));
    assert_false(grant_allows(&g, GRANT_ACT_SUBMIT, "team-a-etl", "dev"));
    /* beyond its scope: no one DAG, no one environment */
    assert_false(grant_allows(&g, GRANT_ACT_PAUSE, "team-a-etl", NULL));
    assert_false(grant_allows(&g, GRANT_ACT_PAUSE, "team-a-etl", ""));
    assert_false(grant_allows(&g, GRANT_ACT_READ, NULL, "dev"));
    assert_true(grant_allows(&any, GRANT_ACT_PAUSE, "x", NULL));
    assert_true(grant_allows(&any, GRANT_ACT_READ, NULL, NULL));

    assert_true(grant_pattern_match("a*b?c", "a--b-c"));
    assert_true(grant_pattern_match("*", ""));
    assert_true(grant_pattern_match("a*", "a"));
    assert_false(grant_pattern_match("a*b", "a-bc"));
    assert_false(grant_pattern_match("a?", "a"));
    assert_true(grant_pattern_match("*-*-x", "a-b-c-x"));
}

static void test_set(void **state)
{
    struct grant_set s = {0};
    struct grant g = parse_ok("operator:env=dev,staging");
    struct grant w = parse_ok("worker:queues=gpu");
    struct weir_err err = {0};

    (void)state;
    assert_int_equal(grant_set_add(&s, &g, &err), 0);
    assert_int_equal(grant_set_add(&s, &w, &err), 0);
    assert_int_equal(
        grant_set_allows(&s, GRANT_ACT_APPROVE, "etl", "dev", &err), 0);
    assert_int_equal(
        grant_set_allows(&s, GRANT_ACT_APPROVE, "etl", "prod", &err),
        WEIR_EFORBIDDEN);
    assert_string_equal(
        err.msg, "not allowed to approve DAG \"etl\" in environment \"prod\": "
                 "that needs a grant of operator or admin that covers "
                 "dag=etl and covers env=prod; this caller has "
                 "operator:env=dev,staging worker:queues=gpu");
    assert_int_equal(grant_set_allows(&s, GRANT_ACT_ADMIN, NULL, NULL, &err),
                     WEIR_EFORBIDDEN);
    assert_non_null(strstr(err.msg, "grant of admin that has no dag= limit "
                                    "and has no env= limit"));
    assert_true(grant_set_any(&s, GRANT_ACT_CANCEL));
    assert_false(grant_set_any(&s, GRANT_ACT_SUBMIT));
    assert_true(grant_set_queue(&s, "gpu"));
    assert_false(grant_set_queue(&s, "cpu"));
    for (int i = 2; i < GRANT_MAX; i++)
        assert_int_equal(grant_set_add(&s, &g, &err), 0);
    assert_int_equal(grant_set_add(&s, &g, &err), WEIR_EINVAL);
}

static void test_scope_sql(void **state)
{
    struct grant_set s = {0};
    struct grant a = parse_ok("read:dag=a_b*,x?");
    struct grant b = parse_ok("operator:env=dev");
    struct grant c = parse_ok("ingest");
    struct weir_err err = {0};
    cJSON *j;
    char *text;

    (void)state;
    assert_int_equal(grant_set_add(&s, &a, &err), 0);
    assert_int_equal(grant_set_add(&s, &b, &err), 0);
    assert_int_equal(grant_set_add(&s, &c, &err), 0);
    j = grant_set_scope_sql(&s, GRANT_ACT_READ);
    text = cJSON_PrintUnformatted(j);
    assert_string_equal(text, "[{\"env\":null,\"dag\":[\"a\\\\_b%\",\"x_\"]},"
                              "{\"env\":[\"dev\"],\"dag\":null}]");
    cJSON_free(text);
    cJSON_Delete(j);
    j = grant_set_scope_sql(&s, GRANT_ACT_SUBMIT);
    assert_int_equal(cJSON_GetArraySize(j), 0);
    cJSON_Delete(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text),  cmocka_unit_test(test_json),
        cmocka_unit_test(test_roles), cmocka_unit_test(test_scopes),
        cmocka_unit_test(test_set),   cmocka_unit_test(test_scope_sql),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
