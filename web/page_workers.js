// SPDX-License-Identifier: Apache-2.0
// The workers page: each worker with its state, queues, slots in use and
// last heartbeat; below, the pools that steps of every DAG share, each with
// its slots, the slots in use and the tasks waiting for it.

import * as api from './api.js';
import {ago, badge, every, h, note, put, time, unreachable} from './ui.js';

// The pools section: its own poll, so that a failure of one list does not
// hide the other.
function pools(body) {
  let drawn = false;
  return every(3000, async () => {
    try {
      const r = await api.poll('/api/v1/pools');
      if (!r.changed && drawn) return;
      drawn = true;
      const ps = r.data.pools;
      if (!ps.length) {
        put(body, note('empty', 'No pool is set. Set one with ',
                       h('code', {}, 'weir pool set NAME SLOTS'), '; steps take its slots with ', h('code', {}, 'pool: NAME'), '.'));
        return;
      }
      put(body, h('table', {class: 'list', id: 'pools'},
        h('thead', {}, h('tr', {}, ['Pool', 'Slots', 'Used', 'Waiting'].map((t) => h('th', {scope: 'col'}, t)))),
        h('tbody', {}, ps.map((p) => h('tr', {'data-pool': p.name},
          h('td', {}, p.name), h('td', {}, String(p.slots)),
          h('td', {}, h('meter', {min: 0, max: Math.max(p.slots, 1), value: p.used, 'aria-hidden': 'true'}),
            ` ${p.used} of ${p.slots}`),
          h('td', {}, String(p.waiting)))))));
    } catch (e) {
      if (unreachable(e) && body.firstChild) return;
      put(body, note('error', `Cannot load the pools: ${e.message}`));
    }
  });
}

export function render(main) {
  const body = h('div', {}, note('info', 'Loading…'));
  const poolBody = h('div', {}, note('info', 'Loading…'));
  put(main, h('h1', {}, 'Workers'), body, h('h2', {}, 'Pools'), poolBody);
  const stopPools = pools(poolBody);
  let drawn = false;
  const stopWorkers = every(3000, async () => {
    try {
      const r = await api.poll('/api/v1/workers');
      if (!r.changed && drawn) return;
      drawn = true;
      const ws = r.data.workers;
      if (!ws.length) {
        put(body, note('empty', 'No worker has registered. Start one with ',
                       h('code', {}, 'weir-worker --server URL --token-file FILE'), ' (a token of role worker).'));
        return;
      }
      put(body, h('table', {class: 'list', id: 'workers'},
        h('thead', {}, h('tr', {}, ['Worker', 'State', 'Queues', 'Slots in use', 'Last heartbeat', 'Registered'].map((t) => h('th', {scope: 'col'}, t)))),
        h('tbody', {}, ws.map((w) => h('tr', {},
          h('td', {}, w.name), h('td', {}, badge(w.state)),
          h('td', {}, w.queues.map((q) => h('span', {class: 'tag'}, q))),
          h('td', {}, h('meter', {min: 0, max: w.slots, value: w.running_attempts, 'aria-hidden': 'true'}),
            ` ${w.running_attempts} of ${w.slots}`),
          h('td', {}, time(w.last_seen_at), h('div', {class: 'muted'}, ago(w.last_seen_at))),
          h('td', {}, time(w.registered_at)))))));
    } catch (e) {
      if (unreachable(e) && body.firstChild) return; // the banner says so; keep the page
      put(body, note('error', `Cannot load the workers: ${e.message}`));
    }
  });
  return () => {
    stopPools();
    stopWorkers();
  };
}
