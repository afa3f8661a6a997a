// SPDX-License-Identifier: Apache-2.0
// The run page: state and why it started, params, actions (cancel, retry
// failed, retry from a step, approve or reject a gate), the graph with
// live task states, a timeline of attempts, every task's attempts, and the
// logs of one attempt, followed live while it runs; the run's lineage.

import * as api from './api.js';
import {upstreamFacts} from './after.js';
import {graph} from './graph.js';
import {lateBadge, lateFacts} from './late.js';
import {badge, duration, every, h, json, liveDuration, note, put, replace, s, section, stateWord, time, toast,
        unreachable} from './ui.js';

const FINISHED = ['success', 'failed', 'canceled'];
// The state shown for a step of several tasks: the one to look at first.
const FOLD = ['failed', 'upstream_failed', 'running', 'up_for_retry', 'awaiting_approval', 'queued',
              'pending', 'canceled', 'skipped', 'success'];
const LOG_PAGE = 1000;

function stepStates(tasks) {
  const m = new Map();
  for (const t of tasks) {
    const cur = m.get(t.step);
    if (!cur || FOLD.indexOf(t.state) < FOLD.indexOf(cur)) m.set(t.step, t.state);
  }
  return m;
}

function taskName(t) {
  return t.matrix ? `${t.step}[${Object.values(t.matrix).join(', ')}]` : t.step;
}

// The timeline: one row per task, one bar per attempt.
function gantt(run, tasks) {
  const rows = tasks.filter((t) => t.attempts.length);
  if (!rows.length) return note('empty', 'No attempt has started yet.');
  const t0 = Math.min(...rows.map((t) => Date.parse(t.attempts[0].started_at)));
  const now = Date.now();
  const end = Math.max(t0 + 1000, ...rows.flatMap((t) => t.attempts.map((a) => (a.finished_at ? Date.parse(a.finished_at) : now))));
  const LABEL = 170, W = 640, ROW = 18;
  const x = (ms) => LABEL + ((ms - t0) / (end - t0)) * W;
  const svg = s('svg', {class: 'gantt', id: 'gantt', width: LABEL + W + 10, height: rows.length * ROW + 24,
                        role: 'img', 'aria-label': `timeline of ${rows.length} tasks over ${duration(new Date(t0).toISOString(), new Date(end).toISOString())}`});
  rows.forEach((t, i) => {
    const y = 4 + i * ROW;
    svg.append(s('text', {x: 0, y: y + 12, class: 'label'}, taskName(t).slice(0, 26)));
    for (const a of t.attempts) {
      const a0 = Date.parse(a.started_at), a1 = a.finished_at ? Date.parse(a.finished_at) : now;
      svg.append(s('rect', {class: `bar st-${a.state}`, x: x(a0), y, height: ROW - 4, width: Math.max(2, x(a1) - x(a0))},
        s('title', {}, `${taskName(t)} try ${a.try}: ${stateWord(a.state)}, ${duration(a.started_at, a.finished_at)}`)));
    }
  });
  const yAxis = rows.length * ROW + 18;
  svg.append(s('text', {x: LABEL, y: yAxis, class: 'label'}, new Date(t0).toLocaleTimeString()),
             s('text', {x: LABEL + W, y: yAxis, class: 'label', 'text-anchor': 'end'},
               `+${duration(new Date(t0).toISOString(), new Date(end).toISOString())}`));
  return h('div', {class: 'scroll tall'}, svg);
}

async function act(what, path, body, refresh) {
  try {
    await api.post(path, body);
    toast(what);
    refresh();
  } catch (e) {
    toast(`${what} failed: ${e.message}`, 'error');
  }
}

// The buttons of run, those may(action) allows.
function actions(run, steps, refresh, may) {
  const base = `/api/v1/runs/${run.id}`;
  const out = [];
  if (!FINISHED.includes(run.state) && may('cancel'))
    out.push(h('button', {type: 'button', id: 'cancel', class: 'danger', onclick: () => {
      if (confirm(`Cancel run ${run.id}?`)) act(`Run ${run.id} canceled`, `${base}/cancel`, undefined, refresh);
    }}, 'Cancel run'));
  if ((run.state === 'failed' || run.state === 'canceled') && may('retry'))
    out.push(h('button', {type: 'button', id: 'retry-failed', onclick: () =>
      act(`Retrying the failed steps of run ${run.id}`, `${base}/retry`, undefined, refresh)}, 'Retry failed'));
  if (FINISHED.includes(run.state) && steps.length && may('retry')) {
    const sel = h('select', {id: 'retry-from-step', 'aria-label': 'step to retry from'},
                  steps.map((st) => h('option', {value: st}, st)));
    // the element shown (kept by updates in place), not the one built here
    const from = () => document.getElementById('retry-from-step').value;
    out.push(h('span', {class: 'row'}, sel, h('button', {type: 'button', id: 'retry-from', onclick: () =>
      act(`Retrying run ${run.id} from ${from()}`, `${base}/retry`, {from: from()}, refresh)}, 'Retry from step')));
  }
  return out;
}

function gates(run, tasks, def, canAct, refresh) {
  const waiting = tasks.filter((t) => t.state === 'awaiting_approval');
  return waiting.map((t) => {
    const step = (def?.steps || []).find((st) => st.id === t.step);
    const id = `comment-${t.step}`;
    const comment = h('input', {type: 'text', id, placeholder: 'comment (optional)', 'aria-label': `comment on ${t.step}`});
    const path = (verb) => `/api/v1/runs/${run.id}/steps/${encodeURIComponent(t.step)}/${verb}`;
    // the comment of the input shown: updates keep it and what was typed
    const body = () => {
      const text = document.getElementById(id)?.value;
      return text ? {comment: text} : undefined;
    };
    // the server's rendered message when it sends one, else the DAG's text
    const message = t.approval_message ?? step?.approval?.message;
    // who may decide: the gate's approvers, or its environment's
    // (approve_before); none listed: anyone allowed
    const who = step?.approval ? step.approval.approvers : def?.environments?.[run.environment]?.approvers;
    const gate = note('info', h('strong', {}, `◆ ${t.step} waits for approval`),
      message ? h('p', {class: 'gate-message'}, message) : null,
      who?.length ? h('p', {class: 'muted gate-approvers'}, `Approvers: ${who.join(', ')}`) : null,
      canAct ? h('div', {class: 'row'}, comment,
        h('button', {type: 'button', class: 'primary', 'data-approve': t.step, onclick: () =>
          act(`${t.step} approved`, path('approve'), body(), refresh)}, 'Approve'),
        h('button', {type: 'button', class: 'danger', 'data-reject': t.step, onclick: () =>
          act(`${t.step} rejected`, path('reject'), body(), refresh)}, 'Reject'))
        : h('p', {class: 'muted'}, 'An admin token can approve or reject it.'));
    gate.dataset.gate = t.step;
    return gate;
  });
}

// "cached from run N attempt M", linking to that run, for a task or an
// attempt that reused a step cache entry (cached_from of the run detail).
function cachedFrom(cf) {
  if (!cf) return null;
  return h('div', {class: 'muted cached-from', 'data-cached-from': cf.attempt_id}, 'cached from ',
    h('a', {href: `#/runs/${cf.run_id}`}, `run ${cf.run_id}`), ` attempt ${cf.attempt_id}`);
}

function tasksTable(tasks, openLogs) {
  return h('table', {class: 'list', id: 'tasks'},
    h('thead', {}, h('tr', {}, ['Task', 'State', 'Tries', 'Duration', 'Attempts', 'Outputs'].map((t) => h('th', {scope: 'col'}, t)))),
    h('tbody', {}, tasks.map((t) => h('tr', {'data-task': taskName(t)},
      h('td', {}, taskName(t), t.hook ? h('span', {class: 'tag', title: 'a hook step (on_failure / on_success)'}, 'hook') : null,
        t.pool ? h('span', {class: 'tag', 'data-pool': t.pool, title: `holds ${t.pool_slots} slot${t.pool_slots === 1 ? '' : 's'} of pool ${t.pool} while it runs`}, `pool ${t.pool}${t.pool_slots > 1 ? ` ×${t.pool_slots}` : ''}`) : null),
      h('td', {}, badge(t.state), t.error ? h('div', {class: 'err-text'}, t.error) : null,
        t.decision ? h('div', {class: 'muted'}, `${t.decision} by ${t.decided_by || '?'}${t.decision_comment ? ': ' + t.decision_comment : ''}`) : null,
        cachedFrom(t.cached_from)),
      h('td', {}, `${t.try_count} / ${t.max_tries}`),
      h('td', {}, liveDuration(t.started_at, t.finished_at)),
      h('td', {}, t.attempts.length ? t.attempts.map((a) => h('button', {type: 'button', class: `attempt small st-${a.state}`, id: `attempt-${a.id}`,
          'data-attempt': a.id, title: `${stateWord(a.state)}${a.error ? ': ' + a.error : ''}${a.cached_from ? ` (cached from run ${a.cached_from.run_id} attempt ${a.cached_from.attempt_id})` : ''}`,
          onclick: () => openLogs(t, a)},
          `try ${a.try} · ${stateWord(a.state)}${a.cached_from ? ' · cached' : ''}${a.exit_code !== null ? ` · exit ${a.exit_code}` : ''} · `,
          liveDuration(a.started_at, a.finished_at), ' · logs'))
        : h('span', {class: 'muted'}, 'none')),
      h('td', {}, t.outputs && Object.keys(t.outputs).length ? h('code', {class: 'outputs'}, JSON.stringify(t.outputs)) : '—')))));
}

function pairs(o) {
  if (!o || !Object.keys(o).length) return h('span', {class: 'muted'}, '—');
  return Object.entries(o).map(([k, v]) => h('div', {}, h('code', {}, k), ` ${typeof v === 'string' ? v : JSON.stringify(v)}`));
}

// The lineage: per task the data version it wrote or read, the artifact it
// registered, its metrics, and whether its outputs were kept from before a
// retry. Read again whenever the run changes.
function lineageView(l) {
  const version = l.dag_version || {};
  const registered = new Map((l.artifacts || []).map((a) => [`${a.step}/${a.attempt_id}`, a]));
  const rows = (l.steps || []).filter((t) => t.attempt_id !== null);
  return [
    h('p', {class: 'muted'}, 'DAG version ', h('code', {}, `#${version.id} ${(version.hash || '').slice(0, 12)}`),
      version.path ? ` (${version.path})` : '', `, environment ${l.environment || '—'}`),
    rows.length ? h('table', {class: 'list', id: 'lineage'},
      h('thead', {}, h('tr', {}, ['Task', 'Data', 'Artifact', 'Metrics', 'Attempt'].map((t) => h('th', {scope: 'col'}, t)))),
      h('tbody', {}, rows.map((t) => {
        const a = registered.get(`${t.step}/${t.attempt_id}`);
        return h('tr', {'data-lineage': taskName(t)},
          h('td', {}, taskName(t)),
          h('td', {}, pairs(t.data)),
          h('td', {}, t.artifact?.name
            ? [h('a', {href: `#/artifacts/${encodeURIComponent(t.artifact.name)}`}, t.artifact.name), ' ',
               h('code', {}, a?.version || t.artifact.version || `run-${l.run_id}`), a ? ` (${a.stage})` : '']
            : h('span', {class: 'muted'}, '—')),
          h('td', {}, pairs(t.metrics)),
          h('td', {}, `try ${t.try}${t.worker ? ' on ' + t.worker : ''}`,
            t.reused ? h('div', {class: 'reused'}, `reused: kept from before the retry (attempt ${t.reused_from})`) : null));
      })))
      : note('empty', 'No task has succeeded yet: the lineage lists what each successful task wrote and read.')];
}

// The log panel of one attempt; returns {el, stop}. While it follows (from
// the start for a running attempt), new lines keep the end in view;
// scrolling up stops following, scrolling back to the end resumes it.
function logView(run, task, attempt) {
  const pre = h('pre', {class: 'logs', id: 'logs', tabindex: 0});
  const status = h('p', {class: 'muted', id: 'logs-status', 'aria-live': 'polite'}, 'Loading…');
  // A worker's cap on uploaded output (--max-log-lines/--max-log-bytes):
  // the attempt's record says what was cut, and so does the log's first
  // line once the attempt is over.
  const capped = h('div', {id: 'logs-capped'});
  const cap = attempt.log_capped;
  if (cap) put(capped, note('info', `Log capped by the worker: ${cap.lines_kept} of ${cap.lines_total} lines ` +
    `(${cap.bytes_kept} of ${cap.bytes_total} bytes) were uploaded; the full log stayed on the worker until the attempt was reported.`));
  let after = -1;
  let count = 0;
  let follow = attempt.state === 'running';
  const atEnd = () => pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24;
  pre.addEventListener('scroll', () => { follow = atEnd(); });
  const stop = every(1000, async () => {
    for (;;) {
      const r = await api.get(`/api/v1/attempts/${attempt.id}/logs?after=${after}&limit=${LOG_PAGE}`);
      const keep = follow || (count > 0 && atEnd());
      for (const l of r.lines) {
        if (!cap && l.seq === 0 && l.stream === 'system' && l.line.startsWith('weir-worker: log capped')) put(capped, note('info', l.line));
        pre.append(h('span', {class: `log-${l.stream}`, title: new Date(l.ts).toISOString()}, l.line + '\n'));
      }
      count += r.lines.length;
      after = r.next_after;
      if (r.lines.length && keep) {
        pre.scrollTop = pre.scrollHeight;
        follow = true;
      }
      if (r.lines.length < LOG_PAGE) break;
    }
    const running = attempt.state === 'running';
    status.textContent = `${count} ${count === 1 ? 'line' : 'lines'}${running ? (follow ? ' · following live' : ' · live; scroll to the end to follow') : ''}`;
    if (!count && !running) status.textContent = 'This attempt wrote no log lines.';
  });
  const el = section(`Logs of ${taskName(task)}, try ${attempt.try}`, capped, status, pre);
  el.id = 'log-panel';
  return {el, stop, attempt};
}

export function render(main, [id], ctx) {
  const head = h('div', {}, note('info', 'Loading…'));
  const actBox = h('div', {class: 'row actions', id: 'actions'});
  const gateBox = h('div', {id: 'gates'});
  const graphBox = h('div', {class: 'scroll'});
  const ganttBox = h('div', {});
  const tasksBox = h('div', {});
  const logBox = h('div', {});
  const lineageBox = h('div', {}, note('info', 'Loading…'));
  put(main, head, actBox, gateBox, section('Graph', graphBox), section('Timeline', ganttBox), section('Tasks', tasksBox), logBox,
      section('Lineage', lineageBox));
  let def = null, defFor = null, log = null, run = null;
  const readLineage = async () => {
    try {
      put(lineageBox, lineageView(await api.get(`/api/v1/runs/${id}/lineage`)));
    } catch (e) {
      if (unreachable(e)) return; // the banner says so; keep what is shown
      put(lineageBox, note('error', `Cannot load the lineage: ${e.message}`));
    }
  };

  const openLogs = (t, a) => {
    if (log) log.stop();
    log = logView(run, t, a);
    replace(logBox, log.el);
    log.el.scrollIntoView({block: 'nearest'});
  };

  const refresh = async () => {
    const r = await api.poll(`/api/v1/runs/${id}`);
    run = r.data;
    if (defFor !== run.version_id) {
      try {
        def = (await api.get(`/api/v1/dags/${encodeURIComponent(run.dag)}/versions/${run.version_id}`)).dag;
      } catch (e) {
        def = null;
      }
      defFor = run.version_id;
    } else if (!r.changed) {
      if (!FINISHED.includes(run.state)) put(ganttBox, gantt(run, run.tasks));
      return;
    }
    const tasks = run.tasks;
    const states = stepStates(tasks);
    put(head, h('div', {class: 'page-head'}, h('h1', {}, `Run #${run.id}`), badge(run.state), lateBadge(run),
        h('a', {href: `#/dags/${encodeURIComponent(run.dag)}`}, run.dag)),
      h('dl', {class: 'facts'},
        h('dt', {}, 'Why'), h('dd', {id: 'reason'}, run.reason || '—'),
        h('dt', {}, 'Trigger'), h('dd', {}, run.trigger.kind, run.trigger.key !== run.trigger.kind ? [' ', h('code', {}, run.trigger.key)] : null),
        upstreamFacts(run),
        h('dt', {}, 'Environment'), h('dd', {id: 'environment'}, run.environment || '—'),
        h('dt', {}, 'Created'), h('dd', {}, time(run.created_at)),
        h('dt', {}, 'Started'), h('dd', {}, time(run.started_at)),
        h('dt', {}, 'Finished'), h('dd', {}, time(run.finished_at)),
        h('dt', {}, 'Duration'), h('dd', {}, liveDuration(run.started_at, run.finished_at)),
        run.retry_count ? [h('dt', {}, 'Retried'), h('dd', {}, `${run.retry_count === 1 ? 'once' : run.retry_count + ' times'}, last `, time(run.retried_at))] : null,
        run.canceled_by ? [h('dt', {}, 'Canceled by'), h('dd', {}, run.canceled_by)] : null, lateFacts(run)),
      h('details', {open: true}, h('summary', {}, 'Params'), h('pre', {id: 'params'}, json(run.params))),
      run.trigger.payload ? h('details', {}, h('summary', {}, 'Trigger payload'), h('pre', {}, json(run.trigger.payload))) : null);
    put(actBox, actions(run, (def?.steps || []).map((st) => st.id).concat(
      [...states.keys()].filter((k) => !(def?.steps || []).some((st) => st.id === k))), refresh,
                        (a) => ctx.may(a, run.dag, run.environment || null)));
    put(gateBox, gates(run, tasks, def, ctx.may('approve', run.dag, run.environment || null), refresh));
    const steps = def ? def.steps : [...states.keys()].map((k) => ({id: k, needs: []}));
    put(graphBox, graph(steps, (st) => states.get(st) || null, null,
                        (st) => run.maps?.[st]?.cells ?? null));
    put(ganttBox, gantt(run, tasks));
    put(tasksBox, tasks.length ? tasksTable(tasks, openLogs) : note('empty', 'This run has no tasks.'));
    readLineage();
    if (log) {
      // keep following: the attempt may have finished or a new one begun
      const a = tasks.flatMap((t) => t.attempts).find((x) => x.id === log.attempt.id);
      if (a) log.attempt.state = a.state;
    }
  };
  // A finished run changes only when someone acts on it: look less often.
  const stop = every(1500, async () => {
    try {
      await refresh();
      return FINISHED.includes(run.state) ? 5000 : 1500;
    } catch (e) {
      if (unreachable(e) && run) return 1500; // the banner says so; keep the page
      if (e.status === 404) {
        // nothing to wait for: say so and stop asking
        put(head, note('error', `No run ${id}: it does not exist (or was deleted with its DAG). `,
                       h('a', {href: '#/dags'}, 'Back to the DAGs.')));
        return false;
      }
      put(head, note('error', `Cannot load run ${id}: ${e.message}`, h('a', {href: '#/dags'}, 'Back to the DAGs.')));
    }
  });
  return () => {
    stop();
    if (log) log.stop();
  };
}
