// SPDX-License-Identifier: Apache-2.0
// The graph of a DAG's steps, laid out left to right in layers (a step's
// layer is its longest path from a step with no upstream; steps within a
// layer are ordered by the mean position of their upstreams) and drawn in
// SVG. A matrix step is one node with its number of cells.

import {s, stateWord} from './ui.js';

const W = 150;  // node width
const H = 40;   // node height
const GX = 40;  // gap between layers
const GY = 18;  // gap between nodes of a layer

// Layers of steps: [[step, ...], ...]; steps are {id, needs}.
export function layers(steps) {
  const byId = new Map(steps.map((st) => [st.id, st]));
  const depth = new Map();
  const visit = (id, seen) => {
    if (depth.has(id)) return depth.get(id);
    if (seen.has(id)) return 0; // a cycle cannot load; be safe anyway
    seen.add(id);
    let d = 0;
    for (const up of byId.get(id)?.needs || [])
      if (byId.has(up)) d = Math.max(d, visit(up, seen) + 1);
    depth.set(id, d);
    return d;
  };
  steps.forEach((st) => visit(st.id, new Set()));
  const out = [];
  for (const st of steps) (out[depth.get(st.id)] ||= []).push(st);
  const pos = new Map();
  out.forEach((layer, li) => {
    if (li > 0) {
      const mean = (st) => {
        const ups = (st.needs || []).filter((u) => pos.has(u));
        return ups.length ? ups.reduce((a, u) => a + pos.get(u), 0) / ups.length : 0;
      };
      layer.sort((a, b) => mean(a) - mean(b));
    }
    layer.forEach((st, i) => pos.set(st.id, i));
  });
  return out;
}

// An <svg> of the steps; state(stepId) gives a state name or null, and
// href(stepId) a link or null. A step mapped over an upstream's output
// shows "map: N" once mapCells(stepId) knows N (a run's "maps"), else
// "map: ?".
export function graph(steps, state, href, mapCells) {
  const ls = layers(steps);
  const tallest = Math.max(1, ...ls.map((l) => l.length));
  const width = ls.length * (W + GX) - GX + 20;
  const height = tallest * (H + GY) - GY + 20;
  const at = new Map();
  ls.forEach((layer, li) => {
    const top = 10 + ((tallest - layer.length) * (H + GY)) / 2;
    layer.forEach((st, i) => at.set(st.id, {x: 10 + li * (W + GX), y: top + i * (H + GY)}));
  });
  const svg = s('svg', {class: 'graph', width, height, viewBox: `0 0 ${width} ${height}`,
                        role: 'img', 'aria-label': `graph of ${steps.length} steps`});
  for (const st of steps)
    for (const up of st.needs || []) {
      const a = at.get(up), b = at.get(st.id);
      if (!a || !b) continue;
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mx = (x1 + x2) / 2;
      svg.append(s('path', {class: 'edge', d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`}));
    }
  for (const st of steps) {
    const p = at.get(st.id);
    const stt = state ? state(st.id) : null;
    const mapped = st.map ? (mapCells ? mapCells(st.id) : null) : undefined;
    const cells = mapped !== undefined ? 1 : st.cells ? st.cells.length : 0;
    const label = st.id.length > 18 ? st.id.slice(0, 17) + '…' : st.id;
    const count = mapped !== undefined ? `map: ${mapped ?? '?'}` : cells ? `×${cells}` : '';
    const sub = [count, stt ? stateWord(stt) : (st.approval ? 'approval gate' : '')]
      .filter(Boolean).join(' · ');
    const what = mapped !== undefined
      ? ` (mapped over steps.${st.map.step}.outputs.${st.map.output}, ${mapped ?? 'unknown number of'} cells)`
      : cells ? ` (matrix, ${cells} cells)` : '';
    const title = s('title', {}, `${st.id}${what}${stt ? ': ' + stateWord(stt) : ''}`);
    const g = s('g', {class: `node ${stt ? 'st-' + stt : 'st-none'}`, 'data-step': st.id,
                      transform: `translate(${p.x},${p.y})`},
                title,
                s('rect', {width: W, height: H, rx: 6}),
                cells ? s('rect', {class: 'stack', x: 3, y: -3, width: W, height: H, rx: 6}) : null,
                s('text', {x: 10, y: 17, class: 'name'}, label),
                s('text', {x: 10, y: 32, class: 'sub'}, sub));
    if (cells) g.insertBefore(g.querySelector('.stack'), g.querySelector('rect'));
    const link = href ? href(st.id) : null;
    svg.append(link ? s('a', {href: link, 'aria-label': `step ${st.id}`}, g) : g);
  }
  return svg;
}
