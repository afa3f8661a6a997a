// SPDX-License-Identifier: Apache-2.0
// The DAG page: state and actions, the Trigger form built from the params,
// the graph, the triggers' live state, the runs-by-steps grid, the runs
// (by cursor), the YAML source, and the versions with a diff.

import * as api from './api.js';
import {diffLines} from './diff.js';
import {graph} from './graph.js';
import {pauseButton} from './page_dags.js';
import {badge, duration, every, h, note, put, section, square, time, toast} from './ui.js';

const GRID_RUNS = 25;
const RUNS_PAGE = 50;

// One input for a param, typed by its default value.
function paramInput(name, def) {
  const id = `param-${name}`;
  const common = {id, name, 'data-param': name};
  if (typeof def === 'boolean')
    return [h('input', {...common, type: 'checkbox', checked: def}), h('label', {for: id}, name)];
  if (typeof def === 'number')
    return [h('label', {for: id}, name), h('input', {...common, type: 'number', step: 'any', value: def, required: true})];
  if (def !== null && typeof def === 'object')
    return [h('label', {for: id}, `${name} (JSON)`), h('textarea', {...common, 'data-json': '1', rows: 3}, JSON.stringify(def))];
  return [h('label', {for: id}, name), h('input', {...common, type: 'text', value: def ?? ''})];
}

function readParams(form) {
  const params = {};
  for (const el of form.querySelectorAll('[data-param]')) {
    const name = el.dataset.param;
    if (el.type === 'checkbox') params[name] = el.checked;
    else if (el.type === 'number') {
      if (el.value === '' || isNaN(Number(el.value))) throw new Error(`param ${name}: expected a number`);
      params[name] = Number(el.value);
    } else if (el.dataset.json) {
      try {
        params[name] = JSON.parse(el.value);
      } catch (e) {
        throw new Error(`param ${name}: not valid JSON (${e.message})`);
      }
    } else params[name] = el.value;
  }
  return params;
}

function triggerForm(d) {
  const def = d.dag || {};
  const params = def.params || {};
  const envs = Object.keys(def.environments || {});
  const err = h('div', {});
  const envSelect = envs.length
    ? h('select', {id: 'trigger-env', name: 'environment'},
        envs.map((e) => h('option', {value: e, selected: e === def.environment}, e)))
    : null;
  const form = h('form', {id: 'trigger-form', class: 'form-grid', onsubmit: async (ev) => {
    ev.preventDefault();
    put(err);
    let body;
    try {
      body = {params: readParams(form)};
    } catch (e) {
      put(err, note('error', e.message));
      return;
    }
    if (envSelect) body.environment = envSelect.value;
    try {
      const r = await api.post(`/api/v1/dags/${encodeURIComponent(d.id)}/runs`, body);
      toast(`Run ${r.run_id} started`);
      location.hash = `#/runs/${r.run_id}`;
    } catch (e) {
      put(err, note('error', `Cannot trigger: ${e.message}`));
    }
  }},
    Object.keys(params).length
      ? Object.entries(params).map(([k, v]) => h('div', {class: 'field'}, paramInput(k, v)))
      : h('p', {class: 'muted'}, 'This DAG has no params.'),
    envSelect ? h('div', {class: 'field'}, h('label', {for: 'trigger-env'}, 'environment'), envSelect) : null,
    err,
    h('div', {}, h('button', {type: 'submit', class: 'primary'}, 'Trigger run')));
  return form;
}

// What a trigger watches and its accumulated sum against the threshold.
function accumulation(t) {
  if (t.threshold === null || t.threshold === undefined) return '—';
  const sum = t.accumulated || 0;
  const events = t.pending_events ?? 0;
  return [h('meter', {min: 0, max: t.threshold, value: sum, 'aria-label': `${sum} of ${t.threshold}`}),
          ` ${sum} / ${t.threshold}`,
          h('div', {class: 'muted'}, `${events} pending ${events === 1 ? 'event' : 'events'}`)];
}

function triggerState(t) {
  const word = t.state === 'waiting_rearm'
    ? 'fired; re-arms after a sample on the good side of the line'
    : t.state === 'cooldown' ? 'the DAG\'s cooldown runs' : null;
  return [badge(t.state), word ? h('div', {class: 'muted'}, word) : null];
}

function triggersTable(list) {
  if (!list.length) return note('empty', 'No triggers: this DAG runs only when triggered by hand or over the API.');
  return h('table', {class: 'list', id: 'triggers'},
    h('thead', {}, h('tr', {}, ['Trigger', 'Kind', 'Watches', 'State', 'Next fire', 'Accumulated / threshold',
                                'Cooldown until', 'Last fired', 'Suppressed'].map((t) => h('th', {scope: 'col'}, t)))),
    h('tbody', {}, list.map((t) => h('tr', {'data-trigger': t.id},
      h('td', {}, h('code', {}, t.id)), h('td', {}, t.kind),
      h('td', {}, t.kind === 'metric' && t.target
        ? h('a', {href: `#/metrics/${encodeURIComponent(t.target)}`}, t.target)
        : t.target ? h('code', {}, t.target) : '—'),
      h('td', {}, triggerState(t)),
      h('td', {}, time(t.next_fire_time)),
      h('td', {}, accumulation(t)),
      h('td', {}, time(t.cooldown_until)), h('td', {}, time(t.last_fired_at)),
      h('td', {}, (t.suppressed || []).length
        ? h('details', {}, h('summary', {}, `${t.suppressed.length}`),
            h('ul', {}, t.suppressed.map((x) => h('li', {}, time(x.at), ' ', x.reason))))
        : '—')))));
}

function schedulesList(d) {
  if (!(d.schedules || []).length) return h('p', {class: 'muted'}, 'No cron schedule.');
  return h('ul', {}, d.schedules.map((sc) => h('li', {}, h('code', {}, sc.cron), ` (${sc.timezone}), next `, time(sc.next_fire_at))));
}

// The grid: steps as rows, runs as columns (oldest on the left).
function grid(steps, runs) {
  if (!runs.length) return note('empty', 'No runs yet. Use the Trigger form above, or wait for a trigger to fire.');
  const cols = runs.slice().reverse();
  const ids = steps.map((st) => st.id);
  for (const r of cols) for (const k of Object.keys(r.tasks)) if (!ids.includes(k)) ids.push(k);
  return h('div', {class: 'scroll'}, h('table', {class: 'grid', id: 'grid'},
    h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, 'Step'),
      cols.map((r) => h('th', {scope: 'col'}, square(r.state, `#/runs/${r.id}`, `run ${r.id}`))))),
    h('tbody', {}, ids.map((id) => h('tr', {}, h('th', {scope: 'row'}, id),
      cols.map((r) => {
        const t = r.tasks[id];
        return h('td', {}, t ? square(t.state, `#/runs/${r.id}`, `run ${r.id} ${id}${t.cells > 1 ? ` (${t.cells} cells)` : ''}`)
                             : h('span', {class: 'muted', title: 'not in this run'}, '·'));
      }))))));
}

function runsTable(runs) {
  return h('table', {class: 'list', id: 'runs'},
    h('thead', {}, h('tr', {}, ['Run', 'State', 'Why', 'Created', 'Duration'].map((t) => h('th', {scope: 'col'}, t)))),
    h('tbody', {}, runs.map((r) => h('tr', {},
      h('td', {}, h('a', {href: `#/runs/${r.id}`}, `#${r.id}`)), h('td', {}, badge(r.state)),
      h('td', {}, r.reason || `${r.trigger.kind} ${r.trigger.key}`), h('td', {}, time(r.created_at)),
      h('td', {}, duration(r.started_at, r.finished_at))))));
}

function versionsSection(d) {
  const box = h('div', {}, note('info', 'Loading versions…'));
  const out = h('div', {});
  api.get(`/api/v1/dags/${encodeURIComponent(d.id)}/versions`).then((v) => {
    const list = v.versions.slice().sort((a, b) => b.id - a.id);
    const pick = (name, idx) => h('select', {id: `diff-${name}`, 'aria-label': `${name} version`},
      list.map((x, i) => h('option', {value: x.id, selected: i === idx},
        `#${x.id} ${x.hash.slice(0, 10)} ${new Date(x.created_at).toLocaleString()}${x.current ? ' (current)' : ''}`)));
    const a = pick('from', Math.min(1, list.length - 1)), b = pick('to', 0);
    const show = async () => {
      try {
        const [va, vb] = await Promise.all([a.value, b.value].map((id) =>
          api.get(`/api/v1/dags/${encodeURIComponent(d.id)}/versions/${id}`)));
        const lines = diffLines(va.source, vb.source);
        const changed = lines.filter((l) => l.op !== ' ').length;
        put(out, h('p', {class: 'muted'}, changed ? `${changed} lines differ` : 'The two versions are the same.'),
            h('pre', {class: 'diff', id: 'diff'}, lines.map((l) =>
              h('span', {class: l.op === '+' ? 'add' : l.op === '-' ? 'del' : 'same'}, `${l.op} ${l.line}\n`))));
      } catch (e) {
        put(out, note('error', `Cannot load the versions: ${e.message}`));
      }
    };
    put(box, h('ul', {class: 'versions'}, list.map((x) => h('li', {},
        `#${x.id} `, h('code', {}, x.hash.slice(0, 12)), ` ${x.origin}${x.path ? ' ' + x.path : ''}, `, time(x.created_at),
        x.current ? h('strong', {}, ' current') : null))),
      list.length > 1
        ? h('div', {class: 'row'}, h('label', {for: 'diff-from'}, 'Compare'), a, h('label', {for: 'diff-to'}, 'with'), b,
            h('button', {type: 'button', id: 'diff-show', onclick: show}, 'Show diff'))
        : h('p', {class: 'muted'}, 'Only one version so far: edit the DAG file to make another.'),
      out);
  }).catch((e) => put(box, note('error', `Cannot load the versions: ${e.message}`)));
  return box;
}

export function render(main, [id], ctx) {
  const enc = encodeURIComponent(id);
  const head = h('div', {}, note('info', 'Loading…'));
  const trig = h('div', {});
  const gridBox = h('div', {});
  const runsBox = h('div', {});
  const gridMore = h('div', {});
  const runsMore = h('div', {});
  put(main, head);
  let d = null;
  let built = false;
  let gridCursor = null, gridOlder = [];
  let runsOlder = [], runsCursor = null;

  const build = () => {
    const steps = d.dag ? d.dag.steps : [];
    put(main, head,
      ctx.canAct ? section('Trigger', triggerForm(d)) : null,
      section('Graph', steps.length ? h('div', {class: 'scroll'}, graph(steps, null, null))
                                    : note('error', 'This DAG has no loadable version.')),
      section('Triggers', trig),
      section('Runs by step', gridBox, gridMore),
      section('Runs', runsBox, runsMore),
      section('Source', d.source ? h('pre', {class: 'source', id: 'source'}, d.source) : note('error', 'No source.')),
      section('Versions', versionsSection(d)));
    built = true;
  };
  let gridFirst = [];
  const drawGrid = () => {
    put(gridBox, grid(d.dag ? d.dag.steps : [], gridFirst.concat(gridOlder)));
    put(gridMore, gridCursor !== null
      ? h('button', {type: 'button', id: 'grid-older', class: 'small', onclick: async () => {
          const g = await api.get(`/api/v1/dags/${enc}/grid?limit=${GRID_RUNS}&cursor=${gridCursor}`);
          gridOlder = gridOlder.concat(g.runs);
          gridCursor = g.next_cursor;
          drawGrid();
        }}, 'Older runs')
      : null);
  };
  let runsFirst = [];
  const drawRuns = () => {
    const all = runsFirst.concat(runsOlder);
    put(runsBox, all.length ? runsTable(all) : note('empty', 'No runs yet.'));
    put(runsMore, runsCursor !== null
      ? h('button', {type: 'button', id: 'runs-older', class: 'small', onclick: async () => {
          const r = await api.get(`/api/v1/runs?dag=${enc}&limit=${RUNS_PAGE}&cursor=${runsCursor}`);
          runsOlder = runsOlder.concat(r.runs);
          runsCursor = r.next_cursor;
          drawRuns();
        }}, 'Older runs')
      : null);
  };

  const refresh = async () => {
    const r = await api.poll(`/api/v1/dags/${enc}`);
    d = r.data;
    if (r.changed || !built) {
      put(head, h('div', {class: 'page-head'},
        h('h1', {}, d.id), badge(d.last_error && !d.version_id ? 'broken' : d.paused ? 'paused' : 'active'),
        pauseButton(d, ctx, refresh)),
        d.description ? h('p', {}, d.description) : null,
        h('p', {}, (d.tags || []).map((t) => h('span', {class: 'tag'}, t)),
          ` ${d.origin}${d.path ? ': ' + d.path : ''}`, ' · next run ', d.paused ? 'paused' : time(d.next_fire_at)),
        d.last_error ? note('error', h('strong', {}, 'Last load failed: '), h('pre', {}, d.last_error)) : null);
    }
    if (!built) build();
    const [g, runs] = await Promise.all([
      api.poll(`/api/v1/dags/${enc}/grid?limit=${GRID_RUNS}`),
      api.poll(`/api/v1/runs?dag=${enc}&limit=${RUNS_PAGE}`)]);
    if (g.changed || !gridBox.firstChild) {
      gridFirst = g.data.runs;
      if (!gridOlder.length) gridCursor = g.data.next_cursor;
      drawGrid();
    }
    if (runs.changed || !runsBox.firstChild) {
      runsFirst = runs.data.runs;
      if (!runsOlder.length) runsCursor = runs.data.next_cursor;
      drawRuns();
    }
    try {
      const t = await api.poll(`/api/v1/dags/${enc}/triggers`);
      if (t.changed || !trig.firstChild) put(trig, triggersTable(t.data.triggers));
    } catch (e) {
      if (e.status === 404 && /no such path/.test(e.message))
        put(trig, note('info', 'Live trigger state is not available on this server. Schedules from the DAG file:'), schedulesList(d));
      else put(trig, note('error', `Cannot load the triggers: ${e.message}`));
    }
  };
  return every(3000, async () => {
    try {
      await refresh();
    } catch (e) {
      put(head, note('error', e.status === 404 ? `No DAG "${id}". ` : `Cannot load DAG ${id}: ${e.message}`,
                     h('a', {href: '#/dags'}, 'Back to the DAGs.')));
    }
  });
}
