-- SPDX-License-Identifier: Apache-2.0
-- Pools: named sets of slots shared by every DAG (docs/dag-format.md,
-- "Pools"). A step with `pool: gpu` takes pool_slots of pool gpu from the
-- start to the end of each attempt.
--
-- How many slots a pool has in use is never stored: it is the sum of
-- tasks.pool_slots over the pool's running tasks, so no fault path (a
-- lost lease, a cancel, a server killed mid-commit) can leave a count
-- that drifts. The pooled claim locks the pool's row first, so that two
-- claims never both see room for the same slot.

CREATE TABLE pools (
    name       text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
    slots      integer NOT NULL CHECK (slots >= 0), -- 0: nothing starts
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- A task's pool (NULL: none) and the slots it takes there, copied from
-- its step when its run is created.
ALTER TABLE tasks ADD COLUMN pool text,
    ADD COLUMN pool_slots integer NOT NULL DEFAULT 1 CHECK (pool_slots >= 1);

-- The fast claim leaves pooled tasks to the pooled claim: its index
-- holds none of them, so that tasks waiting for a full pool are never
-- walked over.
DROP INDEX tasks_claim_idx;
CREATE INDEX tasks_claim_idx ON tasks (queue, priority DESC, id)
    WHERE state = 'queued' AND capped_dag IS NULL AND pool IS NULL;
-- The pooled claim: a pool's claimable tasks, most urgent first, and (the
-- next index) its running tasks, whose slots are in use.
CREATE INDEX tasks_pool_idx ON tasks (pool, priority DESC, id)
    WHERE pool IS NOT NULL AND state IN ('queued', 'up_for_retry');
CREATE INDEX tasks_pool_running_idx ON tasks (pool)
    WHERE pool IS NOT NULL AND state = 'running';

-- The pools each DAG's current version names, written when a version is
-- recorded: deleting a pool that a loaded DAG uses is refused.
ALTER TABLE dags ADD COLUMN pools text[] NOT NULL DEFAULT '{}';
