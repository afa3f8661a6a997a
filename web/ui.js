// SPDX-License-Identifier: Apache-2.0
// DOM helpers shared by the pages: element building (text is always set as
// text, never parsed as HTML), updates in place (put keeps the elements,
// inputs, scroll positions and open panels that did not change), states
// shown by colour and by icon and word, times in the browser's zone with
// UTC on hover, durations that tick, messages.

export const SVG_NS = 'http://www.w3.org/2000/svg';

// h('a', {href: '#/x', class: 'c'}, child, 'text', ...): an element.
// Attributes starting with "on" are listeners; null/false ones are left out.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  return fill(el, attrs, children);
}

// The same for SVG elements.
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  return fill(el, attrs, children);
}

// Listeners go through a table on the element (el._on), so that an update
// in place can hand the kept element the listeners of its new version.
function listen(el, type, fn) {
  el._on ||= {};
  if (!(type in el._on)) el.addEventListener(type, (ev) => el._on[type]?.(ev));
  el._on[type] = fn;
}

function fill(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') listen(el, k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// Icon and word of every state of runs, tasks, attempts, workers, DAGs.
const STATES = {
  success: ['✓', 'success'],
  failed: ['✗', 'failed'],
  running: ['▶', 'running'],
  queued: ['◷', 'queued'],
  pending: ['○', 'pending'],
  up_for_retry: ['↻', 'up for retry'],
  skipped: ['↷', 'skipped'],
  upstream_failed: ['⚠', 'upstream failed'],
  awaiting_approval: ['◆', 'awaiting approval'],
  waiting_approval: ['◆', 'waiting for approval'],
  missing: ['⊗', 'missing'],
  canceled: ['⊘', 'canceled'],
  lost: ['?', 'lost'],
  timed_out: ['⌛', 'timed out'],
  online: ['●', 'online'],
  offline: ['○', 'offline'],
  active: ['●', 'active'],
  paused: ['⏸', 'paused'],
  broken: ['⚠', 'broken'],
  armed: ['●', 'armed'],
  waiting_rearm: ['◷', 'waiting to re-arm'],
  cooldown: ['❄', 'cooldown'],
};

export function stateWord(state) {
  return (STATES[state] || ['', state])[1];
}

// A badge: coloured, with icon and word.
export function badge(state) {
  const [icon, word] = STATES[state] || ['•', state];
  return h('span', {class: `badge st-${state}`},
           h('span', {class: 'icon', 'aria-hidden': 'true'}, icon), word);
}

// A small coloured square with the state as its accessible name and title.
export function square(state, href, label) {
  const [icon, word] = STATES[state] || ['•', state];
  const name = label ? `${label}: ${word}` : word;
  const attrs = {class: `sq st-${state}`, title: name, 'aria-label': name,
                 id: href ? `sq-${label || ''}-${href}`.replace(/[^A-Za-z0-9_-]/g, '_') : null};
  return href ? h('a', {...attrs, href}, h('span', {'aria-hidden': 'true'}, icon))
              : h('span', {...attrs, role: 'img'}, h('span', {'aria-hidden': 'true'}, icon));
}

// <time>: local time, UTC on hover.
export function time(iso) {
  if (!iso) return h('span', {class: 'muted'}, '—');
  const d = new Date(iso);
  if (isNaN(d)) return h('span', {}, iso);
  return h('time', {datetime: d.toISOString(), title: 'UTC ' + d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z')},
           d.toLocaleString());
}

// "1m 5s" between two ISO times (to now when end is null).
export function duration(start, end) {
  if (!start) return '—';
  const ms = (end ? new Date(end) : new Date()) - new Date(start);
  if (!(ms >= 0)) return '—';
  if (ms < 1000) return `${ms} ms`;
  let sec = Math.round(ms / 1000);
  const parts = [];
  for (const [unit, n] of [['d', 86400], ['h', 3600], ['m', 60]]) {
    if (sec >= n) {
      parts.push(Math.floor(sec / n) + unit);
      sec %= n;
    }
  }
  if (sec || !parts.length) parts.push(sec + 's');
  return parts.slice(0, 2).join(' ');
}

// "5 s ago", for heartbeats.
export function ago(iso) {
  if (!iso) return '—';
  return duration(iso, null) + ' ago';
}

// A message box; kind is "error", "info" or "empty".
// A first argument that is a plain object gives more attributes.
export function note(kind, ...children) {
  const attrs = children[0]?.constructor === Object ? children.shift() : {};
  return h('div', {...attrs, class: `note note-${kind}`, role: kind === 'error' ? 'alert' : null}, ...children);
}

// A short message at the bottom of the page.
export function toast(text, kind) {
  const el = document.getElementById('toast');
  el.textContent = text;
  el.className = 'show ' + (kind || '');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.className = ''; }, 4000);
}

// A section with a heading.
export function section(title, ...children) {
  return h('section', {class: 'card'}, h('h2', {}, title), ...children);
}

// What identifies an element among its siblings across updates.
const KEYS = ['id', 'data-key', 'data-task', 'data-dag', 'data-trigger', 'data-event', 'data-version',
              'data-lineage', 'data-step', 'data-artifact', 'data-gate'];

function keyOf(n) {
  if (n.nodeType !== 1) return null;
  for (const k of KEYS) {
    const v = n.getAttribute(k);
    if (v !== null) return `${k}=${v}`;
  }
  return null;
}

// Make the live node a look like the new node b, keeping a where it is the
// same element: what the user typed (inputs keep their value once edited),
// an open or closed <details>, scroll positions and the focus stay.
function morph(a, b) {
  if (a === b) return a;
  if (a.nodeType !== b.nodeType || a.nodeName !== b.nodeName || keyOf(a) !== keyOf(b) || a.nodeType !== 1) {
    if (a.nodeType === 3 && b.nodeType === 3) {
      if (a.data !== b.data) a.data = b.data;
      return a;
    }
    a.replaceWith(b);
    return b;
  }
  const keep = a.nodeName === 'DETAILS' ? 'open' : null;
  for (const {name} of [...a.attributes])
    if (name !== keep && !b.hasAttribute(name)) a.removeAttribute(name);
  for (const {name, value} of [...b.attributes])
    if (name !== keep && a.getAttribute(name) !== value) a.setAttribute(name, value);
  for (const [type, fn] of Object.entries(b._on || {})) listen(a, type, fn);
  for (const type of Object.keys(a._on || {})) if (!b._on || !(type in b._on)) a._on[type] = null;
  morphChildren(a, [...b.childNodes]);
  return a;
}

function morphChildren(el, kids) {
  const keyed = new Map();
  for (const c of el.childNodes) {
    const k = keyOf(c);
    if (k !== null) keyed.set(k, c);
  }
  kids.forEach((nb, j) => {
    const k = keyOf(nb);
    const at = el.childNodes[j] || null;
    let old = null;
    if (k !== null) {
      old = keyed.get(k) || null;
      keyed.delete(k);
    } else if (at && keyOf(at) === null && at.nodeName === nb.nodeName) old = at;
    const node = old ? morph(old, nb) : nb;
    if (el.childNodes[j] !== node) el.insertBefore(node, el.childNodes[j] || null);
  });
  while (el.childNodes.length > kids.length) el.lastChild.remove();
}

// Set the children of el, updating in place what is already there. When
// the element with the keyboard focus had to be replaced, the new element
// of its id gets the focus.
export function put(el, ...children) {
  const active = document.activeElement;
  const id = active && active.id && el.contains(active) ? active.id : null;
  const box = fill(document.createElement('div'), {}, children);
  morphChildren(el, [...box.childNodes]);
  if (id && document.activeElement !== active) document.getElementById(id)?.focus({preventScroll: true});
  return el;
}

// Replace the children of el with new ones (for parts that own their
// elements, such as a log panel that appends lines). When the keyboard
// focus was inside, on an element with an id, the new element of that id
// gets it back.
export function replace(el, ...children) {
  const active = document.activeElement;
  const id = active && active.id && el.contains(active) ? active.id : null;
  el.replaceChildren();
  fill(el, {}, children);
  if (id) document.getElementById(id)?.focus({preventScroll: true});
  return el;
}

// A duration from start to now that ticks every second while shown.
export function liveDuration(start, end) {
  if (end || !start) return duration(start, end);
  return h('span', {class: 'live-duration', 'data-since': start}, duration(start, null));
}

setInterval(() => {
  for (const el of document.querySelectorAll('.live-duration[data-since]')) {
    const text = duration(el.dataset.since, null);
    if (el.textContent !== text) el.textContent = text;
  }
}, 1000);

// Whether an error is the server being out of reach (the banner says so;
// pages keep what they show).
export function unreachable(e) {
  return e?.code === 'NETWORK';
}

// Pretty JSON text.
export function json(v) {
  return JSON.stringify(v, null, 2);
}

// Run fn every ms while the page is shown; returns the stop function.
// fn is not called again until its previous call settled; when it returns
// a number, that is the wait before the next call instead, and when it
// returns false, the polling stops (a run or DAG that does not exist).
export function every(ms, fn) {
  let stopped = false;
  let timer = null;
  const loop = async () => {
    if (stopped) return;
    let wait = ms;
    try {
      const next = await fn();
      if (next === false) return;
      if (typeof next === 'number') wait = next;
    } catch (e) {
      // the page shows its own errors; keep polling
    }
    if (!stopped) timer = setTimeout(loop, wait);
  };
  loop();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
