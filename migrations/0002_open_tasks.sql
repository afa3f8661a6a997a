-- SPDX-License-Identifier: Apache-2.0
-- Unfinished tasks by run. A transition learns whether its run is over
-- from this index (does any other task of the run remain unfinished?)
-- instead of reading every task of the run, which made each completion
-- cost the size of its run and a fan-out of n cells cost n^2. The
-- predicate is the complement of the terminal states of enum task_state.
CREATE INDEX tasks_open_idx ON tasks (run_id)
    WHERE state IN ('pending', 'queued', 'running', 'up_for_retry',
                    'awaiting_approval');

-- Queued tasks in claim order, whatever their queue. The claim asks for
-- the most urgent queued tasks of a worker's queues (queue = ANY (...));
-- tasks_claim_idx, led by the queue, yields them per queue and the claim
-- then reads and sorts every queued task of those queues before its
-- LIMIT, which made each claim cost the length of the queue. This index
-- lets the claim walk queued tasks in order and stop at the LIMIT.
CREATE INDEX tasks_claim_order_idx ON tasks (priority DESC, id)
    WHERE state = 'queued';
