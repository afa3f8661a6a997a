/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The check of an OpenID Connect ID token (a JWS in compact form): its
 * signature against a key of the provider's JWKS (RS256 or ES256, by
 * OpenSSL's libcrypto: the JWK becomes an EVP_PKEY through
 * EVP_PKEY_fromdata, an ES256 signature's raw r||s becomes DER through
 * ECDSA_SIG), then its claims iss, aud, exp and nonce. Pure: no I/O.
 */
#ifndef WEIR_OIDC_JWT_H
#define WEIR_OIDC_JWT_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "err.h"

#define OIDC_JWT_SKEW_S 60 /* clock skew allowed on exp and iat, s */

/* What the token must say. */
struct oidc_jwt_want {
    const char *issuer;    /* iss, exactly */
    const char *client_id; /* in aud (a string or a list) */
    const char *nonce;     /* nonce, exactly */
    int64_t now;           /* the time, Unix seconds */
};

/*
 * Verify the ID token jwt against jwks (the provider's {"keys": [...]})
 * and want. Returns 0 with *claims (a new cJSON, the payload) on success;
 * WEIR_ENOTFOUND when the token names a kid the JWKS does not hold (the
 * caller may fetch the JWKS again and retry); WEIR_EAUTH with err saying
 * which check failed otherwise (malformed, algorithm, signature, iss,
 * aud, exp, nonce). err never holds the token.
 */
WEIR_MUSTCHECK int oidc_jwt_verify(const char *jwt, const cJSON *jwks,
                                   const struct oidc_jwt_want *want,
                                   cJSON **claims, struct weir_err *err);

/* Decode len bytes of base64url (no padding) into a new buffer *out (NUL
 * added, not counted in *out_len). -1 when it is not base64url. */
WEIR_MUSTCHECK int oidc_b64url_decode(const char *in, size_t len,
                                      unsigned char **out, size_t *out_len);

/* Encode len bytes as base64url without padding into out (at least
 * 4 * ((len + 2) / 3) + 1 bytes). */
void oidc_b64url_encode(const unsigned char *in, size_t len, char *out);

#endif
