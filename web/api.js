// SPDX-License-Identifier: Apache-2.0
// The API client: the token from sessionStorage as a bearer header (no
// cookie, so no other site can ride it), JSON errors as ApiError, and
// conditional reads (If-None-Match) so polling pages skip unchanged data.
// Every reply's body is read, a 304's too. Whether the server can be
// reached is tracked here: a request that gets no answer at all is an
// ApiError of code NETWORK and makes the dashboard "offline" (the event
// weir-net) until the next answer; only a 401 signs out.

const TOKEN_KEY = 'weir.token';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// The CSRF token of a single sign-on session (sso.js): sent with every
// change, as a cookie alone is refused for those.
let csrf = null;

export function setCsrf(t) {
  csrf = t || null;
}

// Cached bodies of conditional reads, by path: {etag, data}.
const cache = new Map();

// {online, lastUpdate}: lastUpdate is the time of the last answer.
export const net = {online: true, lastUpdate: null};

function reached(online) {
  if (online) net.lastUpdate = new Date();
  if (net.online === online) return;
  net.online = online;
  window.dispatchEvent(new Event('weir-net'));
}

async function request(method, path, body, tok) {
  const headers = {'Accept': 'application/json'};
  const t = tok ?? token();
  if (t) headers['Authorization'] = 'Bearer ' + t;
  const cached = method === 'GET' ? cache.get(path) : undefined;
  if (cached) headers['If-None-Match'] = cached.etag;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrf && !t) headers['X-CSRF-Token'] = csrf;
  let resp, text;
  try {
    resp = await fetch(path, {
      method,
      headers,
      cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    // read every body to its end, a 304's (empty) too: a reply left
    // unread is counted as canceled by the browser
    text = await resp.text();
  } catch (e) {
    reached(false);
    throw new ApiError(0, 'NETWORK', 'the server cannot be reached');
  }
  reached(true);
  if (resp.status === 304 && cached) return {data: cached.data, changed: false};
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (e) {
    throw new ApiError(resp.status, 'BADREPLY',
                       `the server sent something other than JSON (${resp.status})`);
  }
  if (!resp.ok) {
    const err = (data && data.error) || {};
    if (resp.status === 401 && tok === undefined) window.dispatchEvent(new Event('weir-signed-out'));
    throw new ApiError(resp.status, err.code || 'HTTP' + resp.status,
                       err.message || `the server answered ${resp.status}`);
  }
  const etag = resp.headers.get('ETag');
  if (method === 'GET' && etag) cache.set(path, {etag, data});
  return {data, changed: true};
}

// GET path: the parsed body.
export async function get(path) {
  return (await request('GET', path)).data;
}

// GET path: {data, changed}; changed is false when the server said 304.
export function poll(path) {
  return request('GET', path);
}

// POST path with an optional JSON body: the parsed reply.
export async function post(path, body) {
  return (await request('POST', path, body)).data;
}

// DELETE path: the parsed reply.
export async function del(path) {
  return (await request('DELETE', path)).data;
}

// The session of a token not yet stored: {role, name}, or ApiError.
export async function session(tok) {
  return (await request('GET', '/api/v1/session', undefined, tok)).data;
}

export function forget() {
  cache.clear();
}
