// SPDX-License-Identifier: Apache-2.0
// DOM helpers shared by the pages: element building (text is always set as
// text, never parsed as HTML), states shown by colour and by icon and
// word, times in the browser's zone with UTC on hover, messages.

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

function fill(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
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
export function note(kind, ...children) {
  return h('div', {class: `note note-${kind}`, role: kind === 'error' ? 'alert' : null}, ...children);
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

// Replace the children of el. When the keyboard focus was inside, on an
// element with an id, the new element of that id gets it back, so that a
// page refreshing itself does not throw keyboard users back to the top.
export function put(el, ...children) {
  const active = document.activeElement;
  const id = active && active.id && el.contains(active) ? active.id : null;
  el.replaceChildren();
  fill(el, {}, children);
  if (id) document.getElementById(id)?.focus({preventScroll: true});
  return el;
}

// Pretty JSON text.
export function json(v) {
  return JSON.stringify(v, null, 2);
}

// Run fn every ms while the page is shown; returns the stop function.
// fn is not called again until its previous call settled; when it returns
// a number, that is the wait before the next call instead.
export function every(ms, fn) {
  let stopped = false;
  let timer = null;
  const loop = async () => {
    if (stopped) return;
    let wait = ms;
    try {
      const next = await fn();
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
