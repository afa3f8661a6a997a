// SPDX-License-Identifier: Apache-2.0
// The dashboard's entry: sign-in, the hash router (#/dags, #/dags/ID,
// #/runs/ID, #/workers, #/events, #/metrics, #/artifacts) and the header. Each page
// module exports render(main, args, ctx) and returns a function that stops
// its polling when the page is left.

import * as api from './api.js';
import {grantsText, may, mayAct} from './authz.js';
import {h, note, put, replace} from './ui.js';
import * as dags from './page_dags.js';
import * as dag from './page_dag.js';
import * as run from './page_run.js';
import * as workers from './page_workers.js';
import * as events from './page_events.js';
import * as metrics from './page_metrics.js';
import * as artifacts from './page_artifacts.js';
import * as audit from './page_audit.js'; // the audit log (admins)
import * as sso from './sso.js';

const routes = [
  [/^#\/dags\/([^/]+)$/, dag],
  [/^#\/runs\/(\d+)$/, run],
  [/^#\/workers$/, workers],
  [/^#\/events$/, events],
  [/^#\/metrics(?:\/(.+))?$/, metrics],
  [/^#\/artifacts(?:\/(.+))?$/, artifacts],
  [/^#\/audit$/, audit],
  [/^#\/dags$/, dags],
];

const ctx = {session: null, canAct: false, may: () => false};

// What the session allows (web/authz.js), on ctx for every page.
function setSession(sess) {
  ctx.session = sess;
  ctx.canAct = !!sess && mayAct(sess);
  ctx.may = (action, dag, env) => !!sess && may(sess, action, dag, env);
}
let leave = null;

function main() {
  return document.getElementById('main');
}

function showHeader() {
  const who = document.getElementById('who');
  const out = document.getElementById('signout');
  const nav = document.getElementById('nav');
  if (ctx.session) {
    who.textContent = `${ctx.session.name || 'unnamed token'} (${ctx.canAct ? grantsText(ctx.session) : 'read-only'})`;
    out.hidden = false;
    nav.hidden = false;
  } else {
    who.textContent = '';
    out.hidden = true;
    nav.hidden = true;
  }
  // workers and metrics span every DAG: for a reader of all of them
  for (const a of nav.querySelectorAll('a[href="#/workers"], a[href="#/metrics"]'))
    a.hidden = !ctx.may('read', null, null);
  // the audit log: a link for those who may read it (an unscoped admin)
  document.getElementById('nav-audit').hidden = !ctx.may('admin', null, null);
  for (const a of nav.querySelectorAll('a')) {
    const here = location.hash.startsWith(a.getAttribute('href'));
    if (here) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function signInPage(message) {
  if (leave) leave();
  leave = null;
  const input = h('input', {id: 'token', type: 'password', name: 'token', autocomplete: 'off',
                            required: true, placeholder: 'weir_…', 'aria-describedby': 'token-help'});
  const err = h('div', {id: 'signin-error'});
  if (message) err.append(note('error', message));
  const form = h('form', {class: 'card signin', onsubmit: async (ev) => {
    ev.preventDefault();
    const t = input.value.trim();
    try {
      const sess = await api.session(t);
      if (!may(sess, 'read')) {
        put(err, note('error', 'This token cannot use the dashboard: it has no grant that reads (a worker or ingest token).'));
        return;
      }
      api.setToken(t);
      setSession(sess);
      if (!location.hash || location.hash === '#/signin') location.hash = '#/dags';
      else route();
    } catch (e) {
      put(err, note('error', e.status === 401
        ? `That token was not accepted: ${e.message}. Check it, or create one with weir-server --create-token read.`
        : e.status === 403 ? `This token cannot use the dashboard (${e.message}): use an admin or a read token.`
        : `Cannot sign in: ${e.message}`));
    }
  }},
    h('h1', {}, 'Sign in to Weir'),
    h('label', {for: 'token'}, 'API token'),
    input,
    h('p', {id: 'token-help', class: 'muted'},
      'An admin token can act on runs; a read token can only look. The token stays in this tab (sessionStorage) and is sent as a bearer header.'),
    err,
    h('button', {type: 'submit', class: 'primary'}, 'Sign in'));
  setSession(null);
  showHeader();
  replace(main(), form);
  input.focus();
  sso.ssoConfig().then((c) => { if (c.oidc) form.insertBefore(sso.ssoButton(), form.children[1]); });
}

async function route() {
  if (!api.token() && !(ctx.session && ctx.session.sso)) {
    // single sign-on: the session of the cookie, if any (sso.js)
    const s = await sso.cookieSession().catch(() => null);
    if (!s) {
      signInPage();
      return;
    }
    setSession(s);
  }
  if (!ctx.session) {
    try {
      setSession(await api.session());
    } catch (e) {
      // only a refused token signs out; anything else keeps it and retries
      if (e.status === 401) {
        api.setToken(null);
        signInPage(`Signed out: ${e.message}`);
        return;
      }
      if (leave) leave();
      leave = null;
      const retry = setTimeout(route, 3000);
      leave = () => clearTimeout(retry);
      replace(main(), note('error', `Cannot reach the server (${e.message}); trying again every 3 s. `,
                           'Your token is kept.'));
      return;
    }
  }
  const hash = location.hash || '#/dags';
  let found = null, args = [];
  for (const [re, page] of routes) {
    const m = hash.match(re);
    if (m) {
      found = page;
      args = m.slice(1).map((x) => (x === undefined ? x : decodeURIComponent(x)));
      break;
    }
  }
  if (leave) leave();
  leave = null;
  showHeader();
  if (!found) {
    replace(main(), note('empty', 'No such page. ', h('a', {href: '#/dags'}, 'See the DAGs.')));
    return;
  }
  // Each page draws into an element of its own: a request of the page left
  // behind may still finish, and then draws into an element no longer shown.
  const el = h('div', {class: 'page'});
  replace(main(), el);
  leave = found.render(el, args, ctx) || null;
  main().focus({preventScroll: true});
}

async function signOut() {
  if (ctx.session && ctx.session.sso) await sso.ssoSignOut();
  api.setToken(null);
  api.forget();
  setSession(null);
  location.hash = '#/signin';
  signInPage();
}

// While the server cannot be reached: a banner with the time of the last
// answer, and the buttons of the page disabled (also those drawn
// meanwhile); the page keeps what it shows.
const offlineBanner = document.getElementById('offline');
const disabler = new MutationObserver(() => disableButtons());

function disableButtons() {
  for (const b of main().querySelectorAll('button:not([disabled])')) {
    b.disabled = true;
    b.dataset.offline = '1';
  }
}

function showNet() {
  if (api.net.online) {
    disabler.disconnect();
    offlineBanner.hidden = true;
    for (const b of main().querySelectorAll('button[data-offline]')) {
      b.disabled = false;
      delete b.dataset.offline;
    }
    return;
  }
  const last = api.net.lastUpdate;
  put(offlineBanner, h('strong', {}, 'The server cannot be reached. '),
      last ? ['Shown as of the last update at ', h('time', {datetime: last.toISOString(), id: 'offline-time'},
                                                   last.toLocaleTimeString()), '. ']
           : 'Nothing was loaded yet. ',
      'Actions are disabled until it answers again.');
  offlineBanner.hidden = false;
  disableButtons();
  disabler.observe(main(), {childList: true, subtree: true, attributes: true, attributeFilter: ['disabled']});
}

window.addEventListener('weir-net', showNet);
document.getElementById('signout').addEventListener('click', signOut);
window.addEventListener('hashchange', route);
window.addEventListener('weir-signed-out', () => {
  api.setToken(null);
  signInPage('Your token is no longer accepted; sign in again.');
});
route();
