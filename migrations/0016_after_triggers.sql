-- SPDX-License-Identifier: Apache-2.0
-- DAG-to-DAG and data-aware triggers. trigger_follows holds, per DAG, the
-- after and data triggers of its current version (kept in sync each time
-- a version is recorded), so that a run's end or a new data version finds
-- its followers by index, and a run of a DAG nobody follows costs one
-- index probe. data_versions records each (dataset, version) the first
-- time a run produces it: a data trigger fires once per new version.
ALTER TABLE runs DROP CONSTRAINT runs_trigger_kind_check;
ALTER TABLE runs ADD CONSTRAINT runs_trigger_kind_check
    CHECK (trigger_kind IN ('cron', 'event', 'metric', 'file', 'webhook',
                            'manual', 'backfill', 'after', 'data'));

CREATE TABLE trigger_follows (
    dag_id      text NOT NULL REFERENCES dags (id) ON DELETE CASCADE,
    trigger_key text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('after', 'data')),
    target      text NOT NULL, -- the upstream DAG's id, or the dataset
    state       text NOT NULL DEFAULT 'success'
                CHECK (state IN ('success', 'failed', 'any')),
    PRIMARY KEY (dag_id, trigger_key)
);
CREATE INDEX trigger_follows_target_idx ON trigger_follows (kind, target);

CREATE TABLE data_versions (
    name        text NOT NULL,
    version     text NOT NULL,
    run_id      bigint NOT NULL, -- the run that produced it first
    attempt_id  bigint NOT NULL, -- and its attempt
    dag_id      text NOT NULL,
    step_id     text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, version)
);
