// SPDX-License-Identifier: Apache-2.0
// The DAG page: state and actions, the Trigger form built from the params,
// the graph, the triggers' live state, backfills, the runs-by-steps grid, the runs
// (by cursor), the YAML source, and the versions with a diff.

import * as api from './api.js';
import {followsSection} from './after.js';
import {backfillForm, backfillsTable} from './backfill.js';
import {diffLines} from './diff.js';
import {graph} from './graph.js';
import {lateBadge} from './late.js';
import {pauseButton} from './page_dags.js';
import {badge, duration, every, h, liveDuration, note, put, section, square, time, toast, unreachable} from './ui.js';
import {dagState, runSquare} from './page_dags.js';

const GRID_RUNS = 25;
const RUNS_PAGE = 50;

// The declared type of a param: that of its default in the DAG file.
function paramType(def) {
  if (typeof def === 'boolean') return 'bool';
  if (typeof def === 'number') return 'number';
  if (typeof def === 'string') return 'string';
  if (Array.isArray(def)) return 'list';
  if (def !== null && typeof def === 'object') return 'map';
  return 'JSON';
}

const TYPE_WORDS = {
  bool: 'a bool (true or false)',
  number: 'a number',
  string: 'a string',
  list: 'a list (a JSON array, e.g. ["a", "b"])',
  map: 'a map (a JSON object, e.g. {"k": "v"})',
  JSON: 'a JSON value',
};

// The params in effect for an environment: the DAG's defaults, overridden
// by the environment's params (as the server resolves them).
function effectiveParams(def, env) {
  return {...(def.params || {}), ...((env && def.environments?.[env]?.params) || {})};
}

// One input for a param, typed by its declared type, showing value.
function paramInput(name, type, value) {
  const id = `param-${name}`;
  const common = {id, name, 'data-param': name, 'data-type': type, 'aria-describedby': `param-src-${name}`};
  const src = h('span', {class: 'muted param-src', id: `param-src-${name}`});
  if (type === 'bool')
    return [h('input', {...common, type: 'checkbox', checked: value === true}), h('label', {for: id}, name), src];
  if (type === 'number')
    return [h('label', {for: id}, `${name} (number)`), h('input', {...common, type: 'number', step: 'any', value, required: true}), src];
  if (type === 'string')
    return [h('label', {for: id}, name), h('input', {...common, type: 'text', value: value ?? ''}), src];
  return [h('label', {for: id}, `${name} (${type === 'JSON' ? 'JSON' : type + ', JSON'})`),
          h('textarea', {...common, rows: 3}, JSON.stringify(value)), src];
}

// Show value in a param's input.
function setParam(el, value) {
  if (el.type === 'checkbox') el.checked = value === true;
  else if (el.dataset.type === 'number' || el.dataset.type === 'string') el.value = value ?? '';
  else el.value = JSON.stringify(value);
}

// The value of a param's input, checked against its declared type; an
// Error naming the param and the type when it does not fit.
function readParam(el) {
  const name = el.dataset.param, type = el.dataset.type;
  const wrong = (why) => new Error(`param ${name} must be ${TYPE_WORDS[type]}: ${why}`);
  if (type === 'bool') return el.checked;
  if (type === 'number') {
    if (el.value.trim() === '' || !isFinite(Number(el.value))) throw wrong(el.validity?.badInput ? 'that is not a number' : 'it is empty');
    return Number(el.value);
  }
  if (type === 'string') return el.value;
  let v;
  try {
    v = JSON.parse(el.value);
  } catch (e) {
    throw wrong(`${JSON.stringify(el.value.slice(0, 60))} is not valid JSON (${e.message})`);
  }
  if (type === 'list' && !Array.isArray(v)) throw wrong(`${JSON.stringify(v).slice(0, 60)} is not a list`);
  if (type === 'map' && (v === null || typeof v !== 'object' || Array.isArray(v)))
    throw wrong(`${JSON.stringify(v).slice(0, 60)} is not a map`);
  return v;
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// The Trigger form: the params in effect for the environment chosen
// (refilled when it changes), each checked against its declared type;
// only the params the user changed are sent, so that the server applies
// the environment's own values to the others.
function triggerForm(d) {
  const def = d.dag || {};
  const declared = def.params || {};
  const envs = Object.keys(def.environments || {});
  const err = h('div', {id: 'trigger-error'});
  const envSelect = envs.length
    ? h('select', {id: 'trigger-env', name: 'environment'},
        envs.map((e) => h('option', {value: e, selected: e === def.environment}, e)))
    : null;
  const env = () => (envSelect ? envSelect.value : def.environment);
  // a per-run override of step caching, offered when a step is cached
  const noCache = (def.steps || []).some((s) => s.cache)
    ? h('input', {type: 'checkbox', id: 'trigger-no-cache', name: 'no_cache'})
    : null;
  let shown = effectiveParams(def, env());
  const fields = () => [...form.querySelectorAll('[data-param]')];
  const sources = () => {
    for (const el of fields()) {
      const name = el.dataset.param;
      const envValue = def.environments?.[env()]?.params?.[name];
      const note = form.querySelector(`#param-src-${CSS.escape(name)}`);
      if (note) note.textContent = envValue !== undefined ? `set by ${env()}` : '';
    }
  };
  const refill = () => {
    shown = effectiveParams(def, env());
    for (const el of fields()) setParam(el, shown[el.dataset.param]);
    sources();
    put(err);
  };
  const form = h('form', {id: 'trigger-form', class: 'form-grid', novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    put(err);
    const params = {};
    try {
      for (const el of fields()) {
        const v = readParam(el);
        if (!same(v, shown[el.dataset.param])) params[el.dataset.param] = v;
      }
    } catch (e) {
      put(err, note('error', e.message));
      return;
    }
    const body = {};
    if (Object.keys(params).length) body.params = params;
    if (envSelect) body.environment = envSelect.value;
    if (noCache?.checked) body.no_cache = true;
    try {
      const r = await api.post(`/api/v1/dags/${encodeURIComponent(d.id)}/runs`, body);
      toast(`Run ${r.run_id} started`);
      location.hash = `#/runs/${r.run_id}`;
    } catch (e) {
      put(err, note('error', `Cannot trigger: ${e.message}`));
    }
  }},
    envSelect ? h('div', {class: 'field'}, h('label', {for: 'trigger-env'}, 'environment'), envSelect) : null,
    Object.keys(declared).length
      ? Object.entries(declared).map(([k, v]) => h('div', {class: 'field'}, paramInput(k, paramType(v), shown[k])))
      : h('p', {class: 'muted'}, 'This DAG has no params.'),
    noCache ? h('div', {class: 'field'}, noCache,
      h('label', {for: 'trigger-no-cache'}, 'Skip the step cache (run every step)')) : null,
    err,
    h('div', {}, h('button', {type: 'submit', class: 'primary'}, 'Trigger run')));
  if (envSelect) envSelect.addEventListener('change', refill);
  sources();
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
function grid(steps, runs, runnable) {
  if (!runs.length)
    return note('empty', runnable ? 'No runs yet. Use the Trigger form above, or wait for a trigger to fire.' : 'No runs yet.');
  const cols = runs.slice().reverse();
  const ids = steps.map((st) => st.id);
  for (const r of cols) for (const k of Object.keys(r.tasks)) if (!ids.includes(k)) ids.push(k);
  return h('div', {class: 'scroll'}, h('table', {class: 'grid', id: 'grid'},
    h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, 'Step'),
      cols.map((r) => h('th', {scope: 'col', class: r.late ? 'late' : null}, runSquare(r.state === 'running' &&
        Object.values(r.tasks).some((t) => t.state === 'awaiting_approval') ? {...r, awaiting_approval: true} : r),
        r.late ? h('span', {class: 'late-mark', title: 'late: its deadline was missed'}, '⏰') : null)))),
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
    h('tbody', {}, runs.map((r) => h('tr', {'data-key': `run-${r.id}`},
      h('td', {}, h('a', {href: `#/runs/${r.id}`}, `#${r.id}`)), h('td', {}, badge(r.state), ' ', lateBadge(r)),
      h('td', {}, r.reason || `${r.trigger.kind} ${r.trigger.key}`), h('td', {}, time(r.created_at)),
      h('td', {}, liveDuration(r.started_at, r.finished_at))))));
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
        : list.length ? h('p', {class: 'muted'}, 'Only one version so far: edit the DAG file to make another.')
          : h('p', {class: 'muted', id: 'no-versions'},
              'No version yet: the file has never loaded. A version is stored each time it loads without error.'),
      out);
  }).catch((e) => put(box, note('error', `Cannot load the versions: ${e.message}`)));
  return box;
}

// Runs of a first page merged with those of older pages already shown, by
// id, newest first: runs that a newer run pushed off the first page stay.
function merged(first, older) {
  if (!older.length) return first;
  const byId = new Map(older.map((r) => [r.id, r]));
  for (const r of first) byId.set(r.id, r);
  return [...byId.values()].sort((a, b) => b.id - a.id);
}

function deleteButton(d, ctx) {
  if (!ctx.may('delete', d.id, null)) return null;
  return h('button', {type: 'button', class: 'danger small', id: 'dag-delete', onclick: async () => {
    if (!confirm(`Delete the DAG ${d.id}? Its runs stay readable.`)) return;
    try {
      await api.del(`/api/v1/dags/${encodeURIComponent(d.id)}`);
      toast(`${d.id} deleted`);
      location.hash = '#/dags';
    } catch (e) {
      toast(`Cannot delete ${d.id}: ${e.message}`, 'error');
    }
  }}, 'Delete DAG');
}

// Why a DAG cannot be triggered now, or null when it can.
function notRunnable(d) {
  if (d.file_missing) return 'Its file is gone, so it cannot run.';
  if (!d.version_id) return 'It has never loaded without error, so there is nothing to run: fix the file (error above).';
  return null;
}

export function render(main, [id], ctx) {
  const enc = encodeURIComponent(id);
  const head = h('div', {}, note('info', 'Loading…'));
  const trig = h('div', {});
  const bfBox = h('div', {id: 'backfills-box'});
  const gridBox = h('div', {});
  const runsBox = h('div', {});
  const gridMore = h('div', {});
  const runsMore = h('div', {});
  put(main, head);
  let d = null;
  let built = false;
  let gridCursor = null, gridOlder = [];
  let runsOlder = [], runsCursor = null;

  const sourceView = () => {
    if (d.source)
      return [d.version_id && d.last_error
        ? h('p', {class: 'muted'}, 'The source of the version in use; the file\'s newer text did not load (error above).') : null,
        h('pre', {class: 'source', id: 'source'}, d.source)];
    return note('info', {id: 'no-source'}, d.path
      ? ['The file ', h('code', {}, d.path), d.file_missing ? ' is gone.' : ' has not loaded yet, so no version of its source is stored: its load error is shown above.']
      : 'No version of this DAG is stored.');
  };
  const build = () => {
    const steps = d.dag ? d.dag.steps : [];
    const why = notRunnable(d);
    // built afresh: the Trigger form and the versions are made once per build
    main.replaceChildren(head);
    put(main, head,
      ctx.may('trigger', d.id) ? section('Trigger', why ? note('info', {id: 'not-runnable'}, why) : triggerForm(d)) : null,
      section('Graph', steps.length ? h('div', {class: 'scroll'}, graph(steps, null, null))
                                    : note('error', 'This DAG has no loadable version.')),
      section('Triggers', trig),
      followsSection(d),
      section('Backfills', ctx.may('trigger', d.id, null) && !why && (d.dag?.triggers || []).some((t) => t.cron !== undefined)
        ? backfillForm(d, () => refreshBackfills()) : null, bfBox),
      section('Runs by step', gridBox, gridMore),
      section('Runs', runsBox, runsMore),
      section('Source', h('div', {id: 'source-box'}, sourceView())),
      section('Versions', versionsSection(d)));
    built = true;
  };
  let gridFirst = [];
  const drawGrid = () => {
    put(gridBox, grid(d.dag ? d.dag.steps : [], merged(gridFirst, gridOlder), !notRunnable(d)));
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
    const all = merged(runsFirst, runsOlder);
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

  const refreshBackfills = async () => {
    try {
      const b = await api.poll(`/api/v1/dags/${enc}/backfills`);
      if (b.changed || !bfBox.firstChild) put(bfBox, backfillsTable(b.data.backfills, ctx, refreshBackfills));
    } catch (e) {
      if (unreachable(e)) throw e;
      put(bfBox, note('error', `Cannot load the backfills: ${e.message}`));
    }
  };
  const refresh = async () => {
    const r = await api.poll(`/api/v1/dags/${enc}`);
    const was = d;
    d = r.data;
    if (r.changed || !built) {
      const st = dagState(d);
      put(head, h('div', {class: 'page-head'},
        h('h1', {}, d.id), badge(st),
        pauseButton(d, ctx, refresh), d.file_missing ? deleteButton(d, ctx) : null),
        d.description ? h('p', {}, d.description) : null,
        h('p', {}, (d.tags || []).map((t) => h('span', {class: 'tag'}, t)),
          ` ${d.origin}${d.path ? ': ' + d.path : ''}`, ' · next run ', d.paused ? 'paused' : time(d.next_fire_at)),
        d.file_missing
          ? note('error', {id: 'file-missing'}, h('strong', {}, 'The file is gone: '),
              `${d.path || 'the DAG file'} was removed, so this DAG no longer runs and no trigger fires it. `,
              ctx.may('delete', d.id, null) ? 'Delete it here (its runs stay readable), or put the file back.' : 'An admin can delete it, or put the file back.')
          : null,
        d.last_error ? note('error', h('strong', {}, 'Last load failed: '), h('pre', {}, d.last_error)) : null);
    }
    // a DAG that loads, breaks or loses its file changes what the page offers
    if (built && was && (notRunnable(was) !== notRunnable(d) || was.version_id !== d.version_id)) built = false;
    if (!built) build();
    const [g, runs] = await Promise.all([
      api.poll(`/api/v1/dags/${enc}/grid?limit=${GRID_RUNS}`),
      api.poll(`/api/v1/runs?dag=${enc}&limit=${RUNS_PAGE}`)]);
    // once older pages are shown, the runs a newer run pushes off the
    // first page join them instead of going away
    if (g.changed || !gridBox.firstChild) {
      if (gridOlder.length) gridOlder = merged(gridFirst, gridOlder);
      gridFirst = g.data.runs;
      if (!gridOlder.length) gridCursor = g.data.next_cursor;
      drawGrid();
    }
    if (runs.changed || !runsBox.firstChild) {
      if (runsOlder.length) runsOlder = merged(runsFirst, runsOlder);
      runsFirst = runs.data.runs;
      if (!runsOlder.length) runsCursor = runs.data.next_cursor;
      drawRuns();
    }
    await refreshBackfills();
    try {
      const t = await api.poll(`/api/v1/dags/${enc}/triggers`);
      if (t.changed || !trig.firstChild) put(trig, triggersTable(t.data.triggers));
    } catch (e) {
      if (unreachable(e)) throw e;
      if (e.status === 404 && /no such path/.test(e.message))
        put(trig, note('info', 'Live trigger state is not available on this server. Schedules from the DAG file:'), schedulesList(d));
      else put(trig, note('error', `Cannot load the triggers: ${e.message}`));
    }
  };
  return every(3000, async () => {
    try {
      await refresh();
    } catch (e) {
      if (unreachable(e) && d) return; // the banner says so; keep the page
      if (e.status === 404 && !/no such path/.test(e.message)) {
        // nothing to wait for: say so and stop asking
        put(main, note('error', `No DAG "${id}": it does not exist, or was deleted. `, h('a', {href: '#/dags'}, 'Back to the DAGs.')));
        return false;
      }
      put(head, note('error', `Cannot load DAG ${id}: ${e.message} `, h('a', {href: '#/dags'}, 'Back to the DAGs.')));
    }
  });
}
