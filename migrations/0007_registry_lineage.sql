-- SPDX-License-Identifier: Apache-2.0
-- A DAG may let more than one version of an artifact be in prod at
-- once (`artifacts: {NAME: {max_prod: N}}`, docs/dag-format.md). The
-- limit is kept by the promotion, which locks every version of the name
-- and archives the oldest prod versions to make room, so the index that
-- allowed only one goes.
DROP INDEX artifacts_one_prod;

-- Which upstream attempts' outputs an attempt was given when it was
-- leased: {step: {attempt_id, try, data_version?, reused?}}, a list of
-- those with cell for a matrix step; NULL for an attempt without upstream
-- steps. A retry from a step names the original attempts here.
ALTER TABLE attempts ADD COLUMN inputs_from jsonb;

-- Params changed by retries (`weir retry RUN --from STEP -p k=v`), oldest
-- first: [{at, by, retry, from, changed: {key: {from, to}}}]. runs.params
-- holds the latest values; the tasks a retry kept ran with the values
-- before it.
ALTER TABLE runs ADD COLUMN param_changes jsonb NOT NULL DEFAULT '[]'
    CHECK (jsonb_typeof(param_changes) = 'array');
