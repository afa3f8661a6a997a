// SPDX-License-Identifier: Apache-2.0
// The DAGs page: every DAG with its state, schedule and next fire time,
// its last runs as squares, tags, a search box, pause and unpause.

import * as api from './api.js';
import {badge, every, h, note, put, square, time, toast, unreachable} from './ui.js';

const LAST_RUNS = 10;
const DAGS_PAGE = 200; // DAGs per request; the search looks in those shown

export function dagState(d) {
  if (d.file_missing) return 'missing';
  if (d.last_error && !d.version_id) return 'broken';
  return d.paused ? 'paused' : 'active';
}

async function setPaused(id, paused, refresh) {
  try {
    await api.post(`/api/v1/dags/${encodeURIComponent(id)}/${paused ? 'pause' : 'unpause'}`);
    toast(`${id} ${paused ? 'paused' : 'unpaused'}`);
    refresh();
  } catch (e) {
    toast(`Cannot ${paused ? 'pause' : 'unpause'} ${id}: ${e.message}`, 'error');
  }
}

// A run's square; a running run that waits for a person is shown apart.
export function runSquare(r) {
  return square(r.awaiting_approval && r.state === 'running' ? 'waiting_approval' : r.state, `#/runs/${r.id}`, `run ${r.id}`);
}

export function pauseButton(d, ctx, refresh) {
  if (!ctx.may('pause', d.id, null)) return null;
  return h('button', {type: 'button', class: 'small', id: `pause-${d.id}`, 'data-action': d.paused ? 'unpause' : 'pause',
                      onclick: () => setPaused(d.id, !d.paused, refresh)},
           d.paused ? 'Unpause' : 'Pause');
}

function row(d, runs, ctx, refresh) {
  const st = dagState(d);
  const lastRuns = (runs || []).slice().reverse();
  return h('tr', {'data-dag': d.id},
    h('td', {}, badge(st),
      d.last_error ? h('div', {class: 'err-text', title: d.last_error}, d.last_error) : null),
    h('td', {}, h('a', {href: `#/dags/${encodeURIComponent(d.id)}`, class: 'dag-link', id: `dag-${d.id}`}, d.id),
      d.description ? h('div', {class: 'muted'}, d.description) : null),
    h('td', {}, (d.tags || []).map((t) => h('span', {class: 'tag'}, t))),
    h('td', {}, (d.schedules || []).length
      ? d.schedules.map((sc) => h('div', {}, h('code', {}, sc.cron), ' ', h('span', {class: 'muted'}, sc.timezone)))
      : h('span', {class: 'muted'}, 'none')),
    h('td', {}, d.paused ? h('span', {class: 'muted'}, 'paused') : time(d.next_fire_at)),
    h('td', {class: 'squares'}, lastRuns.length
      ? lastRuns.map(runSquare)
      : h('span', {class: 'muted'}, 'no runs yet')),
    h('td', {}, d.file_missing ? null : pauseButton(d, ctx, refresh)));
}

export function render(main, args, ctx) {
  const search = h('input', {type: 'search', id: 'dag-search', placeholder: 'Search by id, description or tag',
                             'aria-label': 'Search DAGs'});
  const body = h('div', {}, note('info', 'Loading…'));
  const more = h('div', {});
  put(main, h('div', {class: 'page-head'}, h('h1', {}, 'DAGs'), search), body, more);
  let dags = [];
  const runs = new Map();

  const draw = () => {
    const q = search.value.trim().toLowerCase();
    const shown = dags.filter((d) => !q || d.id.includes(q) ||
      (d.description || '').toLowerCase().includes(q) || (d.tags || []).some((t) => t.toLowerCase().includes(q)));
    if (!dags.length) {
      put(body, note('empty', 'No DAGs yet. Put a DAG file (YAML) in the server\'s DAGs folder, or submit one with ',
                     h('code', {}, 'weir dag submit FILE'), '; it shows up here within a second.'));
      return;
    }
    if (!shown.length) {
      put(body, note('empty', `No DAG matches "${search.value}". Clear the search to see all ${dags.length}.`));
      return;
    }
    put(body, h('table', {class: 'list', id: 'dags'},
      h('thead', {}, h('tr', {}, ['State', 'DAG', 'Tags', 'Schedule', 'Next run', `Last ${LAST_RUNS} runs`, ''].map((t) => h('th', {scope: 'col'}, t)))),
      h('tbody', {}, shown.map((d) => row(d, runs.get(d.id), ctx, refresh)))));
  };

  let changed = false;
  let drawn = false;
  let pages = 1; // pages of the DAG list shown; "More DAGs" adds one
  const refresh = async () => {
    let cursor = null;
    changed = false;
    dags = [];
    for (let p = 0; p < pages; p++) {
      const r = await api.poll(`/api/v1/dags?limit=${DAGS_PAGE}${cursor ? '&cursor=' + encodeURIComponent(cursor) : ''}`);
      if (r.changed) changed = true;
      dags = dags.concat(r.data.dags);
      cursor = r.data.next_cursor;
      if (!cursor) break;
    }
    put(more, cursor ? h('button', {type: 'button', id: 'dags-more', class: 'small', onclick: () => {
      pages++;
      refresh();
    }}, `More DAGs (${dags.length} shown)`) : null);
    const rr = await api.poll(`/api/v1/recent-runs?per_dag=${LAST_RUNS}`);
    if (rr.changed) changed = true;
    for (const [id, list] of Object.entries(rr.data.dags)) runs.set(id, list);
    if (changed || !drawn) draw();
    drawn = true;
  };
  search.addEventListener('input', draw);
  return every(3000, async () => {
    try {
      await refresh();
    } catch (e) {
      if (unreachable(e) && drawn) return; // the banner says so; keep the page
      put(body, note('error', `Cannot load the DAGs: ${e.message}`));
    }
  });
}
