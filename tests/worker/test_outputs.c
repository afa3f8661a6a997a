/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the outputs file parser: key=value and key<<DELIMITER lines,
 * overrides, errors that name their line, and the limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "outputs.h"

static cJSON *parse_ok(const char *text)
{
    struct weir_err err = {0};
    cJSON *out = NULL;

    if (outputs_parse(text, strlen(text), &out, &err) != 0)
        fail_msg("outputs_parse: %s", err.msg);
    assert_true(cJSON_IsObject(out));
    return out;
}

static void expect_output(const cJSON *obj, const char *key, const char *want)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (!cJSON_IsString(v))
        fail_msg("no string output \"%s\"", key);
    assert_string_equal(v->valuestring, want);
}

static void expect_error(const char *text, size_t len, int code,
                         const char *part)
{
    struct weir_err err = {0};
    cJSON *out = (cJSON *)&err; /* must stay untouched */

    assert_int_equal(outputs_parse(text, len, &out, &err), code);
    assert_ptr_equal(out, (cJSON *)&err);
    if (strstr(err.msg, part) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, part);
}

static void test_simple(void **state)
{
    cJSON *o = parse_ok("a=1\nb=two words\nc=x=y\nempty=\n\n"
                        "Key.with-all_9=ok\nlast=no newline");

    (void)state;
    assert_int_equal(cJSON_GetArraySize(o), 6);
    expect_output(o, "a", "1");
    expect_output(o, "b", "two words");
    expect_output(o, "c", "x=y");
    expect_output(o, "empty", "");
    expect_output(o, "Key.with-all_9", "ok");
    expect_output(o, "last", "no newline");
    cJSON_Delete(o);
}

static void test_empty_file(void **state)
{
    cJSON *o = parse_ok("");

    (void)state;
    assert_int_equal(cJSON_GetArraySize(o), 0);
    cJSON_Delete(o);
    o = parse_ok("\n\n");
    assert_int_equal(cJSON_GetArraySize(o), 0);
    cJSON_Delete(o);
}

static void test_multi_line(void **state)
{
    cJSON *o = parse_ok("before=1\n"
                        "notes<<EOF\nline one\n\nkey=not parsed\nEOF\n"
                        "empty<<X\nX\n"
                        "one<<END\nonly\nEND\n"
                        "eq<<A=B\nv\nA=B\n"
                        "after=2");

    (void)state;
    expect_output(o, "before", "1");
    expect_output(o, "notes", "line one\n\nkey=not parsed");
    expect_output(o, "empty", "");
    expect_output(o, "one", "only");
    expect_output(o, "eq", "v");
    expect_output(o, "after", "2");
    assert_null(cJSON_GetObjectItemCaseSensitive(o, "key"));
    cJSON_Delete(o);
}

static void test_equals_before_heredoc(void **state)
{
    cJSON *o = parse_ok("a=b<<c\n");

    (void)state;
    expect_output(o, "a", "b<<c");
    cJSON_Delete(o);
}

static void test_override(void **state)
{
    cJSON *o = parse_ok("a=1\nb=x\na=2\nm<<E\nfirst\nE\nm=second\n");

    (void)state;
    assert_int_equal(cJSON_GetArraySize(o), 3);
    expect_output(o, "a", "2");
    expect_output(o, "b", "x");
    expect_output(o, "m", "second");
    cJSON_Delete(o);
}

/* A string literal and its length, NUL bytes included. */
#define LIT(s) s, sizeof(s) - 1

static void test_malformed_lines(void **state)
{
    (void)state;
    expect_error(LIT("a=1\nb=2\nnot a pair\n"), WEIR_EPARSE, "line 3:");
    expect_error(LIT("a=1\nbad key=1\n"), WEIR_EPARSE, "line 2: key");
    expect_error(LIT("=v\n"), WEIR_EPARSE, "line 1: key");
    expect_error(LIT("a/b=1"), WEIR_EPARSE, "line 1: key \"a/b\"");
    expect_error(LIT("ok=1\n\nm<<\n"), WEIR_EPARSE,
                 "line 3: \"m<<\" needs a delimiter");
    expect_error(LIT("a=1\nm<<EOF\nx\nEOFX\n"), WEIR_EPARSE,
                 "line 2: \"m<<\" is not closed: no line \"EOF\"");
    expect_error(LIT("a=1\nb=\xff\n"), WEIR_EPARSE,
                 "line 2: the value of \"b\" is not valid UTF-8");
    expect_error(LIT("a=1\n\nb=x\0y\n"), WEIR_EPARSE,
                 "line 3: contains a NUL byte");
}

static void test_value_limit(void **state)
{
    size_t n = OUTPUTS_MAX_VALUE + 1;
    char *text = malloc(n + 16);
    cJSON *o;

    (void)state;
    assert_non_null(text);
    memcpy(text, "a=1\nv=", 6);
    memset(text + 6, 'x', n);
    text[6 + n] = '\0';
    expect_error(text, 6 + n, WEIR_ETOOBIG,
                 "line 2: the value of \"v\" is 65537 bytes; the limit");
    text[6 + n - 1] = '\0'; /* exactly at the limit */
    o = parse_ok(text);
    assert_int_equal(
        strlen(cJSON_GetObjectItemCaseSensitive(o, "v")->valuestring),
        OUTPUTS_MAX_VALUE);
    cJSON_Delete(o);
    free(text);
}

static void test_key_count_limit(void **state)
{
    size_t cap = 20 * (OUTPUTS_MAX_KEYS + 2), len = 0;
    char *text = malloc(cap);
    cJSON *o;

    (void)state;
    assert_non_null(text);
    for (int i = 0; i < OUTPUTS_MAX_KEYS; i++)
        len += (size_t)snprintf(text + len, cap - len, "k%d=%d\n", i, i);
    /* overriding an existing key at the limit is fine */
    len += (size_t)snprintf(text + len, cap - len, "k0=again\n");
    o = parse_ok(text);
    assert_int_equal(cJSON_GetArraySize(o), OUTPUTS_MAX_KEYS);
    expect_output(o, "k0", "again");
    cJSON_Delete(o);
    len += (size_t)snprintf(text + len, cap - len, "one_more=1\n");
    expect_error(text, len, WEIR_ETOOBIG, "line 1002: more than 1000 keys");
    free(text);
}

static void test_file_limit(void **state)
{
    size_t n = OUTPUTS_MAX_FILE + 1;
    char *text = malloc(n);

    (void)state;
    assert_non_null(text);
    memset(text, '\n', n);
    expect_error(text, n, WEIR_ETOOBIG, "the limit is 1048576");
    free(text);
}

static void test_read_file(void **state)
{
    char dir[] = "/tmp/weir-test-outputs-XXXXXX";
    char path[128], link[128], fifo[128], big[128];
    struct weir_err err = {0};
    cJSON *o = NULL;
    char *blob;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/outputs", dir);
    snprintf(link, sizeof(link), "%s/link", dir);
    snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
    snprintf(big, sizeof(big), "%s/big", dir);
    assert_int_equal(fsutil_file_write(path, "x=1\ny<<E\n2\nE\n", 13, &err), 0);
    assert_int_equal(outputs_read(path, &o, &err), 0);
    expect_output(o, "x", "1");
    expect_output(o, "y", "2");
    cJSON_Delete(o);

    assert_int_equal(symlink(path, link), 0);
    assert_int_equal(outputs_read(link, &o, &err), WEIR_EIO);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(outputs_read(fifo, &o, &err), WEIR_EINVAL);

    blob = malloc(OUTPUTS_MAX_FILE + 1);
    assert_non_null(blob);
    memset(blob, '\n', OUTPUTS_MAX_FILE + 1);
    assert_int_equal(fsutil_file_write(big, blob, OUTPUTS_MAX_FILE + 1, &err),
                     0);
    free(blob);
    assert_int_equal(outputs_read(big, &o, &err), WEIR_ETOOBIG);
    assert_non_null(strstr(err.msg, "the limit is 1048576"));

    assert_int_equal(fsutil_tree_remove(dir, &err), 0);
    assert_int_equal(access(dir, F_OK), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_multi_line),
        cmocka_unit_test(test_equals_before_heredoc),
        cmocka_unit_test(test_override),
        cmocka_unit_test(test_malformed_lines),
        cmocka_unit_test(test_value_limit),
        cmocka_unit_test(test_key_count_limit),
        cmocka_unit_test(test_file_limit),
        cmocka_unit_test(test_read_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
