// SPDX-License-Identifier: Apache-2.0
// The metrics page: a small chart of one metric's samples against the
// threshold lines of the triggers that watch it.

import * as api from './api.js';
import {missingRoute} from './page_events.js';
import {every, h, note, put, s, time, unreachable} from './ui.js';

const LIMIT = 500;

function chart(m) {
  const pts = m.samples.map((x) => ({t: Date.parse(x.time), v: Number(x.value)})).filter((p) => !isNaN(p.t) && !isNaN(p.v))
    .sort((a, b) => a.t - b.t);
  if (!pts.length)
    return note('empty', `No samples of ${m.name} in the last week. Send one with `, h('code', {}, `weir metric ${m.name} VALUE`),
                ' or POST /api/v1/metrics; the DAGs with a ', h('code', {}, `metric: ${m.name}`), ' trigger watch them.');
  // a trigger may watch both sides: one line for each
  const lines = (m.triggers || []).flatMap((t) => ['below', 'above'].filter((k) => typeof t[k] === 'number').map((k) =>
    ({label: `${t.dag}/${t.trigger} ${k}${t.for > 1 ? ` for ${t.for} samples` : ''}`, v: t[k]})));
  const vs = pts.map((p) => p.v).concat(lines.map((l) => l.v));
  let lo = Math.min(...vs), hi = Math.max(...vs);
  if (lo === hi) { lo -= 1; hi += 1; }
  const W = 640, H = 220, L = 50, B = 20;
  const t0 = pts[0].t, t1 = Math.max(pts[pts.length - 1].t, t0 + 1);
  // samples sent together share a time: within a second, space them evenly
  const even = pts.length > 1 && pts[pts.length - 1].t - t0 < 1000;
  pts.forEach((p, i) => { p.x = even ? i / (pts.length - 1) : (p.t - t0) / (t1 - t0); });
  const x = (f) => L + f * (W - L - 10);
  const y = (v) => 10 + (1 - (v - lo) / (hi - lo)) * (H - B - 10);
  const svg = s('svg', {class: 'chart', id: 'metric-chart', width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img',
                        'aria-label': `${m.name}: ${pts.length} samples from ${lo} to ${hi}`},
    s('line', {class: 'axis', x1: L, y1: H - B, x2: W - 10, y2: H - B}),
    s('text', {x: 2, y: y(hi) + 4, class: 'label'}, String(+hi.toPrecision(4))),
    s('text', {x: 2, y: y(lo) + 4, class: 'label'}, String(+lo.toPrecision(4))),
    s('text', {x: L, y: H - 4, class: 'label'}, new Date(t0).toLocaleString()),
    s('text', {x: W - 10, y: H - 4, class: 'label', 'text-anchor': 'end'}, new Date(t1).toLocaleString()),
    lines.map((l) => [s('line', {class: 'threshold', x1: L, x2: W - 10, y1: y(l.v), y2: y(l.v)}),
                      s('text', {x: W - 12, y: y(l.v) - 4, class: 'label', 'text-anchor': 'end'}, `${l.label} ${l.v}`)]),
    s('polyline', {class: 'series', points: pts.map((p) => `${x(p.x)},${y(p.v)}`).join(' ')}),
    pts.map((p) => s('circle', {class: 'dot', cx: x(p.x), cy: y(p.v), r: 2.5},
                     s('title', {}, `${new Date(p.t).toISOString()}: ${p.v}`))));
  return h('div', {}, svg,
    h('table', {class: 'list'}, h('caption', {}, 'Latest samples'),
      h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, 'Time'), h('th', {scope: 'col'}, 'Value'), h('th', {scope: 'col'}, 'Labels'))),
      h('tbody', {}, m.samples.slice(-10).reverse().map((x) =>
        h('tr', {}, h('td', {}, time(x.time)), h('td', {}, String(x.value)), h('td', {}, x.labels ? JSON.stringify(x.labels) : '—'))))));
}

export function render(main, [name]) {
  const input = h('input', {type: 'text', id: 'metric-name', value: name || '', placeholder: 'metric name, e.g. model.accuracy',
                            'aria-label': 'Metric name', required: true});
  const body = h('div', {});
  put(main, h('h1', {}, 'Metrics'),
    h('form', {class: 'row', onsubmit: (ev) => {
      ev.preventDefault();
      location.hash = `#/metrics/${encodeURIComponent(input.value.trim())}`;
    }}, input, h('button', {type: 'submit'}, 'Show')), body);
  if (!name) {
    put(body, note('empty', 'Type the name of a metric a trigger watches (a DAG\'s metric: trigger) to see its samples and threshold.'));
    return null;
  }
  let stopped = false;
  return every(5000, async () => {
    if (stopped) return;
    try {
      const since = new Date(Math.floor(Date.now() / 3600e3) * 3600e3 - 7 * 86400e3).toISOString();
      const r = await api.poll(`/api/v1/metrics/${encodeURIComponent(name)}?since=${encodeURIComponent(since)}&limit=${LIMIT}`);
      if (r.changed || !body.firstChild) put(body, chart(r.data));
    } catch (e) {
      if (unreachable(e) && body.firstChild) return; // the banner says so; keep the page
      if (missingRoute(e)) {
        stopped = true;
        put(body, note('info', 'Metrics are not available on this server: it has no metrics API yet.'));
      } else put(body, note('error', `Cannot load ${name}: ${e.message}`));
    }
  });
}
