-- SPDX-License-Identifier: Apache-2.0
-- concurrency: N, the cap on a DAG's tasks running at once
-- (docs/architecture.md, "Concurrency caps").
--
-- dags.concurrency is the cap of the DAG's current version (NULL: none).
-- tasks.capped_dag is the task's DAG id while that DAG has a cap, NULL
-- otherwise: the fast claim's index leaves those tasks out, and a second
-- claim, which locks the DAG's row first, takes them.

ALTER TABLE dags ADD COLUMN concurrency integer CHECK (concurrency >= 1);
-- The capped DAGs, which every claim looks at (none: an empty scan).
CREATE INDEX dags_capped_idx ON dags (id) WHERE concurrency IS NOT NULL;

ALTER TABLE tasks ADD COLUMN capped_dag text;

-- The fast claim: queued tasks of uncapped DAGs, by queue, most urgent
-- first, then oldest.
DROP INDEX tasks_claim_idx;
CREATE INDEX tasks_claim_idx ON tasks (queue, priority DESC, id)
    WHERE state = 'queued' AND capped_dag IS NULL;
-- The capped claim: a capped DAG's claimable tasks, most urgent first,
-- and (the next index) its running tasks, counted against the cap.
CREATE INDEX tasks_capped_idx ON tasks (capped_dag, priority DESC, id)
    WHERE capped_dag IS NOT NULL AND state IN ('queued', 'up_for_retry');
CREATE INDEX tasks_capped_running_idx ON tasks (capped_dag)
    WHERE capped_dag IS NOT NULL AND state = 'running';
