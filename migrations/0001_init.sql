-- SPDX-License-Identifier: Apache-2.0
-- The whole engine's schema: DAGs and their versions, runs, tasks, attempts,
-- log lines, workers and API tokens (docs/architecture.md, "Storage").
-- weir-server applies this file once, in one transaction, under an advisory
-- lock, and records it in schema_migrations.
--
-- Conventions: ids are bigint identities, except DAG ids, which are the
-- names written in the DAG files. Times are timestamptz. Every state column
-- has a CHECK with exactly the values of the matching C enum. Priorities
-- are small integers: 0 low, 1 normal, 2 high, 3 critical (enum
-- dag_priority), so that "ORDER BY priority DESC" puts urgent work first.

-- API tokens. Only the SHA-256 of a token is stored (64 lowercase hex).
CREATE TABLE api_tokens (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hash        text NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$'),
    role        text NOT NULL CHECK (role IN ('admin', 'worker', 'read')),
    name        text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz -- set when revoked; the row stays for audit
);

-- One row per DAG id. A DAG from a file whose current version is NULL has
-- never loaded: the row exists only to carry last_error.
CREATE TABLE dags (
    id                 text PRIMARY KEY
                       CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    origin             text NOT NULL CHECK (origin IN ('file', 'api')),
    path               text,  -- origin 'file': path under the DAGs folder
    paused             boolean NOT NULL DEFAULT false,
    current_version_id bigint, -- the version runs start from
    last_error         text,   -- diagnostics of the last failed load
    last_error_at      timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK ((origin = 'file') = (path IS NOT NULL))
);

-- Every distinct source text a DAG ever had. Reloading an unchanged file
-- finds its (dag_id, hash) and adds nothing.
CREATE TABLE dag_versions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dag_id      text NOT NULL REFERENCES dags (id),
    hash        text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
    source      text NOT NULL,
    origin      text NOT NULL CHECK (origin IN ('file', 'api')),
    path        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (dag_id, hash),
    UNIQUE (dag_id, id) -- target of the composite keys below
);

-- The current version must be one of the DAG's own versions.
ALTER TABLE dags ADD CONSTRAINT dags_current_version_fkey
    FOREIGN KEY (id, current_version_id) REFERENCES dag_versions (dag_id, id);

-- A run of one DAG version. trigger_key is the trigger's stable key
-- ("cron:0 2 * * 0", an explicit trigger id, or 'manual'); with
-- logical_time (the cron slot) it makes a slot produce exactly one run.
CREATE TABLE runs (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dag_id          text NOT NULL,
    dag_version_id  bigint NOT NULL,
    state           text NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'running', 'success',
                                     'failed', 'canceled')),
    params          jsonb NOT NULL DEFAULT '{}'
                    CHECK (jsonb_typeof(params) = 'object'),
    environment     text,
    trigger_kind    text NOT NULL
                    CHECK (trigger_kind IN ('cron', 'event', 'metric', 'file',
                                            'webhook', 'manual')),
    trigger_key     text NOT NULL,
    trigger_payload jsonb,  -- the event, metric samples or request body
    idempotency_key text,   -- a client's key for a manual trigger
    reason          text,   -- why it started, for people
    priority        smallint NOT NULL DEFAULT 1 CHECK (priority BETWEEN 0 AND 3),
    logical_time    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    retry_count     integer NOT NULL DEFAULT 0 CHECK (retry_count >= 0),
                    -- times a person retried it after it finished
    retried_at      timestamptz, -- the last of those retries
    canceled_by     text,        -- token name of who canceled it
    FOREIGN KEY (dag_id, dag_version_id) REFERENCES dag_versions (dag_id, id),
    CHECK ((state IN ('success', 'failed', 'canceled'))
           = (finished_at IS NOT NULL))
);
CREATE UNIQUE INDEX runs_trigger_slot_key
    ON runs (dag_id, trigger_key, logical_time)
    WHERE logical_time IS NOT NULL;
CREATE UNIQUE INDEX runs_idempotency_key
    ON runs (dag_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- Listing a DAG's runs, newest first.
CREATE INDEX runs_dag_id_idx ON runs (dag_id, id DESC);
-- Runs not finished yet (max_active_runs, the dashboard's "active").
CREATE INDEX runs_active_idx ON runs (dag_id)
    WHERE state IN ('queued', 'running');

-- One task per step and matrix cell of a run.
CREATE TABLE tasks (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id           bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step_id          text NOT NULL,
    cell             integer NOT NULL DEFAULT 0 CHECK (cell >= 0),
    matrix           jsonb,  -- the cell's {axis: value}, NULL without matrix
    state            text NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'queued', 'running',
                                      'success', 'failed', 'up_for_retry',
                                      'skipped', 'upstream_failed',
                                      'awaiting_approval', 'canceled')),
    try_count        integer NOT NULL DEFAULT 0 CHECK (try_count >= 0),
    max_tries        integer NOT NULL DEFAULT 1 CHECK (max_tries >= 1),
    queue            text NOT NULL DEFAULT 'default',
    priority         smallint NOT NULL DEFAULT 1
                     CHECK (priority BETWEEN 0 AND 3),
    upstream_pending integer NOT NULL DEFAULT 0
                     CHECK (upstream_pending >= 0), -- unfinished upstreams
    next_try_at      timestamptz, -- up_for_retry: when it may be queued
    outputs          jsonb,       -- of the attempt that succeeded
    error            text,        -- why it failed without an attempt
                                  -- (an if: that cannot be evaluated)
    created_at       timestamptz NOT NULL DEFAULT now(),
    queued_at        timestamptz,
    started_at       timestamptz,
    finished_at      timestamptz,
    -- an approval gate's decision: who (token name), when, and why
    decision         text CHECK (decision IN ('approved', 'rejected')),
    decided_by       text,
    decided_at       timestamptz,
    decision_comment text,
    UNIQUE (run_id, step_id, cell)
);
-- The claim: queued tasks of a queue, most urgent first, then oldest.
CREATE INDEX tasks_claim_idx ON tasks (queue, priority DESC, id)
    WHERE state = 'queued';
-- The retry timer: tasks waiting for their next try.
CREATE INDEX tasks_retry_idx ON tasks (next_try_at)
    WHERE state = 'up_for_retry';

-- Workers that registered. 'lost' means its heartbeats stopped.
CREATE TABLE workers (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL UNIQUE, -- registering again updates
    token_id      bigint REFERENCES api_tokens (id),
    queues        text[] NOT NULL DEFAULT '{default}',
    slots         integer NOT NULL DEFAULT 1 CHECK (slots >= 1),
    labels        jsonb NOT NULL DEFAULT '{}'
                  CHECK (jsonb_typeof(labels) = 'object'),
    state         text NOT NULL DEFAULT 'online'
                  CHECK (state IN ('online', 'offline', 'lost')),
    registered_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per try of a task. lease_id is the fencing token: a heartbeat,
-- log batch or completion that does not carry it is refused.
-- States: running (leased, not finished), success, failed (non-zero exit
-- or error), timed_out (killed at its timeout), lost (its lease expired:
-- worker or network died), canceled (the run was canceled).
CREATE TABLE attempts (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id        bigint NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    try            integer NOT NULL CHECK (try >= 1),
    worker_id      bigint REFERENCES workers (id),
    lease_id       uuid NOT NULL DEFAULT gen_random_uuid(),
    lease_deadline timestamptz,
    state          text NOT NULL DEFAULT 'running'
                   CHECK (state IN ('running', 'success', 'failed', 'lost',
                                    'canceled', 'timed_out')),
    exit_code      integer,
    outputs        jsonb,
    error          text,
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    UNIQUE (task_id, try),
    CHECK ((state = 'running') = (finished_at IS NULL))
);
-- Lease expiry: running attempts by deadline.
CREATE INDEX attempts_lease_idx ON attempts (lease_deadline)
    WHERE state = 'running';
-- A worker's running attempts (when it is lost or deregisters).
CREATE INDEX attempts_worker_idx ON attempts (worker_id)
    WHERE state = 'running';

-- Output of attempts, line by line. The key makes a re-sent batch
-- harmless (ON CONFLICT DO NOTHING) and is the read order.
CREATE TABLE log_lines (
    attempt_id bigint NOT NULL REFERENCES attempts (id) ON DELETE CASCADE,
    seq        bigint NOT NULL CHECK (seq >= 0),
    ts         timestamptz NOT NULL,
    stream     text NOT NULL CHECK (stream IN ('stdout', 'stderr', 'system')),
    line       text NOT NULL,
    PRIMARY KEY (attempt_id, seq)
);

-- A time as the API writes it: ISO 8601 in UTC with milliseconds.
CREATE FUNCTION weir_iso(t timestamptz) RETURNS text
    LANGUAGE sql IMMUTABLE
    RETURN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
