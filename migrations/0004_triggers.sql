-- SPDX-License-Identifier: Apache-2.0
-- Triggers beyond cron: posted events and what each trigger made of them,
-- metric samples and the arming of metric triggers, and every firing a
-- guard suppressed (docs/architecture.md, "Triggers").

-- Every event accepted by POST /api/v1/events or a webhook. ext_id is the
-- client's id: posting it again is acknowledged and changes nothing.
CREATE TABLE events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ext_id      text UNIQUE,  -- the client's "id", or NULL
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    payload     jsonb NOT NULL DEFAULT '{}',
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_received_idx ON events (id DESC);

-- An event that matched a trigger's `when:`, with the value its
-- `accumulate:` gave (1 without one). run_id NULL: still accumulating;
-- otherwise the run that consumed it. The pending sum of a trigger is the
-- sum of its rows without a run, so a restart keeps it.
CREATE TABLE trigger_events (
    dag_id      text NOT NULL REFERENCES dags (id) ON DELETE CASCADE,
    trigger_key text NOT NULL,
    event_id    bigint NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    value       double precision NOT NULL,
    run_id      bigint REFERENCES runs (id) ON DELETE SET NULL,
    PRIMARY KEY (dag_id, trigger_key, event_id)
);
CREATE INDEX trigger_events_pending_idx ON trigger_events (dag_id, trigger_key)
    WHERE run_id IS NULL;
CREATE INDEX trigger_events_run_idx ON trigger_events (run_id)
    WHERE run_id IS NOT NULL;
CREATE INDEX trigger_events_event_idx ON trigger_events (event_id);

-- Metric samples: a time series per name (and labels), kept for the
-- server's --metric-retention.
CREATE TABLE metric_samples (
    id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name   text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    time   timestamptz NOT NULL DEFAULT now(),
    value  double precision NOT NULL,
    labels jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(labels) = 'object')
);
CREATE INDEX metric_samples_name_idx ON metric_samples (name, time DESC);
CREATE INDEX metric_samples_time_idx ON metric_samples (time);

-- The hysteresis of a metric trigger: armed until it fires, then waiting
-- for a sample on the good side of its line; streak counts consecutive
-- samples past the line while armed.
CREATE TABLE metric_trigger_state (
    dag_id      text NOT NULL REFERENCES dags (id) ON DELETE CASCADE,
    trigger_key text NOT NULL,
    armed       boolean NOT NULL DEFAULT true,
    streak      integer NOT NULL DEFAULT 0 CHECK (streak >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dag_id, trigger_key)
);

-- A firing that a guard stopped (cooldown, daily cap, paused DAG, ...) or
-- folded into a queued run, with why.
CREATE TABLE trigger_suppressed (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dag_id      text NOT NULL REFERENCES dags (id) ON DELETE CASCADE,
    trigger_key text NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    reason      text NOT NULL
);
CREATE INDEX trigger_suppressed_idx
    ON trigger_suppressed (dag_id, trigger_key, id DESC);

-- Guards: triggered runs of a DAG by creation time (cooldown, daily cap).
CREATE INDEX runs_triggered_idx ON runs (dag_id, created_at DESC)
    WHERE trigger_kind <> 'manual';

-- Files a file trigger has acted on, with the size and modification time
-- it saw: the same file unchanged is not fired again, even after a
-- restart.
CREATE TABLE file_trigger_seen (
    dag_id      text NOT NULL REFERENCES dags (id) ON DELETE CASCADE,
    trigger_key text NOT NULL,
    path        text NOT NULL,
    size        bigint NOT NULL,
    mtime_ns    bigint NOT NULL,
    seen_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dag_id, trigger_key, path)
);

-- Notifications out: one row per finished run whose DAG version has an
-- on_success / on_failure webhook, delivered with retries and backoff.
CREATE TABLE notifications (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id       bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    finished_at  timestamptz NOT NULL, -- the run's end it reports
    url          text NOT NULL,
    body         jsonb NOT NULL,
    attempts     integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_try_at  timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    last_error   text,
    UNIQUE (run_id, finished_at)
);
CREATE INDEX notifications_due_idx ON notifications (next_try_at)
    WHERE delivered_at IS NULL;

-- How far the notifier has looked at finished runs: (finished_at, id) of
-- the last one. One row.
CREATE TABLE notify_cursor (
    one         boolean PRIMARY KEY DEFAULT true CHECK (one),
    finished_at timestamptz NOT NULL,
    run_id      bigint NOT NULL
);
INSERT INTO notify_cursor (finished_at, run_id) VALUES (now(), 0);
CREATE INDEX runs_finished_idx ON runs (finished_at, id)
    WHERE finished_at IS NOT NULL;
