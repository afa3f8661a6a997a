-- SPDX-License-Identifier: Apache-2.0
-- A backfill that cannot go on ends 'failed' with why in error: its params
-- no longer fit the version of its DAG its next runs would use (a param
-- dropped or retyped since it was planned).
ALTER TABLE backfills ADD COLUMN error text;
ALTER TABLE backfills DROP CONSTRAINT backfills_state_check;
ALTER TABLE backfills ADD CONSTRAINT backfills_state_check
    CHECK (state IN ('running', 'done', 'canceled', 'failed'));
ALTER TABLE backfills ADD CONSTRAINT backfills_error_check
    CHECK ((state = 'failed') = (error IS NOT NULL));
