-- SPDX-License-Identifier: Apache-2.0
-- Who started a run by hand (the token or user name of a manual trigger)
-- and who retried it last: the approval policy refuses their approval of
-- the run's gates unless the gate allows self approval. NULL for a run
-- no person started (a schedule, an event, a metric, a file, a webhook,
-- an upstream DAG); a backfill's runs count as started by who asked for
-- the backfill (backfills.created_by).
ALTER TABLE runs ADD COLUMN started_by text;
ALTER TABLE runs ADD COLUMN retried_by text;
