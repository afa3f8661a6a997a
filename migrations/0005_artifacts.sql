-- SPDX-License-Identifier: Apache-2.0
-- The model registry: a version of an artifact is recorded when a
-- successful attempt's outputs carry artifact.name (docs/dag-format.md,
-- "Lineage outputs"); promotions move it through the stages
-- none -> dev -> staging -> prod -> archived, each recorded with who and
-- when.

CREATE TABLE artifacts (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           text NOT NULL
                   CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'),
    version        text NOT NULL
                   CHECK (version ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'),
    uri            text,
    metrics        jsonb NOT NULL DEFAULT '{}'
                   CHECK (jsonb_typeof(metrics) = 'object'),
    data_version   text,   -- the data it was made from (data.version)
    data_hash      text,   -- and that data's hash (data.hash)
    run_id         bigint REFERENCES runs (id) ON DELETE SET NULL,
    dag_id         text,   -- the producing run's DAG, version and
    dag_version_id bigint, -- environment, kept when the run is deleted
    environment    text,
    step_id        text,   -- the step and attempt that declared it
    attempt_id     bigint REFERENCES attempts (id) ON DELETE SET NULL,
    stage          text NOT NULL DEFAULT 'none'
                   CHECK (stage IN ('none', 'dev', 'staging', 'prod',
                                    'archived')),
    pending_stage  text CHECK (pending_stage = 'prod'), -- awaits approval
    pending_by     text,   -- who asked for it
    pending_at     timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (name, version)
);
-- At most one production version of a name.
CREATE UNIQUE INDEX artifacts_one_prod ON artifacts (name)
    WHERE stage = 'prod';

-- Every stage change: promotions, and the archiving of the prod version
-- a promotion replaced; and every rejected request (outcome 'rejected',
-- the stage unchanged).
CREATE TABLE artifact_promotions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    artifact_id bigint NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
    from_stage  text NOT NULL,
    to_stage    text NOT NULL,
    by          text NOT NULL, -- token name of who asked
    decided_by  text,          -- who approved or rejected, when needed
    outcome     text NOT NULL DEFAULT 'done'
                CHECK (outcome IN ('done', 'rejected')),
    comment     text,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX artifact_promotions_idx ON artifact_promotions (artifact_id, id);
