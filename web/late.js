// SPDX-License-Identifier: Apache-2.0
// A run's deadline and run timeout on the dashboard (docs/dag-format.md,
// "Run timeouts and deadlines"): the "late" mark of the run page, the
// DAG's run list and grid, and the facts of the run page.
import {h, time} from './ui.js';

// The "late" badge of a run its deadline marked late, else null.
export function lateBadge(run) {
  if (!run || !run.late) return null;
  const title = run.deadline_at ? `deadline ${run.deadline_at} missed${run.late_at ? `, marked at ${run.late_at}` : ''}`
                                : 'deadline missed';
  return h('span', {class: 'badge st-late', title, 'aria-label': `late: ${title}`},
           h('span', {class: 'icon', 'aria-hidden': 'true'}, '⏰'), 'late');
}

// The run page's facts on it: why the engine ended it, its run timeout
// and its deadline (nothing for a run without them).
export function lateFacts(run) {
  return [
    run.error ? [h('dt', {}, 'Error'), h('dd', {id: 'run-error'}, run.error)] : null,
    run.timeout_at ? [h('dt', {}, 'Run timeout'), h('dd', {id: 'timeout-at'}, time(run.timeout_at))] : null,
    run.deadline_at ? [h('dt', {}, 'Deadline'), h('dd', {id: 'deadline-at'}, time(run.deadline_at),
      run.late ? [' ', lateBadge(run), run.late_at ? [' at ', time(run.late_at)] : null] : null)] : null,
  ];
}
