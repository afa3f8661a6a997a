-- SPDX-License-Identifier: Apache-2.0
-- A token carries role grants (docs/security.md, "Access model: roles and
-- scopes"): a JSON array of {"role", "env"?: [...], "dag"?: [...],
-- "queues"?: [...]}, each scope optional. Existing tokens get one unscoped
-- grant of their role; a worker token's queues become its grant's queues
-- scope. The role column stays, holding the first grant's role, for the
-- readers that show one role.
ALTER TABLE api_tokens ADD COLUMN grants jsonb;
UPDATE api_tokens SET grants = jsonb_build_array(
    CASE WHEN role = 'worker' AND queues IS NOT NULL
         THEN jsonb_build_object('role', role, 'queues', to_jsonb(queues))
         ELSE jsonb_build_object('role', role) END);
ALTER TABLE api_tokens
    ALTER COLUMN grants SET NOT NULL,
    ADD CONSTRAINT api_tokens_grants_check
        CHECK (jsonb_typeof(grants) = 'array'
               AND jsonb_array_length(grants) > 0),
    DROP CONSTRAINT api_tokens_role_check,
    ADD CONSTRAINT api_tokens_role_check
        CHECK (role IN ('admin', 'operator', 'author', 'read', 'ingest',
                        'worker'));

-- Whether grants holds an admin grant with no scope: such a token may
-- manage tokens, and the last live one is never revoked.
CREATE FUNCTION weir_grants_admin(grants jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT EXISTS (SELECT 1 FROM jsonb_array_elements(grants) g
                    WHERE g->>'role' = 'admin'
                      AND NOT g ? 'env' AND NOT g ? 'dag')
$$;

-- Whether a row of DAG dag in environment env is in scope: a JSON array
-- with one {"dag": [LIKE patterns] or null, "env": [names] or null} per
-- grant of the caller that allows reading (grant_set_scope_sql() in
-- server/api/grant.h; null: not limited). A NULL scope allows every row;
-- a row without an environment (or a DAG) is in scope only of a grant not
-- limited to environments (or DAGs), as grant_allows() decides.
CREATE FUNCTION weir_scope_ok(scope jsonb, dag text, env text)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT scope IS NULL OR EXISTS (
        SELECT 1 FROM jsonb_array_elements(scope) g
         WHERE (jsonb_typeof(g->'dag') IS DISTINCT FROM 'array'
                OR EXISTS (SELECT 1 FROM jsonb_array_elements_text(g->'dag') p
                            WHERE dag LIKE p))
           AND (jsonb_typeof(g->'env') IS DISTINCT FROM 'array'
                OR EXISTS (SELECT 1 FROM jsonb_array_elements_text(g->'env') e
                            WHERE e = env)))
$$;
