// SPDX-License-Identifier: Apache-2.0
// The audit log page (admins): who did what to which target, newest first,
// filtered by actor, action, DAG and time, with older pages by cursor.

import * as api from './api.js';
import {h, json, note, put, time} from './ui.js';

const PAGE = 50;
const FILTERS = [['actor', 'Actor'], ['action', 'Action'], ['dag', 'DAG'],
                 ['since', 'Since'], ['until', 'Until']];

function query(values, cursor) {
  const q = new URLSearchParams({limit: String(PAGE)});
  for (const [k] of FILTERS) if (values[k]) q.set(k, values[k]);
  if (cursor) q.set('cursor', cursor);
  return `/api/v1/audit?${q}`;
}

function row(r) {
  return h('tr', {'data-audit': r.id},
    h('td', {}, time(r.at)),
    h('td', {}, r.actor || h('span', {class: 'muted'}, 'unknown'),
      h('div', {class: 'muted'}, (r.actor_grants || []).map((g) => g.role).join(', '))),
    h('td', {}, h('code', {}, r.action)),
    h('td', {}, r.dag ? h('a', {href: `#/dags/${encodeURIComponent(r.dag)}`}, r.target) : r.target),
    h('td', {class: `outcome-${r.outcome}`}, r.outcome,
      r.status ? h('div', {class: 'muted'}, `${r.status} ${r.message}`) : null),
    h('td', {}, h('details', {}, h('summary', {}, 'params'), h('pre', {}, json(r.params)))),
    h('td', {class: 'muted'}, r.client));
}

export function render(main, args, ctx) {
  // as the Audit link (app.js): an admin grant without limits
  if (!ctx.may('admin', null, null)) {
    put(main, h('h1', {}, 'Audit log'), note('error', 'Only an admin (a grant of admin without env= or dag= limits) may read the audit log.'));
    return () => {};
  }
  const values = {};
  const inputs = FILTERS.map(([k, label]) => {
    const input = h('input', {id: `audit-${k}`, name: k, placeholder: k === 'since' || k === 'until' ? '2026-01-31T12:00Z' : ''});
    return h('label', {for: `audit-${k}`}, label, ' ', input);
  });
  const body = h('div', {}, note('info', 'Loading…'));
  const more = h('div', {});
  let records = [], cursor = null;
  const draw = () => {
    if (!records.length) {
      put(body, note('empty', 'No audit records match.'));
      put(more);
      return;
    }
    put(body, h('table', {class: 'list', id: 'audit'},
      h('thead', {}, h('tr', {}, ['When', 'Actor', 'Action', 'Target', 'Outcome', 'Parameters', 'Client']
        .map((t) => h('th', {scope: 'col'}, t)))),
      h('tbody', {}, records.map(row))));
    put(more, cursor ? h('button', {type: 'button', class: 'small', onclick: () => load(true)}, 'Older records') : null);
  };
  const load = async (older) => {
    try {
      const r = await api.get(query(values, older ? cursor : null));
      records = older ? records.concat(r.records) : r.records;
      cursor = r.next_cursor;
      draw();
    } catch (e) {
      put(body, note('error', `Cannot load the audit log: ${e.message}`));
      put(more);
    }
  };
  const form = h('form', {class: 'filters', id: 'audit-filters', onsubmit: (ev) => {
    ev.preventDefault();
    for (const [k] of FILTERS) values[k] = document.getElementById(`audit-${k}`).value.trim();
    load(false);
  }}, inputs, h('button', {type: 'submit', class: 'small'}, 'Filter'));
  put(main, h('h1', {}, 'Audit log'), form, body, more);
  load(false);
  return () => {};
}
