/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The secrets table (migrations/0025_secrets.sql): sealed values only;
 * sealing and opening are engine/secretkey.c's. Ciphertexts and nonces
 * cross this boundary as lowercase hex text.
 */
#ifndef WEIR_STORE_SECRETS_H
#define WEIR_STORE_SECRETS_H

#include <cJSON.h>

#include "store/pool.h"

/* What one sealed row holds, as hex text (the caller's buffers). */
struct store_secret_seal {
    const char *ct_hex;    /* ciphertext then tag */
    const char *nonce_hex; /* 12 bytes */
    const char *key_id;    /* the key that sealed it */
};

/*
 * Set secret name in environment env ("" for all) to the sealed value s,
 * for the DAGs of patterns dags (JSON array text; NULL or "[]": any DAG),
 * set by who: a new row at version 1, or the next version of the row.
 * *version gets the version written.
 */
WEIR_MUSTCHECK int store_secret_put(struct store_conn *c, const char *name,
                                    const char *env,
                                    const struct store_secret_seal *s,
                                    const char *dags, const char *who,
                                    int *version, struct weir_err *err);

/* Every secret as a new JSON array of {name, environment, version, key_id,
 * created_by, created_at}, never a value. */
WEIR_MUSTCHECK int store_secret_list(struct store_conn *c, cJSON **out,
                                     struct weir_err *err);

/* Delete secret name of environment env; WEIR_ENOTFOUND when there is
 * none. */
WEIR_MUSTCHECK int store_secret_delete(struct store_conn *c, const char *name,
                                       const char *env, struct weir_err *err);

/*
 * Sealed rows as a new JSON array of {name, environment, version, ct,
 * nonce, key_id} (ct and nonce in hex). With names (a JSON array text of
 * names) only those, and with env only the rows of env and of every
 * environment (""), the specific row first; with lock the rows are locked
 * (run in a transaction).
 */
WEIR_MUSTCHECK int store_secret_sealed(struct store_conn *c, const char *names,
                                       const char *env, bool lock, cJSON **out,
                                       struct weir_err *err);

/* Replace the sealed value of row (name, env), its version unchanged (the
 * value is the same, under another key). */
WEIR_MUSTCHECK int store_secret_reseal(struct store_conn *c, const char *name,
                                       const char *env,
                                       const struct store_secret_seal *s,
                                       struct weir_err *err);

/* Every row's name and DAG patterns: [{name, dags: [..]}]. */
WEIR_MUSTCHECK int store_secret_scopes(struct store_conn *c, cJSON **out,
                                       struct weir_err *err);

/* The distinct names of every secret, a new sorted JSON array. */
WEIR_MUSTCHECK int store_secret_names(struct store_conn *c, cJSON **out,
                                      struct weir_err *err);

#endif
