-- SPDX-License-Identifier: Apache-2.0
-- Step caching (docs/dag-format.md, "Step caching"). A successful attempt
-- of a step with `cache:` is an entry of step_cache under the SHA-256 of
-- its key (the raw key text is never stored); the key holds the DAG and
-- step ids and the matrix cell, so two steps never share an entry. An
-- attempt claimed with a key remembers its hash (cache_key), filled into
-- the cache when it succeeds; an attempt finished from the cache names
-- the attempt it reused (cached_from_attempt_id). A run made with
-- no_cache skips the lookups (it still fills the cache).
CREATE TABLE step_cache (
    key_hash   text PRIMARY KEY CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    dag_id     text NOT NULL,
    step_id    text NOT NULL,
    attempt_id bigint NOT NULL REFERENCES attempts (id) ON DELETE CASCADE,
    run_id     bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    outputs    jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
-- The cleanup's scan of expired entries.
CREATE INDEX step_cache_expires_idx ON step_cache (expires_at);
-- The foreign keys' checks when attempts and runs are deleted.
CREATE INDEX step_cache_attempt_idx ON step_cache (attempt_id);
CREATE INDEX step_cache_run_idx ON step_cache (run_id);

ALTER TABLE attempts ADD COLUMN cache_key text
    CHECK (cache_key ~ '^[0-9a-f]{64}$');
ALTER TABLE attempts ADD COLUMN cached_from_attempt_id bigint
    REFERENCES attempts (id) ON DELETE SET NULL;
-- Deleting an attempt looks up the attempts that reused it (few).
CREATE INDEX attempts_cached_from_idx ON attempts (cached_from_attempt_id)
    WHERE cached_from_attempt_id IS NOT NULL;
ALTER TABLE runs ADD COLUMN no_cache boolean NOT NULL DEFAULT false;
