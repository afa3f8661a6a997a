// SPDX-License-Identifier: Apache-2.0
// Single sign-on in the dashboard: whether the server offers it (GET
// /auth/config), the session of the sign-in cookie (GET /api/v1/session
// sent without a token; the cookie is HttpOnly, so this page never sees
// it), its CSRF token handed to api.js for every change, and sign-out
// (POST /auth/logout). Token sign-in stays beside it.

import * as api from './api.js';
import {h} from './ui.js';

let config = null;

// {oidc: bool}: whether "Sign in with SSO" is offered (asked once).
export async function ssoConfig() {
  if (config) return config;
  try {
    const r = await fetch('/auth/config', {cache: 'no-store'});
    config = r.ok ? await r.json() : {oidc: false};
  } catch (e) {
    return {oidc: false}; // asked again next time
  }
  return config;
}

// The session of the sign-in cookie ({name, role, grants, csrf, sso}), or
// null when there is none; other errors are thrown.
export async function cookieSession() {
  try {
    const s = await api.session('');
    if (s && s.sso) {
      api.setCsrf(s.csrf);
      return s;
    }
  } catch (e) {
    if (e.status !== 401) throw e;
  }
  return null;
}

// The button of the sign-in page: a plain link, the server redirects.
export function ssoButton() {
  return h('p', {class: 'sso'},
    h('a', {id: 'sso-signin', class: 'button primary', href: '/auth/login'}, 'Sign in with SSO'));
}

// End the cookie's session on the server; the page forgets its token.
export async function ssoSignOut() {
  try {
    await api.post('/auth/logout');
  } catch (e) {
    // the session may have ended already; the page signs out anyway
  }
  api.setCsrf(null);
}
