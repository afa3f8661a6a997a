/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the YAML tree: positions, scalar styles, core-schema typing,
 * the limits that refuse hostile input, merge keys and the JSON view.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "ynode.h"

static struct ydoc *parse_ok(const char *text)
{
    struct weir_err err = {0, ""};
    struct ydoc *doc = NULL;
    int line = 0, col = 0;
    int rc = ydoc_parse(text, strlen(text), NULL, &doc, &err, &line, &col);

    if (rc != 0)
        fail_msg("parse failed at %d:%d: %s", line, col, err.msg);
    assert_non_null(doc);
    return doc;
}

/* Parse text (len bytes) expecting failure with exactly this detail. */
static void expect_fail_n(const char *text, size_t len,
                          const struct ydoc_limits *lim, int code,
                          const char *msg, int line, int col)
{
    struct ydoc_limits def = ydoc_limits_default();
    struct weir_err err = {0, ""};
    struct ydoc *doc = NULL;
    int l = -1, c = -1;
    int rc = ydoc_parse(text, len, lim ? lim : &def, &doc, &err, &l, &c);

    assert_int_equal(rc, code);
    assert_int_equal(err.code, code);
    assert_string_equal(err.msg, msg);
    assert_int_equal(l, line);
    assert_int_equal(c, col);
    assert_null(doc);
}

static void expect_fail(const char *text, int code, const char *msg, int line,
                        int col)
{
    expect_fail_n(text, strlen(text), NULL, code, msg, line, col);
}

static void assert_pos(const struct ynode *n, int line, int col)
{
    assert_non_null(n);
    assert_int_equal(n->line, line);
    assert_int_equal(n->col, col);
}

/* The node's JSON, printed without spaces, compared with want. */
static void assert_json(const struct ynode *n, const char *want)
{
    struct weir_err err = {0, ""};
    const struct ynode *bad = NULL;
    cJSON *json = NULL;
    char *text;

    assert_int_equal(ynode_to_json(n, &json, &err, &bad), 0);
    text = cJSON_PrintUnformatted(json);
    assert_non_null(text);
    assert_string_equal(text, want);
    cJSON_free(text);
    cJSON_Delete(json);
}

static void test_positions_nested(void **state)
{
    static const char text[] = "name: demo\n"
                               "steps:\n"
                               "  - id: a\n"
                               "    run: \"echo hi\"\n"
                               "    needs: [x, 'y']\n"
                               "  - id: b\n"
                               "    cmd: |\n"
                               "      line\n";
    struct ydoc *doc = parse_ok(text);
    const struct ynode *root = ydoc_root(doc);
    const struct ynode *steps = ynode_map_get(root, "steps");
    const struct ynode *s0, *needs;

    (void)state;
    assert_pos(root, 1, 1);
    assert_pos(root->items[0], 1, 1);
    assert_pos(ynode_map_get(root, "name"), 1, 7);
    assert_int_equal(steps->kind, YNODE_SEQ);
    assert_int_equal(steps->n, 2);
    assert_pos(steps, 3, 3);
    s0 = steps->items[0];
    assert_pos(s0, 3, 5);
    assert_pos(ynode_map_get(s0, "run"), 4, 10);
    needs = ynode_map_get(s0, "needs");
    assert_pos(needs, 5, 12);
    assert_pos(needs->items[0], 5, 13);
    assert_pos(needs->items[1], 5, 16);
    assert_pos(steps->items[1], 6, 5);
    assert_pos(ynode_map_get(steps->items[1], "cmd"), 7, 10);
    ydoc_free(doc);
}

static void test_positions_bytes_and_breaks(void **state)
{
    struct ydoc *doc;
    const struct ynode *root;

    (void)state;
    /* columns count bytes: the two-byte é puts the list at column 5 */
    doc = parse_ok("\xc3\xa9: [a, b]\n");
    root = ydoc_root(doc);
    assert_pos(root->items[1], 1, 5);
    assert_pos(root->items[1]->items[1], 1, 9);
    ydoc_free(doc);
    /* CR LF is one line break; a UTF-8 byte-order mark is not a column */
    doc = parse_ok("\xef\xbb\xbf"
                   "a: 1\r\nb: 2\r\n");
    root = ydoc_root(doc);
    assert_pos(root, 1, 1);
    assert_pos(ynode_map_get(root, "b"), 2, 4);
    ydoc_free(doc);
    /* an anchored node starts at its anchor; an alias shares that node */
    doc = parse_ok("a: &x {k: v}\nb: *x\n");
    root = ydoc_root(doc);
    assert_pos(ynode_map_get(root, "a"), 1, 4);
    assert_ptr_equal(ynode_map_get(root, "a"), ynode_map_get(root, "b"));
    ydoc_free(doc);
}

static void test_scalar_styles(void **state)
{
    static const char text[] = "plain: some words\n"
                               "single: 'it''s'\n"
                               "double: \"a\\0b\\n\"\n"
                               "lit: |\n"
                               "  one\n"
                               "  two\n"
                               "fold: >-\n"
                               "  one\n"
                               "  two\n"
                               "tagged: !!str 12\n"
                               "custom: !thing x\n"
                               "bare: ! 12\n";
    struct ydoc *doc = parse_ok(text);
    const struct ynode *root = ydoc_root(doc), *n;

    (void)state;
    n = ynode_map_get(root, "plain");
    assert_int_equal(n->style, YSTYLE_PLAIN);
    assert_string_equal(n->str, "some words");
    assert_int_equal(n->len, 10);
    assert_null(n->tag);
    n = ynode_map_get(root, "single");
    assert_int_equal(n->style, YSTYLE_QUOTED);
    assert_string_equal(n->str, "it's");
    assert_null(n->tag);
    assert_pos(n, 2, 9);
    n = ynode_map_get(root, "double");
    assert_int_equal(n->style, YSTYLE_QUOTED);
    assert_int_equal(n->len, 4);
    assert_memory_equal(n->str, "a\0b\n", 5);
    n = ynode_map_get(root, "lit");
    assert_int_equal(n->style, YSTYLE_BLOCK);
    assert_string_equal(n->str, "one\ntwo\n");
    assert_pos(n, 4, 6);
    n = ynode_map_get(root, "fold");
    assert_int_equal(n->style, YSTYLE_BLOCK);
    assert_string_equal(n->str, "one two");
    n = ynode_map_get(root, "tagged");
    assert_string_equal(n->tag, "tag:yaml.org,2002:str");
    assert_string_equal(ynode_describe(n), "a string");
    assert_string_equal(ynode_map_get(root, "custom")->tag, "!thing");
    /* the non-specific tag on a plain scalar makes it a string */
    assert_string_equal(ynode_describe(ynode_map_get(root, "bare")),
                        "a string");
    ydoc_free(doc);
}

static void test_core_schema_words(void **state)
{
    static const char text[] = "yes: yes\n"
                               "quoted: \"3\"\n"
                               "tilde: ~\n"
                               "empty:\n"
                               "t: True\n"
                               "f: FALSE\n"
                               "neghex: -0x1F\n"
                               "under: 1_000\n"
                               "strnull: !!str null\n";
    struct ydoc *doc = parse_ok(text);
    const struct ynode *r = ydoc_root(doc);
    long long i = 0;
    bool b = false;

    (void)state;
    assert_int_equal(ynode_get_bool(ynode_map_get(r, "yes"), &b), WEIR_ETYPE);
    assert_string_equal(ynode_describe(ynode_map_get(r, "yes")), "a string");
    assert_int_equal(ynode_get_int(ynode_map_get(r, "quoted"), &i), WEIR_ETYPE);
    assert_string_equal(ynode_describe(ynode_map_get(r, "quoted")), "a string");
    assert_true(ynode_is_null(ynode_map_get(r, "tilde")));
    assert_true(ynode_is_null(ynode_map_get(r, "empty")));
    assert_string_equal(ynode_describe(ynode_map_get(r, "tilde")), "null");
    assert_int_equal(ynode_get_bool(ynode_map_get(r, "t"), &b), 0);
    assert_true(b);
    assert_int_equal(ynode_get_bool(ynode_map_get(r, "f"), &b), 0);
    assert_false(b);
    assert_string_equal(ynode_describe(ynode_map_get(r, "f")), "a boolean");
    assert_string_equal(ynode_describe(ynode_map_get(r, "neghex")), "a string");
    assert_string_equal(ynode_describe(ynode_map_get(r, "under")), "a string");
    assert_false(ynode_is_null(ynode_map_get(r, "strnull")));
    assert_false(ynode_is_null(r));
    assert_int_equal(ynode_get_int(r, &i), WEIR_ETYPE);
    assert_string_equal(ynode_describe(r), "a mapping");
    ydoc_free(doc);
}

static void test_core_schema_numbers(void **state)
{
    static const char text[] = "hex: 0x1F\n"
                               "oct: 0o17\n"
                               "exp: 1e3\n"
                               "inf: .inf\n"
                               "ninf: -.Inf\n"
                               "nan: .NaN\n"
                               "neg: -12\n"
                               "half: 1.5\n"
                               "huge: 99999999999999999999\n"
                               "int: !!int \"42\"\n";
    struct ydoc *doc = parse_ok(text);
    const struct ynode *r = ydoc_root(doc);
    long long i = 0;
    double d = 0;

    (void)state;
    assert_int_equal(ynode_get_int(ynode_map_get(r, "hex"), &i), 0);
    assert_int_equal(i, 31);
    assert_int_equal(ynode_get_int(ynode_map_get(r, "oct"), &i), 0);
    assert_int_equal(i, 15);
    assert_int_equal(ynode_get_double(ynode_map_get(r, "exp"), &d), 0);
    assert_true(d == 1000.0);
    assert_int_equal(ynode_get_int(ynode_map_get(r, "exp"), &i), 0);
    assert_int_equal(i, 1000);
    assert_int_equal(ynode_get_double(ynode_map_get(r, "inf"), &d), 0);
    assert_true(isinf(d) && d > 0);
    assert_int_equal(ynode_get_int(ynode_map_get(r, "inf"), &i), WEIR_ERANGE);
    assert_int_equal(ynode_get_double(ynode_map_get(r, "ninf"), &d), 0);
    assert_true(isinf(d) && d < 0);
    assert_int_equal(ynode_get_double(ynode_map_get(r, "nan"), &d), 0);
    assert_true(isnan(d));
    assert_int_equal(ynode_get_int(ynode_map_get(r, "neg"), &i), 0);
    assert_int_equal(i, -12);
    assert_int_equal(ynode_get_int(ynode_map_get(r, "half"), &i), WEIR_ETYPE);
    assert_int_equal(ynode_get_int(ynode_map_get(r, "huge"), &i), WEIR_ERANGE);
    assert_int_equal(ynode_get_double(ynode_map_get(r, "huge"), &d), 0);
    assert_true(d == 1e20);
    assert_int_equal(ynode_get_int(ynode_map_get(r, "int"), &i), 0);
    assert_int_equal(i, 42);
    assert_string_equal(ynode_describe(ynode_map_get(r, "half")), "a number");
    ydoc_free(doc);
}

static void test_int_limits(void **state)
{
    struct ydoc *doc = parse_ok("[9223372036854775807, -9223372036854775808,"
                                " 9223372036854775808, 0x7FFFFFFFFFFFFFFF,"
                                " 0x8000000000000000]\n");
    const struct ynode *r = ydoc_root(doc);
    long long i = 0;

    (void)state;
    assert_int_equal(ynode_get_int(r->items[0], &i), 0);
    assert_true(i == INT64_MAX);
    assert_int_equal(ynode_get_int(r->items[1], &i), 0);
    assert_true(i == INT64_MIN);
    assert_int_equal(ynode_get_int(r->items[2], &i), WEIR_ERANGE);
    assert_int_equal(ynode_get_int(r->items[3], &i), 0);
    assert_true(i == INT64_MAX);
    assert_int_equal(ynode_get_int(r->items[4], &i), WEIR_ERANGE);
    ydoc_free(doc);
}

static void test_limit_size(void **state)
{
    size_t len = 2000000;
    char *big = malloc(len);

    (void)state;
    assert_non_null(big);
    memset(big, 'a', len);
    expect_fail_n(big, len, NULL, WEIR_ETOOBIG,
                  "file is 2000000 bytes; the limit is 1048576", 0, 0);
    free(big);
}

/* prefix, then n nested flow lists around "x" */
static void nested_lists(char *buf, const char *prefix, int n)
{
    size_t p = strlen(prefix);
    int i;

    memcpy(buf, prefix, p);
    for (i = 0; i < n; i++) {
        buf[p + i] = '[';
        buf[p + n + 1 + i] = ']';
    }
    buf[p + n] = 'x';
    buf[p + 2 * n + 1] = '\0';
}

static void test_limit_depth(void **state)
{
    char text[200];
    struct ydoc *doc;

    (void)state;
    nested_lists(text, "", 32);
    doc = parse_ok(text);
    ydoc_free(doc);
    /* the 33rd list is refused where it starts */
    nested_lists(text, "", 33);
    expect_fail(text, WEIR_EPARSE, "nesting deeper than 32 levels", 1, 33);
    /* the root mapping is a level too */
    nested_lists(text, "top:\n  ", 32);
    expect_fail(text, WEIR_EPARSE, "nesting deeper than 32 levels", 2, 34);
    nested_lists(text, "top:\n  ", 31);
    doc = parse_ok(text);
    ydoc_free(doc);
}

static void test_limit_depth_alias(void **state)
{
    struct ydoc_limits lim = {4096, 4, 1000, 0};

    (void)state;
    expect_fail_n("a: &a [[1]]\nb: [[*a]]\n", 22, &lim, WEIR_EPARSE,
                  "nesting deeper than 4 levels once alias *a is expanded", 2,
                  6);
}

static void test_alias_bomb(void **state)
{
    static const char text[] =
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\","
        "\"lol\",\"lol\"]\n"
        "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
        "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
        "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
        "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
        "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
        "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
        "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";

    (void)state;
    /* e expands to 66,430 nodes; the first *e pushes past 100,000 */
    expect_fail(text, WEIR_ETOOBIG,
                "the document has more than 100000 nodes with aliases "
                "expanded",
                6, 8);
}

/* Few nodes, but each alias repeats a long text: the expanded text is
   counted too, or a 1 MiB file could stand for gigabytes of strings. */
static void test_alias_text_bomb(void **state)
{
    size_t cap = 100000 + 16 + 200 * 8, o;
    char *text = malloc(cap);

    (void)state;
    assert_non_null(text);
    o = (size_t)snprintf(text, cap, "a: &a ");
    memset(text + o, 'x', 100000);
    o += 100000;
    o += (size_t)snprintf(text + o, cap - o, "\nb:\n");
    for (int i = 0; i < 200; i++)
        o += (size_t)snprintf(text + o, cap - o, "- *a\n");
    /* 100,002 bytes as written, 100,000 more per alias: the 83rd alias,
       on line 85, passes 8 MiB */
    expect_fail_n(text, o, NULL, WEIR_ETOOBIG,
                  "the document has more than 8388608 bytes of text with "
                  "aliases expanded",
                  85, 3);
    free(text);
}

static void test_aliases_bad(void **state)
{
    (void)state;
    expect_fail("a: 1\nb: *nope\n", WEIR_EPARSE, "unknown alias *nope", 2, 4);
    expect_fail("a: &a [1, *a]\n", WEIR_EPARSE,
                "alias *a refers to a collection that contains it", 1, 11);
}

static void test_merge_keys(void **state)
{
    static const char text[] = "base: &base {a: 1, b: 2}\n"
                               "over: &over {b: 20, c: 30}\n"
                               "m:\n"
                               "  <<: [*base, *over]\n"
                               "  a: 100\n"
                               "one: {x: 0, <<: *base}\n"
                               "quoted: {\"<<\": *base}\n";
    struct ydoc *doc = parse_ok(text);
    const struct ynode *r = ydoc_root(doc), *m;

    (void)state;
    m = ynode_map_get(r, "m");
    assert_int_equal(m->n, 3);
    assert_json(m, "{\"b\":2,\"c\":30,\"a\":100}");
    assert_null(ynode_map_get(m, "<<"));
    assert_json(ynode_map_get(r, "one"), "{\"x\":0,\"a\":1,\"b\":2}");
    assert_json(ynode_map_get(r, "quoted"), "{\"<<\":{\"a\":1,\"b\":2}}");
    ydoc_free(doc);
    expect_fail("a: &a 1\nb: {<<: *a}\n", WEIR_EPARSE,
                "a merge key (<<) takes a mapping or a list of mappings", 2, 5);
    expect_fail("a: &a {k: 1}\nb:\n  <<: [*a, 2]\n", WEIR_EPARSE,
                "a merge key (<<) takes a mapping or a list of mappings", 3, 3);
}

static void test_merge_budget(void **state)
{
    static const char text[] = "base: &b {x: 1, y: 2}\nm: {<<: *b}\n";
    struct ydoc_limits lim = {4096, 32, 19, 0};
    struct weir_err err;
    struct ydoc *doc = NULL;
    int line, col;

    (void)state;
    /* 15 nodes as written, 4 more for the two merged pairs */
    assert_int_equal(
        ydoc_parse(text, strlen(text), &lim, &doc, &err, &line, &col), 0);
    ydoc_free(doc);
    lim.max_nodes = 18;
    expect_fail_n(text, strlen(text), &lim, WEIR_ETOOBIG,
                  "the document has more than 18 nodes with aliases expanded",
                  2, 5);
}

static void test_documents(void **state)
{
    struct ydoc *doc;

    (void)state;
    expect_fail("a: 1\n---\nb: 2\n", WEIR_EPARSE,
                "a DAG file holds one YAML document; found a second at line "
                "2, column 1",
                2, 1);
    expect_fail("---\na: 1\n...\n--- x\n", WEIR_EPARSE,
                "a DAG file holds one YAML document; found a second at line "
                "4, column 1",
                4, 1);
    expect_fail("", WEIR_EPARSE, "the file is empty", 0, 0);
    expect_fail("  \n\n", WEIR_EPARSE, "the file is empty", 0, 0);
    expect_fail("# only a comment\n", WEIR_EPARSE, "the file is empty", 0, 0);
    expect_fail("---\n", WEIR_EPARSE, "the file is empty", 0, 0);
    expect_fail_n(NULL, 0, NULL, WEIR_EPARSE, "the file is empty", 0, 0);
    doc = parse_ok("~\n");
    assert_true(ynode_is_null(ydoc_root(doc)));
    ydoc_free(doc);
}

static void test_bad_bytes(void **state)
{
    static const char nul[] = "a: b\nc\0d: e\n";
    static const char utf16[] = "\xff\xfe"
                                "a\0:\0";

    (void)state;
    expect_fail("a: ok\nb: caf\xe9\n", WEIR_EPARSE, "invalid UTF-8 byte 0xe9",
                2, 7);
    expect_fail("a: \xc0\xaf\n", WEIR_EPARSE, "invalid UTF-8 byte 0xc0", 1, 4);
    expect_fail("a: \xed\xa0\x80\n", WEIR_EPARSE, "invalid UTF-8 byte 0xed", 1,
                4);
    expect_fail("a: x\n\xe2\x82", WEIR_EPARSE, "invalid UTF-8 byte 0xe2", 2, 1);
    expect_fail("\xc3\xa9: \x80\n", WEIR_EPARSE, "invalid UTF-8 byte 0x80", 1,
                5);
    expect_fail("a: \xff\n", WEIR_EPARSE, "invalid UTF-8 byte 0xff", 1, 4);
    expect_fail_n(nul, sizeof(nul) - 1, NULL, WEIR_EPARSE,
                  "NUL byte in the text", 2, 2);
    expect_fail_n(utf16, sizeof(utf16) - 1, NULL, WEIR_EPARSE,
                  "the text is UTF-16 (it starts with a byte-order mark 0xff "
                  "0xfe); save it as UTF-8",
                  0, 0);
    expect_fail("a: \x07\n", WEIR_EPARSE,
                "control characters are not allowed (U+0007)", 1, 4);
}

static void test_syntax_errors(void **state)
{
    (void)state;
    expect_fail("key: [1, 2\n", WEIR_EPARSE,
                "did not find expected ',' or ']' (while parsing a flow "
                "sequence at line 1, column 6)",
                2, 1);
    expect_fail("a:\n\tb: 1\n", WEIR_EPARSE,
                "found character that cannot start any token (while scanning "
                "for the next token at line 2, column 1)",
                2, 1);
    expect_fail("a: b: c\n", WEIR_EPARSE,
                "mapping values are not allowed in this context", 1, 5);
}

static void test_to_json(void **state)
{
    static const char text[] = "name: demo\n"
                               "n: 3\n"
                               "f: 2.5\n"
                               "ok: true\n"
                               "none: ~\n"
                               "s: \"3\"\n"
                               "list:\n"
                               "  - {a: [1, 0x10, x]}\n"
                               "  - []\n"
                               "  - {}\n"
                               "big: 1000000000000000\n"
                               "edge: -999999999999999\n"
                               "inf: .inf\n"
                               "tagged: !!float 1\n";
    static const char want[] =
        "{\"name\":\"demo\",\"n\":3,\"f\":2.5,\"ok\":true,\"none\":null,"
        "\"s\":\"3\",\"list\":[{\"a\":[1,16,\"x\"]},[],{}],"
        "\"big\":\"1000000000000000\",\"edge\":-999999999999999,"
        "\"inf\":\".inf\",\"tagged\":1}";
    struct ydoc *doc = parse_ok(text);
    cJSON *parsed = cJSON_Parse(want), *json = NULL;
    struct weir_err err;
    const struct ynode *bad = NULL;

    (void)state;
    assert_json(ydoc_root(doc), want);
    assert_int_equal(ynode_to_json(ydoc_root(doc), &json, &err, &bad), 0);
    assert_true(cJSON_Compare(json, parsed, true));
    cJSON_Delete(json);
    cJSON_Delete(parsed);
    ydoc_free(doc);
}

static void test_to_json_errors(void **state)
{
    struct weir_err err = {0, ""};
    const struct ynode *bad = NULL;
    cJSON *json = NULL;
    struct ydoc *doc;

    (void)state;
    doc = parse_ok("a: 1\nb:\n  ? [k]\n  : v\n");
    assert_int_equal(ynode_to_json(ydoc_root(doc), &json, &err, &bad),
                     WEIR_ETYPE);
    assert_string_equal(err.msg,
                        "a mapping key must be a scalar to become JSON");
    assert_pos(bad, 3, 5);
    assert_null(json);
    ydoc_free(doc);
    doc = parse_ok("x: !!int abc\n");
    assert_int_equal(ynode_to_json(ydoc_root(doc), &json, &err, &bad),
                     WEIR_ETYPE);
    assert_string_equal(err.msg, "the value is not a valid !!int");
    assert_pos(bad, 1, 4);
    ydoc_free(doc);
    doc = parse_ok("x: \"a\\0b\"\n");
    assert_int_equal(ynode_to_json(ydoc_root(doc), &json, &err, &bad),
                     WEIR_EINVAL);
    assert_string_equal(err.msg, "the string holds a NUL byte");
    assert_pos(bad, 1, 4);
    ydoc_free(doc);
}

static void test_map_get_and_describe(void **state)
{
    struct ydoc *doc = parse_ok("k: first\nk: second\nl: [1]\n1: one\n");
    const struct ynode *r = ydoc_root(doc);

    (void)state;
    assert_string_equal(ynode_map_get(r, "k")->str, "first");
    assert_string_equal(ynode_map_get(r, "1")->str, "one");
    assert_null(ynode_map_get(r, "missing"));
    assert_null(ynode_map_get(ynode_map_get(r, "l"), "k"));
    assert_null(ynode_map_get(NULL, "k"));
    assert_string_equal(ynode_describe(ynode_map_get(r, "l")), "a list");
    assert_string_equal(ynode_describe(ynode_map_get(r, "l")->items[0]),
                        "a number");
    assert_string_equal(ynode_describe(NULL), "nothing");
    assert_null(ydoc_root(NULL));
    ydoc_free(NULL);
    ydoc_free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_positions_nested),
        cmocka_unit_test(test_positions_bytes_and_breaks),
        cmocka_unit_test(test_scalar_styles),
        cmocka_unit_test(test_core_schema_words),
        cmocka_unit_test(test_core_schema_numbers),
        cmocka_unit_test(test_int_limits),
        cmocka_unit_test(test_limit_size),
        cmocka_unit_test(test_limit_depth),
        cmocka_unit_test(test_limit_depth_alias),
        cmocka_unit_test(test_alias_bomb),
        cmocka_unit_test(test_alias_text_bomb),
        cmocka_unit_test(test_aliases_bad),
        cmocka_unit_test(test_merge_keys),
        cmocka_unit_test(test_merge_budget),
        cmocka_unit_test(test_documents),
        cmocka_unit_test(test_bad_bytes),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_to_json),
        cmocka_unit_test(test_to_json_errors),
        cmocka_unit_test(test_map_get_and_describe),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
