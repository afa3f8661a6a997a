// SPDX-License-Identifier: Apache-2.0
// After and data triggers on the dashboard: on a run page, the upstream
// run that started it ("after ingest run #12", a link); on a DAG page, the
// DAGs and datasets it follows.

import {h, section} from './ui.js';

const runLink = (id) => h('a', {href: `#/runs/${encodeURIComponent(id)}`, id: 'upstream-run'}, `run #${id}`);

// The facts (dt, dd) naming the run that started run, or null.
export function upstreamFacts(run) {
  const u = run.upstream;
  if (!u || u.run_id == null) return null;
  const dag = h('a', {href: `#/dags/${encodeURIComponent(u.dag)}`}, u.dag);
  return [h('dt', {}, 'Upstream'), h('dd', {id: 'upstream'},
    u.dataset != null
      ? ['data ', h('code', {}, u.dataset), ' version ', h('code', {}, String(u.version)), ' from ', dag, ' ',
         runLink(u.run_id)]
      : ['after ', dag, ' ', runLink(u.run_id), u.state ? ` ${u.state}` : ''])];
}

// A section listing the DAGs (with the end they wait for) and the
// datasets DAG d's current version follows, or null when none.
export function followsSection(d) {
  const trig = d.dag ? d.dag.triggers || [] : [];
  const after = trig.filter((t) => t.after);
  const data = trig.filter((t) => t.data != null);
  if (!after.length && !data.length) return null;
  return section('Follows', h('ul', {id: 'follows'},
    after.map((t) => h('li', {'data-trigger': t.id}, 'after ',
      h('a', {href: `#/dags/${encodeURIComponent(t.after.dag)}`}, t.after.dag), ` (${t.after.state})`,
      t.when ? [' when ', h('code', {}, t.when)] : null)),
    data.map((t) => h('li', {'data-trigger': t.id}, 'data ', h('code', {}, t.data),
      t.when ? [' when ', h('code', {}, t.when)] : null))));
}
