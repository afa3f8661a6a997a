// SPDX-License-Identifier: Apache-2.0
// Roles and scopes in the dashboard (docs/security.md, "Access model:
// roles and scopes"), in headless Chromium against the private stack
// run_page.sh authz started: per role, what the dashboard shows and hides
// (admin, an operator of one DAG, a reader, an author of one DAG; ingest
// and worker tokens cannot sign in).
// An admin sees every DAG and every control; an operator limited to the
// DAG "quick" sees that DAG only, its pause, trigger and retry controls,
// and not the pages that span every DAG (workers, metrics); a reader sees
// everything and no control. Each test saves a screenshot authz-NAME.png
// under WEIR_E2E_OUT; a JavaScript error in the page fails it. Every wait
// is bounded.

import * as lib from './lib.mjs';

const {check} = lib;
const env = (k) => lib.env(k, 'run_page.sh authz');
const BASE = env('WEIR_E2E_URL');
const ADMIN = env('WEIR_E2E_ADMIN');
const READ = env('WEIR_E2E_READ');
const OUT = env('WEIR_E2E_OUT');
const WAIT = 15000;       // ms: longest wait for anything on a page
const TEST_LIMIT = 30000; // ms: longest test

const api = (method, path, body, token = ADMIN) => lib.call(BASE, token, method, path, body);

async function until(what, fn, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`waited ${ms} ms for ${what}`);
    await new Promise((ok) => setTimeout(ok, 200));
  }
}

// A finished run of quick, for the run page's controls.
const runId = (await api('POST', '/api/v1/dags/quick/runs')).run_id;
await until(`run ${runId} to end`, async () =>
  ['success', 'failed', 'canceled'].includes((await api('GET', `/api/v1/runs/${runId}`)).state));
const OPERATOR = (await api('POST', '/api/v1/tokens',
                            {name: 'e2e-operator', grants: ['operator:dag=quick']})).token;
const AUTHOR = (await api('POST', '/api/v1/tokens',
                          {name: 'e2e-author', grants: ['author:dag=quick']})).token;
const INGEST = (await api('POST', '/api/v1/tokens', {name: 'e2e-ingest', grants: ['ingest']})).token;
const WORKER = (await api('POST', '/api/v1/tokens', {name: 'e2e-authz-worker', grants: ['worker']})).token;

const browser = await lib.launch('run_page.sh authz');

async function newPage(token) {
  const page = await lib.freshPage(browser, WAIT);
  await lib.signIn(page, BASE, token, '#dags [data-dag]');
  return page;
}

const count = (page, sel) => page.evaluate((s) => document.querySelectorAll(s).length, sel);
const visible = (page, sel) => page.evaluate((s) => {
  const e = document.querySelector(s);
  return !!e && !e.hidden && e.offsetParent !== null;
}, sel);

// What a role sees, each read once the page has drawn.
async function looks(page) {
  const out = {};
  await page.waitForSelector('#dags [data-dag="quick"]');
  out.dags = await page.evaluate(() =>
    [...document.querySelectorAll('#dags [data-dag]')].map((e) => e.getAttribute('data-dag')).sort());
  out.pause = await count(page, '#dags button[id^="pause-"]');
  out.workersLink = await visible(page, '#nav a[href="#/workers"]');
  out.metricsLink = await visible(page, '#nav a[href="#/metrics"]');
  out.who = await page.textContent('#who');
  await page.goto(`${BASE}/#/dags/quick`);
  await page.waitForSelector('h2');
  await page.waitForFunction(() => [...document.querySelectorAll('h2')].some((e) => /Runs|Recent/.test(e.textContent)));
  out.trigger = await count(page, '#trigger-form');
  out.dagPause = await count(page, 'button[id="pause-quick"]');
  await page.goto(`${BASE}/#/runs/${runId}`);
  await page.waitForSelector('#params');
  out.retry = await count(page, '#retry-from');
  return out;
}

let failed = 0;
async function test(name, token, want) {
  const t0 = Date.now();
  let page = null;
  let error = null;
  let timer;
  try {
    await Promise.race([(async () => {
      page = await newPage(token);
      const got = await looks(page);
      for (const [k, v] of Object.entries(want)) {
        const g = got[k];
        const ok = v instanceof RegExp ? v.test(g) : JSON.stringify(g) === JSON.stringify(v);
        check(ok, `${k}: got ${JSON.stringify(g)}, want ${v}`);
      }
      check(!page.problems.length, page.problems.join('; '));
      console.log(`  ${name}: ${JSON.stringify(got)}`);
    })(), new Promise((_, no) => {
      timer = setTimeout(() => no(new Error(`took over ${TEST_LIMIT} ms`)), TEST_LIMIT);
    })]);
  } catch (e) {
    error = e;
  } finally {
    clearTimeout(timer);
  }
  if (page) {
    try {
      await page.screenshot({path: `${OUT}/authz-${name}.png`, fullPage: true, timeout: 10000});
    } catch (e) {
      console.log(`  (no screenshot of ${name}: ${e.message})`);
    }
  }
  if (error) failed++;
  console.log(`${error ? 'FAIL' : 'ok  '} authz-${name} (${Date.now() - t0} ms)${error ? ': ' + error.message : ''}`);
}

const all = (await api('GET', '/api/v1/dags')).dags.map((d) => d.id).sort();
await test('admin', ADMIN, {dags: all, pause: all.length, workersLink: true, metricsLink: true,
                            who: /\(admin\)/, trigger: 1, dagPause: 1, retry: 1});
await test('operator', OPERATOR, {dags: ['quick'], pause: 1, workersLink: false, metricsLink: false,
                                  who: /operator:dag=quick/, trigger: 1, dagPause: 1, retry: 1});
await test('read', READ, {dags: all, pause: 0, workersLink: true, metricsLink: true,
                          who: /read-only/, trigger: 0, dagPause: 0, retry: 0});
await test('author', AUTHOR, {dags: ['quick'], pause: 0, workersLink: false, metricsLink: false,
                              who: /author:dag=quick/, trigger: 0, dagPause: 0, retry: 0});

// A token without a grant that reads (ingest, worker) cannot sign in.
for (const [name, token] of [['ingest', INGEST], ['worker', WORKER]]) {
  const t0 = Date.now();
  const page = await lib.freshPage(browser, WAIT);
  let error = null;
  try {
    await page.goto(BASE + '/');
    await page.fill('#token', token);
    await page.click('form.signin button[type=submit]');
    await page.waitForFunction(() =>
      /cannot use the dashboard/.test(document.querySelector('#signin-error')?.textContent || ''));
    check(await page.evaluate(() => sessionStorage.getItem('weir.token')) === null,
          'the refused token was kept');
    check(!page.problems.length, page.problems.join('; '));
  } catch (e) {
    error = e;
    failed++;
  }
  await page.screenshot({path: `${OUT}/authz-${name}.png`, fullPage: true, timeout: 10000}).catch(() => {});
  console.log(`${error ? 'FAIL' : 'ok  '} authz-${name} (${Date.now() - t0} ms)${error ? ': ' + error.message : ''}`);
}
await browser.close();
console.log(failed ? `authz: ${failed} test(s) failed` : 'authz: all passed');
process.exit(failed ? 1 : 0);
