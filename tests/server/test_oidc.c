/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the ID token checks (server/api/oidc_jwt.c) with keys
 * and signatures made here by OpenSSL: RS256 and ES256 accepted, every
 * claim check, algorithms other than RS256 and ES256 refused (none,
 * HS256), short RSA keys, malformed tokens and signatures; and for the
 * grant syntax of the role mapping (server/api/oidc_map.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "api/oidc_jwt.h"
#include "api/oidc_map.h"

#define NOW 1800000000LL

static const struct oidc_jwt_want want = {"https://sso.example", "weir", "n1",
                                          NOW};

static void b64u(const void *data, size_t len, char *out)
{
    oidc_b64url_encode(data, len, out);
}

/* A JWK {"kty", "kid", ...} of key's public part. */
static cJSON *jwk_of(EVP_PKEY *key, const char *kid, bool ec)
{
    cJSON *j = cJSON_CreateObject();
    unsigned char buf[600];
    char enc[800];

    cJSON_AddStringToObject(j, "kid", kid);
    if (ec) {
        BIGNUM *x = NULL, *y = NULL;

        assert_true(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x));
        assert_true(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y));
        cJSON_AddStringToObject(j, "kty", "EC");
        cJSON_AddStringToObject(j, "crv", "P-256");
        BN_bn2binpad(x, buf, 32);
        b64u(buf, 32, enc);
        cJSON_AddStringToObject(j, "x", enc);
        BN_bn2binpad(y, buf, 32);
        b64u(buf, 32, enc);
        cJSON_AddStringToObject(j, "y", enc);
        BN_free(x);
        BN_free(y);
    } else {
        BIGNUM *n = NULL, *e = NULL;
        int len;

        assert_true(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n));
        assert_true(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e));
        cJSON_AddStringToObject(j, "kty", "RSA");
        len = BN_bn2bin(n, buf);
        b64u(buf, (size_t)len, enc);
        cJSON_AddStringToObject(j, "n", enc);
        len = BN_bn2bin(e, buf);
        b64u(buf, (size_t)len, enc);
        cJSON_AddStringToObject(j, "e", enc);
        BN_free(n);
        BN_free(e);
    }
    return j;
}

/* header.payload signed with key (ES256's DER made raw r||s). */
static char *sign(EVP_PKEY *key, bool ec, const char *header,
                  const char *payload)
{
    char *out = malloc(8192), sig64[1024];
    unsigned char sig[600], raw[64];
    size_t slen = sizeof(sig);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t n;

    b64u(header, strlen(header), out);
    n = strlen(out);
    out[n++] = '.';
    b64u(payload, strlen(payload), out + n);
    assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_equal(
        EVP_DigestSign(md, sig, &slen, (unsigned char *)out, strlen(out)), 1);
    EVP_MD_CTX_free(md);
    if (ec) {
        const unsigned char *p = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)slen);

        BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32);
        BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32);
        ECDSA_SIG_free(es);
        b64u(raw, 64, sig64);
    } else {
        b64u(sig, slen, sig64);
    }
    strcat(out, ".");
    strcat(out, sig64);
    return out;
}

struct keys {
    EVP_PKEY *rsa, *ec, *small;
    cJSON *jwks;
};

static struct keys k;

static int setup(void **state)
{
    cJSON *list;

    (void)state;
    k.rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    k.ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    k.small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    k.jwks = cJSON_CreateObject();
    list = cJSON_AddArrayToObject(k.jwks, "keys");
    cJSON_AddItemToArray(list, jwk_of(k.rsa, "r1", false));
    cJSON_AddItemToArray(list, jwk_of(k.ec, "e1", true));
    cJSON_AddItemToArray(list, jwk_of(k.small, "s1", false));
    /* r1's key again, its JWK naming an algorithm: PS256 (not the
     * token's), then RS256 */
    cJSON_AddItemToArray(list, jwk_of(k.rsa, "r2", false));
    cJSON_AddStringToObject(cJSON_GetArrayItem(list, 3), "alg", "PS256");
    cJSON_AddItemToArray(list, jwk_of(k.rsa, "r3", false));
    cJSON_AddStringToObject(cJSON_GetArrayItem(list, 4), "alg", "RS256");
    return k.rsa && k.ec && k.small ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(k.rsa);
    EVP_PKEY_free(k.ec);
    EVP_PKEY_free(k.small);
    cJSON_Delete(k.jwks);
    return 0;
}

/* verify a token of header/payload signed by key; its return code, and
 * the message into msg. */
static int verify(EVP_PKEY *key, bool ec, const char *header,
                  const char *payload, char *msg)
{
    char *jwt = sign(key, ec, header, payload);
    struct weir_err err = {0};
    cJSON *claims = NULL;
    int rc = oidc_jwt_verify(jwt, k.jwks, &want, &claims, &err);

    strcpy(msg, err.msg);
    if (rc == 0)
        assert_string_equal(
            cJSON_GetStringValue(cJSON_GetObjectItem(claims, "sub")), "u1");
    cJSON_Delete(claims);
    free(jwt);
    return rc;
}

#define RS "{\"alg\":\"RS256\",\"kid\":\"r1\"}"
#define ES "{\"alg\":\"ES256\",\"kid\":\"e1\"}"
#define GOOD                                                                   \
    "{\"iss\":\"https://sso.example\",\"aud\":\"weir\",\"exp\":1800000100,"    \
    "\"iat\":1800000000,\"nonce\":\"n1\",\"sub\":\"u1\"}"

static void test_good_tokens(void **state)
{
    char msg[256];

    (void)state;
    assert_int_equal(verify(k.rsa, false, RS, GOOD, msg), 0);
    assert_int_equal(verify(k.ec, true, ES, GOOD, msg), 0);
    /* aud may be a list holding the client; exp within the skew */
    assert_int_equal(
        verify(k.rsa, false, RS,
               "{\"iss\":\"https://sso.example\",\"aud\":[\"x\",\"weir\"],"
               "\"azp\":\"weir\",\"exp\":1799999950,\"nonce\":\"n1\","
               "\"sub\":\"u1\"}",
               msg),
        0);
    /* nbf within the skew; a JWK whose alg is the token's */
    assert_int_equal(
        verify(k.rsa, false, RS,
               "{\"iss\":\"https://sso.example\",\"aud\":\"weir\","
               "\"nbf\":1800000050,\"exp\":1800000100,\"nonce\":\"n1\","
               "\"sub\":\"u1\"}",
               msg),
        0);
    assert_int_equal(
        verify(k.rsa, false, "{\"alg\":\"RS256\",\"kid\":\"r3\"}", GOOD, msg),
        0);
}

static void test_claims_refused(void **state)
{
    static const char *const bad[][2] = {
        {"{\"iss\":\"https://evil\",\"aud\":\"weir\",\"exp\":1800000100,"
         "\"nonce\":\"n1\",\"sub\":\"u1\"}",
         "issuer"},
        {"{\"iss\":\"https://sso.example\",\"aud\":[\"x\"],\"exp\":"
         "1800000100,\"nonce\":\"n1\",\"sub\":\"u1\"}",
         "audience"},
        {"{\"iss\":\"https://sso.example\",\"aud\":\"weir\",\"exp\":"
         "1799999900,\"nonce\":\"n1\",\"sub\":\"u1\"}",
         "expired"},
        {"{\"iss\":\"https://sso.example\",\"aud\":\"weir\",\"nonce\":"
         "\"n1\",\"sub\":\"u1\"}",
         "expired"},
        {"{\"iss\":\"https://sso.example\",\"aud\":\"weir\",\"exp\":"
         "1800000100,\"iat\":1800000500,\"nonce\":\"n1\",\"sub\":\"u1\"}",
         "future"},
        {"{\"iss\":\"https://sso.example\",\"aud\":\"weir\",\"exp\":"
         "1800000100,\"nonce\":\"n2\",\"sub\":\"u1\"}",
         "nonce"},
        /* several audiences: azp must name this client */
        {"{\"iss\":\"https://sso.example\",\"aud\":[\"weir\",\"x\"],"
         "\"exp\":1800000100,\"nonce\":\"n1\",\"sub\":\"u1\"}",
         "azp"},
        {"{\"iss\":\"https://sso.example\",\"aud\":[\"weir\",\"x\"],"
         "\"azp\":\"x\",\"exp\":1800000100,\"nonce\":\"n1\",\"sub\":"
         "\"u1\"}",
         "azp"},
        {"{\"iss\":\"https://sso.example\",\"aud\":\"weir\",\"azp\":"
         "\"x\",\"exp\":1800000100,\"nonce\":\"n1\",\"sub\":\"u1\"}",
         "azp"},
        /* not valid before a time beyond the skew */
        {"{\"iss\":\"https://sso.example\",\"aud\":\"weir\",\"nbf\":"
         "1800000500,\"exp\":1800000900,\"nonce\":\"n1\",\"sub\":\"u1\"}",
         "nbf"},
        {"{\"iss\":\"https://sso.example\",\"aud\":\"weir\",\"nbf\":"
         "\"soon\",\"exp\":1800000100,\"nonce\":\"n1\",\"sub\":\"u1\"}",
         "nbf"},
    };
    char msg[256];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(verify(k.rsa, false, RS, bad[i][0], msg), WEIR_EAUTH);
        assert_non_null(strstr(msg, bad[i][1]));
    }
}

static void test_keys_and_algorithms(void **state)
{
    char msg[256];

    (void)state;
    /* signed by another key under r1's kid */
    assert_int_equal(
        verify(k.ec, true, "{\"alg\":\"ES256\",\"kid\":\"r1\"}", GOOD, msg),
        WEIR_ENOTFOUND); /* r1 is not an EC key */
    assert_int_equal(verify(k.small, false, RS, GOOD, msg),
                     WEIR_EAUTH); /* wrong key */
    assert_non_null(strstr(msg, "signature"));
    /* a 1024-bit RSA key is refused even when it signed */
    assert_int_equal(
        verify(k.small, false, "{\"alg\":\"RS256\",\"kid\":\"s1\"}", GOOD, msg),
        WEIR_EAUTH);
    /* an unknown kid asks for a fresh JWKS */
    assert_int_equal(
        verify(k.rsa, false, "{\"alg\":\"RS256\",\"kid\":\"r9\"}", GOOD, msg),
        WEIR_ENOTFOUND);
    assert_int_equal(
        verify(k.rsa, false, "{\"alg\":\"HS256\",\"kid\":\"r1\"}", GOOD, msg),
        WEIR_EAUTH);
    assert_non_null(strstr(msg, "algorithm"));
    assert_int_equal(
        verify(k.rsa, false, "{\"alg\":\"none\",\"kid\":\"r1\"}", GOOD, msg),
        WEIR_EAUTH);
    assert_int_equal(verify(k.rsa, false, "{\"alg\":\"RS256\"}", GOOD, msg),
                     WEIR_EAUTH);
    /* the JWK says PS256: an RS256 token under it is refused */
    assert_int_equal(
        verify(k.rsa, false, "{\"alg\":\"RS256\",\"kid\":\"r2\"}", GOOD, msg),
        WEIR_EAUTH);
    assert_non_null(strstr(msg, "(alg)"));
}

static void test_malformed(void **state)
{
    char *jwt = sign(k.rsa, false, RS, GOOD);
    struct weir_err err = {0};
    cJSON *claims = NULL;
    char *cut, buf[8192];

    (void)state;
    /* a flipped byte of the payload */
    snprintf(buf, sizeof(buf), "%s", jwt);
    cut = strchr(buf, '.') + 5;
    *cut = *cut == 'A' ? 'B' : 'A';
    assert_int_equal(oidc_jwt_verify(buf, k.jwks, &want, &claims, &err),
                     WEIR_EAUTH);
    /* four parts; two parts; base64 with '+' */
    snprintf(buf, sizeof(buf), "%s.x", jwt);
    assert_int_equal(oidc_jwt_verify(buf, k.jwks, &want, &claims, &err),
                     WEIR_EAUTH);
    assert_int_equal(oidc_jwt_verify("a.b", k.jwks, &want, &claims, &err),
                     WEIR_EAUTH);
    snprintf(buf, sizeof(buf), "%s+", jwt);
    assert_int_equal(oidc_jwt_verify(buf, k.jwks, &want, &claims, &err),
                     WEIR_EAUTH);
    /* an ES256 signature of the wrong length */
    free(jwt);
    jwt = sign(k.ec, true, ES, GOOD);
    snprintf(buf, sizeof(buf), "%.*sAAAA", (int)strlen(jwt), jwt);
    assert_int_equal(oidc_jwt_verify(buf, k.jwks, &want, &claims, &err),
                     WEIR_EAUTH);
    assert_null(claims);
    free(jwt);
}

static void test_b64url(void **state)
{
    unsigned char *out = NULL;
    size_t n = 0;
    char enc[16];

    (void)state;
    assert_int_equal(oidc_b64url_decode("_-8", 3, &out, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(out[0], 0xff);
    assert_int_equal(out[1], 0xef);
    free(out);
    assert_int_equal(oidc_b64url_decode("abcde", 5, &out, &n), -1);
    assert_int_equal(oidc_b64url_decode("ab=c", 4, &out, &n), -1);
    b64u("\xff\xef", 2, enc);
    assert_string_equal(enc, "_-8");
}

static void test_grants(void **state)
{
    struct weir_err err = {0};

    (void)state;
    assert_int_equal(oidc_grant_check("admin", &err), 0);
    assert_int_equal(
        oidc_grant_check("operator:env=dev,staging:dag=team-a-*", &err), 0);
    assert_int_equal(oidc_grant_check("read:dag=x?:env=prod", &err), 0);
    assert_int_equal(oidc_grant_check("reader", &err), WEIR_EINVAL);
    assert_non_null(strstr(err.msg, "did you mean \"read\""));
    assert_int_equal(oidc_grant_check("read:env=", &err), WEIR_EINVAL);
    assert_int_equal(oidc_grant_check("read:env=a,,b", &err), WEIR_EINVAL);
    assert_int_equal(oidc_grant_check("read:env=a:env=b", &err), WEIR_EINVAL);
    assert_non_null(strstr(err.msg, "twice"));
    assert_int_equal(oidc_grant_check("read:queue=x", &err), WEIR_EINVAL);
    assert_int_equal(oidc_grant_check("read:env=pr*d", &err), WEIR_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_tokens),
        cmocka_unit_test(test_claims_refused),
        cmocka_unit_test(test_keys_and_algorithms),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_b64url),
        cmocka_unit_test(test_grants),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
