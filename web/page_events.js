// SPDX-License-Identifier: Apache-2.0
// The events page: recent events (by cursor) and the runs each one fed.

import * as api from './api.js';
import {every, h, json, note, put, time, unreachable} from './ui.js';

const PAGE = 50;

// Whether an error says the server has no such route (an older server).
export function missingRoute(e) {
  return e.status === 404 && /no such path/.test(e.message);
}

export function render(main) {
  const body = h('div', {}, note('info', 'Loading…'));
  const more = h('div', {});
  put(main, h('h1', {}, 'Events'), body, more);
  let older = [], cursor = null, first = [];
  const draw = () => {
    const all = first.concat(older);
    if (!all.length) {
      put(body, note('empty', 'No events yet. Send one with ', h('code', {}, 'weir event NAME --payload JSON'),
                     ' or POST /api/v1/events; the DAGs with an ', h('code', {}, 'event: NAME'),
                     ' trigger run from them, and each event is listed here with the runs it fed.'));
      put(more);
      return;
    }
    put(body, h('table', {class: 'list', id: 'events'},
      h('thead', {}, h('tr', {}, ['Event', 'Received', 'Payload', 'Runs it fed'].map((t) => h('th', {scope: 'col'}, t)))),
      h('tbody', {}, all.map((ev) => h('tr', {'data-event': ev.id},
        h('td', {}, h('code', {}, ev.name), ev.ext_id ? h('div', {class: 'muted'}, `id ${ev.ext_id}`) : null), h('td', {}, time(ev.received_at)),
        h('td', {}, h('details', {}, h('summary', {}, 'payload'), h('pre', {}, json(ev.payload)))),
        h('td', {}, (ev.runs || []).length ? ev.runs.map((id) => h('a', {href: `#/runs/${id}`, class: 'run-link'}, `#${id}`))
                                           : h('span', {class: 'muted'}, 'none')))))));
    put(more, cursor !== null ? h('button', {type: 'button', class: 'small', onclick: async () => {
      const r = await api.get(`/api/v1/events?limit=${PAGE}&cursor=${encodeURIComponent(cursor)}`);
      older = older.concat(r.events);
      cursor = r.next_cursor;
      draw();
    }}, 'Older events') : null);
  };
  let stopped = false;
  const stop = every(5000, async () => {
    if (stopped) return;
    try {
      const r = await api.poll(`/api/v1/events?limit=${PAGE}`);
      if (!r.changed && first.length) return;
      first = r.data.events;
      if (!older.length) cursor = r.data.next_cursor;
      draw();
    } catch (e) {
      if (unreachable(e) && body.firstChild) return; // the banner says so; keep the page
      if (missingRoute(e)) {
        stopped = true;
        put(body, note('info', 'Events are not available on this server: it has no event API yet.'));
      } else put(body, note('error', `Cannot load the events: ${e.message}`));
    }
  });
  return stop;
}
