-- SPDX-License-Identifier: Apache-2.0
-- The DAGs a secret is for (docs/security.md, "Secrets"): a JSON array of
-- DAG id patterns ("*": any run of characters, "?": one). Empty: any DAG
-- may name the secret.
ALTER TABLE secrets
    ADD COLUMN dags jsonb NOT NULL DEFAULT '[]'::jsonb
        CHECK (jsonb_typeof(dags) = 'array');
