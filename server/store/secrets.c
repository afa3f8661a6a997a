/* SPDX-License-Identifier: Apache-2.0 */
/* SQL of secrets (store/secrets.h). */
#include "store/secrets.h"

#include <stdlib.h>
#include <string.h>

#include "store/query.h"

int store_secret_put(struct store_conn *c, const char *name, const char *env,
                     const struct store_secret_seal *s, const char *dags,
                     const char *who, int *version, struct weir_err *err)
{
    const char *params[7] = {name,
                             env,
                             s->ct_hex,
                             s->nonce_hex,
                             s->key_id,
                             who,
                             dags != NULL ? dags : "[]"};
    PGresult *r = NULL;
    int rc = store_query(
        c,
        "INSERT INTO secrets (name, environment, ciphertext, nonce, key_id,"
        " created_by, dags) VALUES ($1, $2, decode($3, 'hex'),"
        " decode($4, 'hex'), $5, $6, $7::jsonb)"
        " ON CONFLICT (name, environment) DO UPDATE SET"
        " version = secrets.version + 1, ciphertext = EXCLUDED.ciphertext,"
        " nonce = EXCLUDED.nonce, key_id = EXCLUDED.key_id,"
        " created_by = EXCLUDED.created_by, created_at = now(),"
        " dags = EXCLUDED.dags RETURNING version",
        7, params, &r, err);

    if (rc == WEIR_ECONFLICT)
        return weir_err_set(err, WEIR_EINVAL,
                            "secret \"%.80s\" of environment \"%.64s\" is not "
                            "valid",
                            name, env);
    if (rc < 0)
        return rc;
    *version = PQntuples(r) == 1 ? atoi(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    return 0;
}

int store_secret_list(struct store_conn *c, cJSON **out, struct weir_err *err)
{
    return store_json_value(
        c,
        "SELECT coalesce(jsonb_agg(jsonb_build_object('name', name,"
        " 'environment', environment, 'version', version, 'key_id', key_id,"
        " 'created_by', created_by, 'created_at', weir_iso(created_at),"
        " 'dags', dags)"
        " ORDER BY name, environment), '[]')::text FROM secrets",
        0, NULL, out, err);
}

int store_secret_delete(struct store_conn *c, const char *name, const char *env,
                        struct weir_err *err)
{
    const char *params[2] = {name, env};

    return store_cmd_rows(c,
                          "DELETE FROM secrets WHERE name = $1 AND"
                          " environment = $2",
                          2, params, 1, true, "no such secret", err);
}

int store_secret_sealed(struct store_conn *c, const char *names,
                        const char *env, bool lock, cJSON **out,
                        struct weir_err *err)
{
    const char *params[2] = {names, env};

    /* FOR UPDATE cannot go with an aggregate: lock in a subquery */
    return store_json_value(
        c,
        lock ? "SELECT coalesce(jsonb_agg(jsonb_build_object('name', s.name,"
               " 'environment', s.environment, 'version', s.version,"
               " 'ct', encode(s.ciphertext, 'hex'), 'nonce',"
               " encode(s.nonce, 'hex'), 'key_id', s.key_id, 'dags', s.dags)),"
               " '[]')::text"
               " FROM (SELECT * FROM secrets WHERE ($1::jsonb IS NULL OR"
               " name IN (SELECT jsonb_array_elements_text($1::jsonb))) AND"
               " ($2::text IS NULL OR environment IN ($2, ''))"
               " ORDER BY name, environment FOR UPDATE) s"
             : "SELECT coalesce(jsonb_agg(jsonb_build_object('name', s.name,"
               " 'environment', s.environment, 'version', s.version,"
               " 'ct', encode(s.ciphertext, 'hex'), 'nonce',"
               " encode(s.nonce, 'hex'), 'key_id', s.key_id, 'dags', s.dags)"
               " ORDER BY s.name, s.environment DESC), '[]')::text"
               " FROM secrets s WHERE ($1::jsonb IS NULL OR"
               " s.name IN (SELECT jsonb_array_elements_text($1::jsonb))) AND"
               " ($2::text IS NULL OR s.environment IN ($2, ''))",
        2, params, out, err);
}

int store_secret_reseal(struct store_conn *c, const char *name, const char *env,
                        const struct store_secret_seal *s, struct weir_err *err)
{
    const char *params[5] = {name, env, s->ct_hex, s->nonce_hex, s->key_id};

    return store_cmd_rows(c,
                          "UPDATE secrets SET ciphertext = decode($3, 'hex'),"
                          " nonce = decode($4, 'hex'), key_id = $5"
                          " WHERE name = $1 AND environment = $2",
                          5, params, 1, true, "the secret vanished", err);
}

int store_secret_names(struct store_conn *c, cJSON **out, struct weir_err *err)
{
    return store_json_value(c,
                            "SELECT coalesce(jsonb_agg(DISTINCT name), "
                            "'[]')::text FROM secrets",
                            0, NULL, out, err);
}

int store_secret_scopes(struct store_conn *c, cJSON **out, struct weir_err *err)
{
    return store_json_value(c,
                            "SELECT coalesce(jsonb_agg(jsonb_build_object("
                            "'name', name, 'dags', dags)), '[]')::text"
                            " FROM secrets",
                            0, NULL, out, err);
}
