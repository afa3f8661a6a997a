// SPDX-License-Identifier: Apache-2.0
// Backfills on the DAG page: a form to start one (range, cron trigger,
// reprocess, max active, reverse) with a dry-run preview of its slots, and
// the DAG's backfills with their progress and a Cancel button.

import * as api from './api.js';
import {badge, h, note, put, time, toast, unreachable} from './ui.js';

// The DAG's cron triggers, by key, from its parsed definition.
function cronKeys(d) {
  return ((d.dag && d.dag.triggers) || []).filter((t) => t.cron !== undefined || t.kind === 'cron')
    .map((t) => t.key || t.id || `cron:${t.cron}`);
}

function field(label, input) {
  return h('div', {class: 'field'}, h('label', {for: input.id}, label), input);
}

// The form; after() is called once a backfill was started.
export function backfillForm(d, after) {
  const err = h('div', {id: 'backfill-error'});
  const preview = h('div', {id: 'backfill-preview'});
  const from = h('input', {id: 'backfill-from', type: 'text', placeholder: '2026-11-01', required: true});
  const to = h('input', {id: 'backfill-to', type: 'text', placeholder: '2026-11-30', required: true});
  const keys = cronKeys(d);
  const trigger = h('select', {id: 'backfill-trigger'},
    h('option', {value: ''}, keys.length === 1 ? `${keys[0]} (the only one)` : '(the only cron trigger)'),
    keys.map((k) => h('option', {value: k}, k)));
  const reprocess = h('select', {id: 'backfill-reprocess'},
    ['missing', 'failed', 'all'].map((m) => h('option', {value: m}, m)));
  const maxActive = h('input', {id: 'backfill-max', type: 'number', min: '1', max: '100', value: '1'});
  const reverse = h('input', {id: 'backfill-reverse', type: 'checkbox'});
  const body = (dry) => {
    const b = {from: from.value.trim(), to: to.value.trim(), reprocess: reprocess.value,
      max_active: Number(maxActive.value), reverse: reverse.checked};
    if (trigger.value) b.trigger = trigger.value;
    if (dry) b.dry_run = true;
    return b;
  };
  const path = `/api/v1/dags/${encodeURIComponent(d.id)}/backfills`;
  const dryRun = async () => {
    put(err);
    try {
      const r = await api.post(path, body(true));
      put(preview, h('p', {}, `${r.planned} slot(s) to run, ${r.skipped} skipped (trigger ${r.trigger}).`),
        h('div', {class: 'scroll'}, h('table', {class: 'list', id: 'backfill-slots'},
          h('thead', {}, h('tr', {}, ['slot', 'local time', 'action', 'run there'].map((c) => h('th', {}, c)))),
          h('tbody', {}, r.slots.slice(0, 500).map((s) => h('tr', {},
            h('td', {}, s.slot), h('td', {}, s.local), h('td', {}, s.action),
            h('td', {}, s.run_id ? h('a', {href: `#/runs/${s.run_id}`}, `${s.run_id} ${s.state}`) : '')))))),
        r.slots.length > 500 ? h('p', {class: 'muted'}, `and ${r.slots.length - 500} more`) : null);
    } catch (e) {
      put(preview);
      put(err, note('error', `Cannot plan the backfill: ${e.message}`));
    }
  };
  const form = h('form', {id: 'backfill-form', class: 'form-grid', novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    put(err);
    try {
      const r = await api.post(path, body(false));
      toast(`Backfill ${r.backfill_id} started: ${r.planned} slot(s)`);
      put(preview);
      after();
    } catch (e) {
      put(err, note('error', `Cannot start the backfill: ${e.message}`));
    }
  }},
    field('from (date or time)', from), field('to (date or time)', to),
    field('cron trigger', trigger), field('reprocess', reprocess),
    field('max active', maxActive), field('newest first', reverse),
    err,
    h('div', {},
      h('button', {type: 'button', id: 'backfill-dry', onclick: dryRun}, 'Preview slots'), ' ',
      h('button', {type: 'submit', class: 'primary'}, 'Start backfill')),
    preview);
  return form;
}

// A canceled backfill starts no more runs: its slots not started never will.
function progressText(p, state) {
  return `${p.done} done, ${p.failed} failed, ${p.canceled} canceled, ${p.running} running, ` +
    `${p.queued} queued, ${p.pending} ${state === 'canceled' ? 'never started' : 'to start'} ` +
    `(of ${p.planned}; ${p.skipped} skipped)`;
}

// The DAG's backfills, with Cancel for a running one (admins).
export function backfillsTable(list, ctx, refresh) {
  if (!list.length) return note('empty', {id: 'no-backfills'}, 'No backfills yet.');
  return h('table', {class: 'list', id: 'backfills'},
    h('thead', {}, h('tr', {}, ['id', 'state', 'trigger', 'from', 'to', 'progress', 'started', ''].map((c) => h('th', {}, c)))),
    h('tbody', {}, list.map((b) => h('tr', {'data-backfill': String(b.id)},
      h('td', {}, String(b.id)), h('td', {}, badge(b.state)),
      h('td', {}, b.trigger), h('td', {}, time(b.from)), h('td', {}, time(b.to)),
      h('td', {class: 'backfill-progress'}, progressText(b.progress, b.state),
        b.error ? h('div', {class: 'backfill-error'}, `error: ${b.error}`) : null),
      h('td', {}, time(b.created_at)),
      h('td', {}, ctx.may('cancel', b.dag_id || null, null) && b.state === 'running'
        ? h('button', {type: 'button', class: 'small danger', onclick: async () => {
            try {
              const r = await api.post(`/api/v1/backfills/${b.id}/cancel`, {});
              toast(`Backfill ${b.id} canceled (${r.canceled_runs.length} run(s) canceled)`);
            } catch (e) {
              if (unreachable(e)) throw e;
              toast(`Cannot cancel backfill ${b.id}: ${e.message}`, 'error');
            }
            refresh();
          }}, 'Cancel')
        : null)))));
}
