// SPDX-License-Identifier: Apache-2.0
// What the browser tests run by run_page.sh share: their settings from the
// environment, checks, calls to the API, and a headless Chromium whose
// pages record their JavaScript errors.

import {chromium} from 'playwright-core';

// The environment variable k, or an error naming it and the script that
// sets it.
export function env(k, script) {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set (run tests/e2e/${script})`);
  return v;
}

export function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

// A call to the API at base with token: {status, body} (body parsed as
// JSON). A body that is not a string is sent as JSON.
export async function request(base, token, method, path, body, ctype = 'application/json') {
  const r = await fetch(base + path, {
    method,
    headers: {Authorization: `Bearer ${token}`, 'Content-Type': ctype},
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(10000),
  });
  return {status: r.status, body: await r.json()};
}

// request(), the body of a 2xx reply, or an error naming the call.
export async function call(base, token, method, path, body, ctype) {
  const r = await request(base, token, method, path, body, ctype);
  if (r.status < 200 || r.status > 299) {
    throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  return r.body;
}

// Headless Chromium (WEIR_E2E_CHROMIUM).
export function launch(script) {
  return chromium.launch({
    executablePath: env('WEIR_E2E_CHROMIUM', script),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}

// A page in a context of its own, waiting up to wait ms for anything, whose
// JavaScript errors gather in page.problems.
export async function freshPage(browser, wait) {
  const context = await browser.newContext({viewport: {width: 1280, height: 900}});
  const page = await context.newPage();
  page.setDefaultTimeout(wait);
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  return page;
}

// Sign page in with token through the dashboard's form, waiting for sel.
export async function signIn(page, base, token, sel) {
  await page.goto(base + '/');
  await page.fill('#token', token);
  await page.click('form.signin button[type=submit]');
  await page.waitForSelector(sel);
}
