-- SPDX-License-Identifier: Apache-2.0
-- Who started (and retried) the upstream run of a queued after:/data:
-- firing: the run it makes inherits them, so that the approval policy
-- excludes them from its gates as it would on the upstream run.
ALTER TABLE after_pending ADD COLUMN started_by text;
ALTER TABLE after_pending ADD COLUMN retried_by text;
