/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the secrets key ring (server/engine/secretkey.c): key
 * files (mode, content, several keys and files), sealing and opening
 * with AES-256-GCM, a value that does not open under another name,
 * environment, key or a changed byte, and a fresh nonce per value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/secretkey.h"

static const char k1[] =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
static const char k2[] =
    "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

static char dir[] = "/tmp/weir-secretkey-XXXXXX";

/* A file of dir holding text, with mode. */
static const char *file_of(const char *name, const char *text, mode_t mode)
{
    static char path[8][256];
    static int next;
    char *p = path[next++ % 8];
    FILE *f;

    snprintf(p, 256, "%s/%s", dir, name);
    f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(p, mode), 0);
    return p;
}

static int load(const char *path, struct weir_err *err)
{
    const char *files[1] = {path};

    return secretkey_load(files, 1, err);
}

static void test_key_files(void **state)
{
    struct weir_err err = {0};
    char two[200];

    (void)state;
    assert_int_equal(load(file_of("open", k1, 0644), &err), WEIR_EINVAL);
    assert_non_null(strstr(err.msg, "has mode 0644"));
    assert_false(secretkey_ready());
    assert_int_equal(load(file_of("short", "abcd\n", 0600), &err), WEIR_EINVAL);
    assert_non_null(strstr(err.msg, "line 1: expected a key of 64 hex"));
    assert_int_equal(load(file_of("empty", "# none\n\n", 0600), &err),
                     WEIR_EINVAL);
    assert_non_null(strstr(err.msg, "holds no key"));
    assert_int_equal(load("/nonexistent/key", &err), WEIR_EINVAL);
    assert_non_null(strstr(err.msg, "cannot open"));
    snprintf(two, sizeof(two), "# ring\n%s\n\n  %s  \n", k1, k2);
    assert_int_equal(load(file_of("two", two, 0400), &err), 0);
    assert_true(secretkey_ready());
    assert_int_equal(secretkey_count(), 2);
    assert_int_equal(strlen(secretkey_first_id()), SECRETKEY_ID_LEN);
    secretkey_unload();
    assert_false(secretkey_ready());
}

/* Seal value as (name, env): ciphertext and nonce into the out args. */
static void seal(const char *name, const char *env, const char *value,
                 unsigned char nonce[SECRETKEY_NONCE_LEN], unsigned char **ct,
                 size_t *n, char kid[SECRETKEY_ID_LEN + 1])
{
    struct weir_err err = {0};

    if (secretkey_seal(name, env, value, strlen(value), nonce, ct, n, kid,
                       &err) != 0)
        fail_msg("seal: %s", err.msg);
    assert_int_equal(*n, strlen(value) + SECRETKEY_TAG_LEN);
    assert_null(memmem(*ct, *n, value, strlen(value)));
}

static void test_seal_open(void **state)
{
    unsigned char nonce[SECRETKEY_NONCE_LEN], nonce2[SECRETKEY_NONCE_LEN];
    unsigned char *ct = NULL, *ct2 = NULL;
    char kid[SECRETKEY_ID_LEN + 1], kid2[SECRETKEY_ID_LEN + 1];
    struct weir_err err = {0};
    char *plain = NULL;
    size_t n = 0, n2 = 0, len = 0;
    const char *files[2];

    (void)state;
    files[0] = file_of("k1", k1, 0600);
    assert_int_equal(secretkey_load(files, 1, &err), 0);
    seal("DB", "prod", "hunter2", nonce, &ct, &n, kid);
    seal("DB", "prod", "hunter2", nonce2, &ct2, &n2, kid2);
    /* a fresh nonce each time, so the same value seals differently */
    assert_memory_not_equal(nonce, nonce2, SECRETKEY_NONCE_LEN);
    assert_memory_not_equal(ct, ct2, n);
    assert_string_equal(kid, kid2);
    assert_int_equal(
        secretkey_open("DB", "prod", kid, nonce, ct, n, &plain, &len, &err), 0);
    assert_string_equal(plain, "hunter2");
    assert_int_equal(len, 7);
    free(plain);
    /* the name and environment are bound to the ciphertext */
    assert_int_equal(
        secretkey_open("DB", "dev", kid, nonce, ct, n, &plain, &len, &err),
        WEIR_EINTERNAL);
    assert_int_equal(
        secretkey_open("DB2", "prod", kid, nonce, ct, n, &plain, &len, &err),
        WEIR_EINTERNAL);
    ct[0] ^= 1;
    assert_int_equal(
        secretkey_open("DB", "prod", kid, nonce, ct, n, &plain, &len, &err),
        WEIR_EINTERNAL);
    ct[0] ^= 1;
    /* a ring whose first key is another: still opens with the old one,
     * seals with the new one */
    files[0] = file_of("k2", k2, 0600);
    files[1] = file_of("k1b", k1, 0600);
    assert_int_equal(secretkey_load(files, 2, &err), 0);
    assert_string_not_equal(secretkey_first_id(), kid);
    assert_int_equal(
        secretkey_open("DB", "prod", kid, nonce, ct, n, &plain, &len, &err), 0);
    free(plain);
    /* a ring without the key that sealed it */
    assert_int_equal(secretkey_load(files, 1, &err), 0);
    assert_int_equal(
        secretkey_open("DB", "prod", kid, nonce, ct, n, &plain, &len, &err),
        WEIR_ECONFLICT);
    assert_non_null(strstr(err.msg, "which no --secrets-key-file holds"));
    secretkey_unload();
    assert_int_equal(
        secretkey_seal("DB", "", "v", 1, nonce, &ct2, &n2, kid2, &err),
        WEIR_ECONFLICT);
    free(ct);
    free(ct2);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    char cmd[300];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_files),
        cmocka_unit_test(test_seal_open),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
