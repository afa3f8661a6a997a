-- SPDX-License-Identifier: Apache-2.0
-- Run timeouts and deadlines (docs/dag-format.md, "Run timeouts and
-- deadlines"). run_timeout_ms is the DAG version's run_timeout, copied at
-- creation; timeout_at follows from it and the run's (latest) start, kept
-- by the trigger below so that every path that starts or restarts a run
-- (a held run let go, a retry) arms it. deadline_at is placed at creation
-- from the logical time (else the creation time). late and late_at are
-- set once, by the deadline chore, when an unfinished run passes
-- deadline_at. error says why the engine itself ended the run ("run
-- timeout 2h", "deadline missed ..."), cleared when it is retried; a
-- retry also drops a deadline that passed while the run was finished.
ALTER TABLE runs
    ADD COLUMN run_timeout_ms bigint CHECK (run_timeout_ms > 0),
    ADD COLUMN timeout_at     timestamptz,
    ADD COLUMN deadline_at    timestamptz,
    ADD COLUMN late           boolean NOT NULL DEFAULT false,
    ADD COLUMN late_at        timestamptz,
    ADD COLUMN error          text,
    ADD CHECK (late = (late_at IS NOT NULL));

CREATE FUNCTION weir_run_timeout_arm() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.run_timeout_ms IS NOT NULL AND NEW.started_at IS NOT NULL THEN
        NEW.timeout_at := NEW.started_at
                          + NEW.run_timeout_ms * interval '1 millisecond';
    END IF;
    -- a retry: the engine's reason for the end goes, and a deadline
    -- that passed while the run was finished (met or missed) is over
    IF OLD.finished_at IS NOT NULL AND NEW.finished_at IS NULL THEN
        NEW.error := NULL;
        IF NOT NEW.late AND NEW.deadline_at <= now() THEN
            NEW.deadline_at := NULL;
        END IF;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER runs_timeout_arm
    BEFORE UPDATE OF started_at, finished_at, run_timeout_ms ON runs
    FOR EACH ROW
    WHEN (NEW.run_timeout_ms IS NOT NULL OR OLD.error IS NOT NULL
          OR OLD.deadline_at IS NOT NULL)
    EXECUTE FUNCTION weir_run_timeout_arm();

-- The chore's scans: running runs past their timeout not yet ended by
-- it, unfinished runs past their deadline not yet marked late.
CREATE INDEX runs_timeout_idx ON runs (timeout_at)
    WHERE state = 'running' AND error IS NULL AND timeout_at IS NOT NULL;
CREATE INDEX runs_deadline_idx ON runs (deadline_at)
    WHERE state IN ('queued', 'running') AND NOT late
          AND deadline_at IS NOT NULL;
