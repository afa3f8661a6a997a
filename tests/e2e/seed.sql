-- SPDX-License-Identifier: Apache-2.0
-- History for the browser tests, written directly (10,000 API calls would
-- take minutes): 10,000 finished runs of the DAG quick, one task each,
-- oldest first; then one run of 1,000 tasks (a matrix of one step), each
-- with an attempt (the first one's log capped by a worker). Prints the id
-- of that run.
INSERT INTO runs (dag_id, dag_version_id, state, trigger_kind, trigger_key,
                  reason, created_at, started_at, finished_at)
SELECT 'quick', d.current_version_id,
       CASE WHEN g % 7 = 0 THEN 'failed' ELSE 'success' END, 'manual',
       'manual', 'seeded for the browser tests',
       now() - make_interval(mins => 20000 - g),
       now() - make_interval(mins => 20000 - g),
       now() - make_interval(mins => 20000 - g) + interval '2 s'
FROM generate_series(1, 10000) g, dags d WHERE d.id = 'quick';

INSERT INTO tasks (run_id, step_id, state, try_count, queued_at, started_at,
                   finished_at)
SELECT r.id, 'only', r.state, 1, r.started_at, r.started_at, r.finished_at
FROM runs r WHERE r.dag_id = 'quick';

WITH r AS (
  INSERT INTO runs (dag_id, dag_version_id, state, trigger_kind, trigger_key,
                    reason, created_at, started_at, finished_at)
  SELECT 'quick', current_version_id, 'success', 'manual', 'manual',
         'seeded: 1,000 tasks', now() - interval '1 h', now() - interval '1 h',
         now() - interval '50 min'
  FROM dags WHERE id = 'quick' RETURNING id, started_at),
t AS (
  INSERT INTO tasks (run_id, step_id, cell, matrix, state, try_count,
                     queued_at, started_at, finished_at)
  SELECT r.id, 'only', c, jsonb_build_object('i', c), 'success', 1,
         r.started_at + c * interval '0.5 s',
         r.started_at + c * interval '0.5 s',
         r.started_at + c * interval '0.5 s' + interval '2 s'
  FROM r, generate_series(0, 999) c
  RETURNING id, cell, started_at, finished_at),
a AS (
  INSERT INTO attempts (task_id, try, state, exit_code, started_at,
                        finished_at, log_capped)
  SELECT id, 1, 'success', 0, started_at, finished_at,
         CASE WHEN cell = 0 THEN '{"lines_total": 5000, "lines_kept": 1000,
           "bytes_total": 23893, "bytes_kept": 3893}'::jsonb END
  FROM t)
SELECT id FROM r;
