-- SPDX-License-Identifier: Apache-2.0
-- After and data firings waiting to be made (an outbox). A run's end or a
-- new data version writes one row per follower in its own transaction; a
-- background chore then fires each row in a transaction of its own that
-- deletes it: exactly once, kept across a crash, and the upstream's
-- transaction never locks a follower's DAG row (no lock-order cycle
-- between two DAGs that follow each other).
CREATE TABLE after_pending (
    id          bigserial PRIMARY KEY,
    dag_id      text NOT NULL,  -- the following DAG
    trigger_key text NOT NULL,  -- its after or data trigger
    reason      text NOT NULL,  -- the new run's reason
    payload     jsonb NOT NULL, -- its trigger_payload
    depth       integer NOT NULL DEFAULT 0, -- chain depth of runs ending at once
    created_at  timestamptz NOT NULL DEFAULT now()
);
