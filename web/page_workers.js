// SPDX-License-Identifier: Apache-2.0
// The workers page: each worker with its state, queues, slots in use and
// last heartbeat.

import * as api from './api.js';
import {ago, badge, every, h, note, put, time, unreachable} from './ui.js';

export function render(main) {
  const body = h('div', {}, note('info', 'Loading…'));
  put(main, h('h1', {}, 'Workers'), body);
  let drawn = false;
  return every(3000, async () => {
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
}
