-- SPDX-License-Identifier: Apache-2.0
-- Backfills: one run per cron slot of a trigger over a date range, created
-- a few at a time. The slots to run are planned once, when the backfill is
-- asked for (the slots skipped because they already had a run are not
-- kept), and created in that order by the backfill chore: next_slot is the
-- index of the next one to create, so that a restart goes on from there.
CREATE TABLE backfills (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dag_id      text NOT NULL REFERENCES dags (id) ON DELETE CASCADE,
    trigger_key text NOT NULL,          -- the cron trigger whose slots it runs
    from_time   timestamptz NOT NULL,   -- the range asked for (inclusive)
    to_time     timestamptz NOT NULL,   -- its end (inclusive)
    reprocess   text NOT NULL CHECK (reprocess IN ('missing', 'failed', 'all')),
    max_active  integer NOT NULL CHECK (max_active >= 1),
    reverse     boolean NOT NULL DEFAULT false, -- newest slot first
    params      jsonb CHECK (params IS NULL OR jsonb_typeof(params) = 'object'),
    slots       bigint[] NOT NULL,      -- the slots to run (Unix seconds),
                                        -- in creation order
    skipped     integer NOT NULL DEFAULT 0 CHECK (skipped >= 0),
                -- slots of the range left out because they had a run
    next_slot   integer NOT NULL DEFAULT 0 CHECK (next_slot >= 0),
    state       text NOT NULL DEFAULT 'running'
                CHECK (state IN ('running', 'done', 'canceled')),
    created_by  text,                   -- token name of who asked
    canceled_by text,                   -- token name of who canceled it
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    CHECK ((state = 'running') = (finished_at IS NULL))
);
CREATE INDEX backfills_dag_idx ON backfills (dag_id, id DESC);
CREATE INDEX backfills_running_idx ON backfills (id) WHERE state = 'running';

ALTER TABLE runs ADD COLUMN backfill_id bigint
    REFERENCES backfills (id) ON DELETE SET NULL;
CREATE INDEX runs_backfill_idx ON runs (backfill_id)
    WHERE backfill_id IS NOT NULL;

ALTER TABLE runs DROP CONSTRAINT runs_trigger_kind_check;
ALTER TABLE runs ADD CONSTRAINT runs_trigger_kind_check
    CHECK (trigger_kind IN ('cron', 'event', 'metric', 'file', 'webhook',
                            'manual', 'backfill'));
