// SPDX-License-Identifier: Apache-2.0
// The model registry: every artifact name with its prod version (#/artifacts)
// and one name's versions (#/artifacts/NAME) with their stage, metrics, data
// version, producing run and step, promotions, and for admins the buttons
// that promote a version, or approve or reject a promotion that waits.

import * as api from './api.js';
import {badge, every, h, note, put, time, toast, unreachable} from './ui.js';

// The stages in their order: a version only moves forward.
export const STAGES = ['none', 'dev', 'staging', 'prod', 'archived'];

function metricsText(m) {
  if (!m || !Object.keys(m).length) return h('span', {class: 'muted'}, '—');
  return Object.entries(m).map(([k, v]) => h('div', {}, h('code', {}, k), ` ${v}`));
}

export function stageBadge(stage) {
  return h('span', {class: `badge stage-${stage}`}, stage);
}

function runLink(v) {
  return [h('a', {href: `#/runs/${v.run_id}`, class: 'run-link'}, `#${v.run_id}`),
          ' ', h('a', {href: `#/dags/${encodeURIComponent(v.dag)}`}, v.dag), ', step ', h('code', {}, v.step),
          v.environment ? h('div', {class: 'muted'}, `environment ${v.environment}`) : null];
}

function listPage(main) {
  const body = h('div', {}, note('info', 'Loading…'));
  put(main, h('h1', {}, 'Artifacts'), body);
  return every(5000, async () => {
    try {
      const r = await api.poll('/api/v1/artifacts');
      if (!r.changed && body.firstChild?.id === 'artifacts') return;
      const names = new Map();
      for (const a of r.data.artifacts) {
        const n = names.get(a.name) || {name: a.name, latest: a, prod: null, count: 0};
        if (a.stage === 'prod') n.prod = a;
        n.count++;
        names.set(a.name, n);
      }
      if (!names.size) {
        put(body, note('empty', 'No artifacts yet. A step registers one by writing ', h('code', {}, 'artifact.name=NAME'),
                       ' (and ', h('code', {}, 'artifact.version'), ', ', h('code', {}, 'metric.NAME'),
                       ') to $WEIR_OUTPUTS; see "Lineage outputs" in docs/dag-format.md.'));
        return;
      }
      put(body, h('table', {class: 'list', id: 'artifacts'},
        h('thead', {}, h('tr', {}, ['Artifact', 'In prod', 'Latest version', 'Versions', 'Latest from'].map((t) => h('th', {scope: 'col'}, t)))),
        h('tbody', {}, [...names.values()].map((n) => h('tr', {'data-artifact': n.name},
          h('td', {}, h('a', {href: `#/artifacts/${encodeURIComponent(n.name)}`}, n.name)),
          h('td', {}, n.prod ? h('code', {class: 'prod'}, n.prod.version) : h('span', {class: 'muted'}, 'none')),
          h('td', {}, h('code', {}, n.latest.version), ' ', stageBadge(n.latest.stage), ' ', time(n.latest.created_at)),
          h('td', {}, String(n.count)),
          h('td', {}, runLink(n.latest)))))));
    } catch (e) {
      if (unreachable(e) && body.firstChild) return; // the banner says so; keep the page
      put(body, note('error', `Cannot load the artifacts: ${e.message}`));
    }
  });
}

// The admin's controls of one version: a pending promotion's approve and
// reject, else a promotion to a later stage.
function controls(name, v, refresh) {
  const base = `/api/v1/artifacts/${encodeURIComponent(name)}/versions/${encodeURIComponent(v.version)}`;
  const comment = h('input', {type: 'text', id: `comment-${v.version}`, placeholder: 'comment (optional)', 'aria-label': 'comment'});
  const send = async (what, verb, body) => {
    try {
      const r = await api.post(`${base}/${verb}`, body);
      toast(r.outcome === 'awaiting_approval' ? `${name} ${v.version}: the promotion to ${body.to} awaits approval`
                                              : `${name} ${v.version}: ${what}`);
    } catch (e) {
      toast(`${name} ${v.version}: ${what} failed: ${e.message}`, 'error');
    }
    refresh();
  };
  // the inputs shown (kept by updates in place), not the ones built here
  const withComment = (b) => {
    const text = document.getElementById(`comment-${v.version}`)?.value;
    return text ? {...b, comment: text} : b;
  };
  const stage = () => document.getElementById(`promote-to-${v.version}`).value;
  if (v.pending) {
    return h('div', {class: 'row'}, comment,
      h('button', {type: 'button', class: 'primary', 'data-approve-version': v.version, onclick: () =>
        send(`promoted to ${v.pending}`, 'approve', withComment({}))}, `Approve ${v.pending}`),
      h('button', {type: 'button', class: 'danger', 'data-reject-version': v.version, onclick: () =>
        send(`promotion to ${v.pending} rejected`, 'reject', withComment({}))}, 'Reject'));
  }
  const later = STAGES.slice(STAGES.indexOf(v.stage) + 1);
  if (!later.length) return null;
  const sel = h('select', {id: `promote-to-${v.version}`, 'aria-label': `stage to promote ${v.version} to`},
                later.map((st) => h('option', {value: st}, st)));
  return h('div', {class: 'row'}, sel, comment,
    h('button', {type: 'button', 'data-promote': v.version, onclick: () =>
      send(`promoted to ${stage()}`, 'promote', withComment({to: stage()}))}, 'Promote'));
}

function promotions(list) {
  if (!(list || []).length) return null;
  return h('details', {}, h('summary', {}, `${list.length} ${list.length === 1 ? 'promotion' : 'promotions'}`),
    h('ul', {}, list.map((p) => h('li', {}, time(p.at), ` ${p.from} → ${p.to}: ${p.outcome.replace('_', ' ')}, asked by ${p.by || '?'}`,
      p.decided_by ? `, decided by ${p.decided_by}` : '', p.comment ? ` (${p.comment})` : ''))));
}

function versionsTable(a, ctx, refresh) {
  // a version is promoted as the DAG that made it allows (the stage is
  // checked by the server)
  const canPromote = a.versions.some((v) => ctx.may('promote', v.dag || null));
  return h('table', {class: 'list', id: 'versions'},
    h('thead', {}, h('tr', {}, ['Version', 'Stage', 'Metrics', 'Data version', 'Produced by', 'Created',
                                canPromote ? 'Promote' : null].filter(Boolean).map((t) => h('th', {scope: 'col'}, t)))),
    h('tbody', {}, a.versions.map((v) => h('tr', {'data-version': v.version},
      h('td', {}, h('code', {}, v.version), v.uri ? h('div', {class: 'muted'}, v.uri) : null),
      h('td', {}, stageBadge(v.stage),
        v.pending ? h('div', {class: 'pending'}, badge('awaiting_approval'), ` to ${v.pending}${v.pending_by ? `, asked by ${v.pending_by}` : ''}`) : null,
        promotions(v.promotions)),
      h('td', {}, metricsText(v.metrics)),
      h('td', {}, v.data_version ? h('code', {}, v.data_version) : h('span', {class: 'muted'}, '—'),
        v.data_hash ? h('div', {class: 'muted'}, v.data_hash.slice(0, 12)) : null),
      h('td', {}, runLink(v)),
      h('td', {}, time(v.created_at)),
      canPromote ? h('td', {}, ctx.may('promote', v.dag || null) ? controls(a.name, v, refresh) : null) : null))));
}

function namePage(main, name, ctx) {
  const head = h('div', {}, note('info', 'Loading…'));
  const body = h('div', {});
  put(main, head, body);
  const refresh = async () => {
    try {
      const r = await api.poll(`/api/v1/artifacts/${encodeURIComponent(name)}`);
      if (!r.changed && body.firstChild) return;
      const a = r.data;
      put(head, h('div', {class: 'page-head'}, h('h1', {}, a.name), h('a', {href: '#/artifacts'}, 'all artifacts')),
        h('p', {id: 'prod'}, a.prod ? ['In prod: ', h('code', {}, a.prod)] : 'No version is in prod.'),
        ctx.may('promote') ? null : h('p', {class: 'muted'}, 'An admin token can promote a version, as can an operator grant that covers its DAG.'));
      put(body, versionsTable(a, ctx, refresh));
    } catch (e) {
      if (unreachable(e) && body.firstChild) return; // the banner says so; keep the page
      put(head, note('error', e.status === 404 ? `No artifact "${name}". ` : `Cannot load ${name}: ${e.message} `,
                     h('a', {href: '#/artifacts'}, 'See the artifacts.')));
    }
  };
  return every(5000, refresh);
}

export function render(main, [name], ctx) {
  return name ? namePage(main, name, ctx) : listPage(main);
}
