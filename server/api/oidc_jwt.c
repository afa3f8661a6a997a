/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ID token checks with OpenSSL 3's libcrypto: keys are built from their
 * JWK parameters with EVP_PKEY_fromdata() and signatures checked with
 * EVP_DigestVerify(); nothing cryptographic is written here. The
 * signature is checked before any claim is believed.
 */
#include "api/oidc_jwt.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#define JWT_MAX      16384 /* bytes of an ID token */
#define RSA_MIN_BITS 2048  /* weaker RSA keys are refused */
#define P256_COORD   32    /* bytes of a P-256 coordinate */

int oidc_b64url_decode(const char *in, size_t len, unsigned char **out,
                       size_t *out_len)
{
    size_t padded = (len + 3) / 4 * 4, pad = padded - len;
    unsigned char *text = NULL, *buf = NULL;
    int n;

    if (len % 4 == 1 || len > JWT_MAX)
        return -1;
    text = malloc(padded + 1);
    buf = malloc(padded / 4 * 3 + 1);
    if (text == NULL || buf == NULL)
        goto fail;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];

        if (c == '+' || c == '/' || c == '=')
            goto fail; /* base64url only */
        text[i] = c == '-' ? '+' : c == '_' ? '/' : (unsigned char)c;
    }
    memset(text + len, '=', pad);
    n = padded == 0 ? 0 : EVP_DecodeBlock(buf, text, (int)padded);
    if (n < 0 || (size_t)n < pad)
        goto fail;
    free(text);
    *out_len = (size_t)n - pad;
    buf[*out_len] = '\0';
    *out = buf;
    return 0;
fail:
    free(text);
    free(buf);
    return -1;
}

void oidc_b64url_encode(const unsigned char *in, size_t len, char *out)
{
    int n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);

    while (n > 0 && out[n - 1] == '=')
        n--;
    out[n] = '\0';
    for (char *p = out; *p != '\0'; p++) {
        if (*p == '+')
            *p = '-';
        else if (*p == '/')
            *p = '_';
    }
}

/* A base64url member of a JWK as a big number (NULL when absent/bad). */
static BIGNUM *jwk_bn(const cJSON *jwk, const char *name, size_t *bytes)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(jwk, name));
    unsigned char *raw = NULL;
    size_t len = 0;
    BIGNUM *bn;

    if (v == NULL || oidc_b64url_decode(v, strlen(v), &raw, &len) < 0)
        return NULL;
    bn = BN_bin2bn(raw, (int)len, NULL);
    if (bytes != NULL)
        *bytes = len;
    free(raw);
    return bn;
}

/* An RSA public key from a JWK's n and e. */
static EVP_PKEY *jwk_rsa(const cJSON *jwk)
{
    BIGNUM *n = jwk_bn(jwk, "n", NULL), *e = jwk_bn(jwk, "e", NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;

    if (n == NULL || e == NULL || bld == NULL ||
        BN_num_bits(n) < RSA_MIN_BITS ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
        goto out;
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pkey = NULL;
out:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return pkey;
}

/* A P-256 public key from a JWK's x and y (an uncompressed point). */
static EVP_PKEY *jwk_ec(const cJSON *jwk)
{
    const char *crv = cJSON_GetStringValue(cJSON_GetObjectItem(jwk, "crv"));
    unsigned char point[1 + 2 * P256_COORD] = {POINT_CONVERSION_UNCOMPRESSED};
    OSSL_PARAM params[3];
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;

    if (crv == NULL || strcmp(crv, "P-256") != 0)
        return NULL;
    for (int i = 0; i < 2; i++) {
        const char *v =
            cJSON_GetStringValue(cJSON_GetObjectItem(jwk, i ? "y" : "x"));
        unsigned char *raw = NULL;
        size_t len = 0;

        if (v == NULL || oidc_b64url_decode(v, strlen(v), &raw, &len) < 0)
            return NULL;
        if (len == P256_COORD)
            memcpy(point + 1 + (size_t)i * P256_COORD, raw, len);
        free(raw);
        if (len != P256_COORD)
            return NULL;
    }
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 (char *)"prime256v1", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                                  point, sizeof(point));
    params[2] = OSSL_PARAM_construct_end();
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

/* An ES256 signature (r||s, 32 bytes each) as DER into a new *der. */
static int es256_der(const unsigned char *sig, size_t len, unsigned char **der,
                     size_t *der_len)
{
    ECDSA_SIG *es = NULL;
    BIGNUM *r = NULL, *s = NULL;
    int n;

    if (len != 2 * P256_COORD)
        return -1;
    es = ECDSA_SIG_new();
    r = BN_bin2bn(sig, P256_COORD, NULL);
    s = BN_bin2bn(sig + P256_COORD, P256_COORD, NULL);
    if (es == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(es, r, s)) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return -1;
    }
    *der = NULL;
    n = i2d_ECDSA_SIG(es, der);
    ECDSA_SIG_free(es);
    if (n <= 0)
        return -1;
    *der_len = (size_t)n;
    return 0;
}

/* The key of jwks whose kid is kid and whose kty fits alg, or NULL. */
static const cJSON *jwks_find(const cJSON *jwks, const char *kid,
                              const char *kty)
{
    const cJSON *k;

    cJSON_ArrayForEach(k, cJSON_GetObjectItem(jwks, "keys"))
    {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(k, "kid"));
        const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(k, "kty"));
        const char *use = cJSON_GetStringValue(cJSON_GetObjectItem(k, "use"));

        if (id != NULL && t != NULL && strcmp(id, kid) == 0 &&
            strcmp(t, kty) == 0 && (use == NULL || strcmp(use, "sig") == 0))
            return k;
    }
    return NULL;
}

/* Whether sig signs data under jwk with alg (already one of the two). */
static bool sig_ok(const cJSON *jwk, bool ec, const char *data, size_t len,
                   const unsigned char *sig, size_t sig_len)
{
    EVP_PKEY *pkey = ec ? jwk_ec(jwk) : jwk_rsa(jwk);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *der = NULL;
    size_t der_len = sig_len;
    bool ok = pkey != NULL && md != NULL;

    if (ok && ec)
        ok = es256_der(sig, sig_len, &der, &der_len) == 0;
    ok = ok && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1 &&
         EVP_DigestVerify(md, ec ? der : sig, der_len,
                          (const unsigned char *)data, len) == 1;
    OPENSSL_free(der);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pkey);
    return ok;
}

/* A base64url JSON object of the token into a new *out. */
static int part_json(const char *p, size_t len, cJSON **out)
{
    unsigned char *raw = NULL;
    size_t n = 0;

    if (oidc_b64url_decode(p, len, &raw, &n) < 0)
        return -1;
    *out = cJSON_ParseWithLength((const char *)raw, n);
    free(raw);
    if (*out != NULL && cJSON_IsObject(*out))
        return 0;
    cJSON_Delete(*out);
    *out = NULL;
    return -1;
}

/* Whether aud (a string or a list of them) holds client_id. */
static bool aud_ok(const cJSON *aud, const char *client_id)
{
    const cJSON *a;

    if (cJSON_IsString(aud))
        return strcmp(aud->valuestring, client_id) == 0;
    cJSON_ArrayForEach(a, (cJSON_IsArray(aud) ? aud : NULL))
    {
        if (cJSON_IsString(a) && strcmp(a->valuestring, client_id) == 0)
            return true;
    }
    return false;
}

/* The claims' checks, once the signature is good. */
static int claims_check(const cJSON *c, const struct oidc_jwt_want *w,
                        struct weir_err *err)
{
    const char *iss = cJSON_GetStringValue(cJSON_GetObjectItem(c, "iss"));
    const char *nonce = cJSON_GetStringValue(cJSON_GetObjectItem(c, "nonce"));
    const cJSON *exp = cJSON_GetObjectItem(c, "exp");
    const cJSON *iat = cJSON_GetObjectItem(c, "iat");
    const cJSON *nbf = cJSON_GetObjectItem(c, "nbf");
    const cJSON *aud = cJSON_GetObjectItem(c, "aud");
    const cJSON *azp = cJSON_GetObjectItem(c, "azp");

    if (iss == NULL || strcmp(iss, w->issuer) != 0)
        return weir_err_set(err, WEIR_EAUTH,
                            "the ID token's issuer (iss) is not the "
                            "configured issuer");
    if (!aud_ok(aud, w->client_id))
        return weir_err_set(err, WEIR_EAUTH,
                            "the ID token's audience (aud) is not this "
                            "client");
    /* OpenID Connect Core 3.1.3.7: with several audiences, the authorized
     * party must be this client; when given, it must be anyway */
    if ((azp != NULL || cJSON_GetArraySize(aud) > 1) &&
        (!cJSON_IsString(azp) || strcmp(azp->valuestring, w->client_id) != 0))
        return weir_err_set(err, WEIR_EAUTH,
                            "the ID token's authorized party (azp) is not "
                            "this client");
    if (nbf != NULL && (!cJSON_IsNumber(nbf) ||
                        nbf->valuedouble > (double)(w->now + OIDC_JWT_SKEW_S)))
        return weir_err_set(err, WEIR_EAUTH,
                            "the ID token is not valid yet (nbf)");
    if (!cJSON_IsNumber(exp) ||
        exp->valuedouble + OIDC_JWT_SKEW_S < (double)w->now)
        return weir_err_set(err, WEIR_EAUTH, "the ID token has expired (exp)");
    if (cJSON_IsNumber(iat) &&
        iat->valuedouble > (double)(w->now + OIDC_JWT_SKEW_S))
        return weir_err_set(err, WEIR_EAUTH,
                            "the ID token was issued in the future (iat)");
    if (nonce == NULL || strcmp(nonce, w->nonce) != 0)
        return weir_err_set(err, WEIR_EAUTH,
                            "the ID token's nonce is not the one of this "
                            "sign-in (replayed or forged)");
    return 0;
}

/* The header's alg and kid checked; the key to use into *jwk. */
static int header_key(const cJSON *hdr, const cJSON *jwks, bool *ec,
                      const cJSON **jwk, struct weir_err *err)
{
    const char *alg = cJSON_GetStringValue(cJSON_GetObjectItem(hdr, "alg"));
    const char *kid = cJSON_GetStringValue(cJSON_GetObjectItem(hdr, "kid"));
    const cJSON *kalg;

    if (alg == NULL || (strcmp(alg, "RS256") != 0 && strcmp(alg, "ES256") != 0))
        return weir_err_set(err, WEIR_EAUTH,
                            "the ID token's algorithm is not RS256 or ES256");
    *ec = strcmp(alg, "ES256") == 0;
    if (kid == NULL)
        return weir_err_set(err, WEIR_EAUTH, "the ID token names no key (kid)");
    *jwk = jwks_find(jwks, kid, *ec ? "EC" : "RSA");
    if (*jwk == NULL)
        return weir_err_set(err, WEIR_ENOTFOUND,
                            "the ID token's key (kid) is not in the "
                            "provider's JWKS");
    kalg = cJSON_GetObjectItem(*jwk, "alg");
    if (kalg != NULL &&
        (!cJSON_IsString(kalg) || strcmp(kalg->valuestring, alg) != 0))
        return weir_err_set(err, WEIR_EAUTH,
                            "the ID token's algorithm is not the one of its "
                            "key in the provider's JWKS (alg)");
    return 0;
}

int oidc_jwt_verify(const char *jwt, const cJSON *jwks,
                    const struct oidc_jwt_want *want, cJSON **claims,
                    struct weir_err *err)
{
    const char *dot1 = strchr(jwt, '.');
    const char *dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
    cJSON *hdr = NULL, *payload = NULL;
    const cJSON *jwk = NULL;
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    bool ec = false;
    int rc = 0;

    if (strlen(jwt) > JWT_MAX || dot2 == NULL || strchr(dot2 + 1, '.') ||
        part_json(jwt, (size_t)(dot1 - jwt), &hdr) < 0 ||
        oidc_b64url_decode(dot2 + 1, strlen(dot2 + 1), &sig, &sig_len) < 0)
        rc = weir_err_set(err, WEIR_EAUTH, "the ID token is malformed");
    if (rc == 0)
        rc = header_key(hdr, jwks, &ec, &jwk, err);
    if (rc == 0 && !sig_ok(jwk, ec, jwt, (size_t)(dot2 - jwt), sig, sig_len))
        rc = weir_err_set(err, WEIR_EAUTH,
                          "the ID token's signature does not verify");
    if (rc == 0 && part_json(dot1 + 1, (size_t)(dot2 - dot1 - 1), &payload) < 0)
        rc = weir_err_set(err, WEIR_EAUTH,
                          "the ID token's claims are "
                          "malformed");
    if (rc == 0)
        rc = claims_check(payload, want, err);
    cJSON_Delete(hdr);
    free(sig);
    if (rc < 0) {
        cJSON_Delete(payload);
        return rc;
    }
    *claims = payload;
    return 0;
}
