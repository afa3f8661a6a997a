// SPDX-License-Identifier: Apache-2.0
// The dashboard's parts of issue 14 in headless Chromium, against the
// private stack run.sh started (after dashboard.test.mjs): backfills,
// pools, run timeouts and deadlines, step caching, mapping over an
// upstream's output and after triggers. The DAGs are submitted through
// the API (POST /api/v1/dags) and their runs started up front, so that
// the tests mostly look. Each test saves a screenshot stakes-NAME.png
// under WEIR_E2E_OUT, passing or not; a JavaScript error or a
// Content-Security-Policy refusal in the page fails the test it happened
// in. Every wait is bounded.

import {writeFileSync} from 'node:fs';
import {chromium} from 'playwright-core';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set (run tests/e2e/run.sh)`);
  return v;
};
const BASE = env('WEIR_E2E_URL');
const ADMIN = env('WEIR_E2E_ADMIN');
const READ = env('WEIR_E2E_READ');
const OUT = env('WEIR_E2E_OUT');
const DAGS = env('WEIR_E2E_DAGS'); // the worker's DAGs folder, its steps' working folder
const WAIT = 20000;         // ms: longest wait for anything on a page
const TEST_LIMIT = 40000;   // ms: longest test

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function api(method, path, body, token = ADMIN) {
  const r = await fetch(BASE + path, {
    method,
    headers: {Authorization: `Bearer ${token}`, 'Content-Type': 'application/json'},
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10000),
  });
  const j = await r.json();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(j)}`);
  return j;
}

// Polls fn (an async predicate returning a value or null) every 200 ms
// until it gives a value, at most ms.
async function until(what, fn, ms = 30000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`waited ${ms} ms for ${what}`);
    await new Promise((ok) => setTimeout(ok, 200));
  }
}

const FINISHED = ['success', 'failed', 'canceled'];
const run = (id) => api('GET', `/api/v1/runs/${id}`);
const finished = (id) => until(`run ${id} to end`, async () => {
  const r = await run(id);
  return FINISHED.includes(r.state) ? r : null;
});
const trigger = async (dag, body) => (await api('POST', `/api/v1/dags/${dag}/runs`, body)).run_id;

const browser = await chromium.launch({
  executablePath: env('WEIR_E2E_CHROMIUM'),
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});

// One browser context (one sessionStorage) per role.
async function newPage() {
  const context = await browser.newContext({viewport: {width: 1280, height: 900}});
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // HTTP errors are the tests' to judge; anything else counts (a CSP
    // refusal is a console error)
    if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) page.problems.push(`console: ${m.text()}`);
  });
  return page;
}

async function signIn(page, token) {
  await page.goto(BASE + '/');
  await page.fill('#token', token);
  await page.click('form.signin button[type=submit]');
  await page.waitForSelector('#dags');
}

const results = [];
let current = null;

async function test(name, fn) {
  const t0 = Date.now();
  current.problems.length = 0;
  let error = null;
  let timer;
  try {
    await Promise.race([fn(), new Promise((_, no) => {
      timer = setTimeout(() => no(new Error(`took over ${TEST_LIMIT} ms`)), TEST_LIMIT);
    })]);
    check(!current.problems.length, current.problems.join('; '));
  } catch (e) {
    error = e;
  } finally {
    clearTimeout(timer);
  }
  try {
    await current.screenshot({path: `${OUT}/stakes-${name}.png`, fullPage: true, timeout: 10000});
  } catch (e) {
    console.log(`  (no screenshot of ${name}: ${e.message})`);
  }
  results.push({name, ok: !error});
  console.log(`${error ? 'FAIL' : 'ok  '} stakes-${name} (${Date.now() - t0} ms)${error ? ': ' + error.message : ''}`);
}

const text = (page, sel) => page.evaluate((s) => document.querySelector(s)?.textContent || '', sel);
const waitText = (page, sel, re, ms = WAIT) => page.waitForFunction(
  ([s, src]) => new RegExp(src).test(document.querySelector(s)?.textContent || ''), [sel, re.source], {timeout: ms});

// The DAGs, each run by the stack's worker (queue default).
const SOURCES = {
  'st-cron': `dag: st-cron
description: a daily cron DAG to backfill
schedule: "0 3 * * *"
steps:
  - id: day
    run: sleep 1
`,
  'st-pool': `dag: st-pool
steps:
  - id: work
    pool: st-gpu
    pool_slots: 3
    # holds its slots until the test writes st-pool-go (at most 30 s)
    run: for i in $(seq 150); do [ -e st-pool-go ] && exit 0; sleep 0.2; done; exit 1
`,
  'st-late': `dag: st-late
deadline: {finish_within: 1s}
steps:
  - id: slow
    run: sleep 3
`,
  'st-timeout': `dag: st-timeout
run_timeout: 1s
steps:
  - id: slow
    run: sleep 10
`,
  'st-cache': `dag: st-cache
steps:
  - id: build
    cache: true
    run: echo "made=$(date +%s%N)" >> "$WEIR_OUTPUTS"
`,
  'st-map': `dag: st-map
steps:
  - id: list
    run: sleep 1 && echo 'files=["a", "b", "c"]' >> "$WEIR_OUTPUTS"
  - id: each
    needs: list
    map: \${{ steps.list.outputs.files }}
    run: echo "\${{ matrix.item }}"
`,
  'st-up': `dag: st-up
steps:
  - id: a
    run: echo up
`,
  'st-down': `dag: st-down
triggers:
  - after: {dag: st-up, state: success}
steps:
  - id: b
    run: echo down
`,
};
const t0 = Date.now();
await api('PUT', '/api/v1/pools/st-gpu', {slots: 4}); // before a DAG names it
for (const source of Object.values(SOURCES)) await api('POST', '/api/v1/dags', {source});
const ids = {
  pool: [await trigger('st-pool'), await trigger('st-pool'), await trigger('st-pool')],
  late: await trigger('st-late'),
  timeout: await trigger('st-timeout'),
  cache: await trigger('st-cache'),
  up: await trigger('st-up'),
};

const admin = await newPage();
current = admin;
await signIn(admin, ADMIN);

await test('pools', async () => {
  await admin.goto(`${BASE}/#/runs/${ids.pool[0]}`);
  await admin.waitForSelector('tr[data-task="work"] .tag[data-pool="st-gpu"]');
  const tag = await text(admin, 'tr[data-task="work"] .tag[data-pool="st-gpu"]');
  check(tag === 'pool st-gpu ×3', `the task's pool: ${tag}`);
  await admin.goto(`${BASE}/#/workers`);
  // one run holds 3 of the pool's 4 slots, the two others wait for them
  await waitText(admin, '#pools tr[data-pool="st-gpu"]', /^st-gpu4 3 of 42$/);
  const cells = await admin.$$eval('#pools tr[data-pool="st-gpu"] td', (tds) => tds.map((td) => td.textContent.trim()));
  check(cells.join('|') === 'st-gpu|4|3 of 4|2', `pool row: ${cells.join('|')}`);
  writeFileSync(`${DAGS}/st-pool-go`, '');
  for (const id of ids.pool) check((await finished(id)).state === 'success', `pool run ${id} did not succeed`);
  await waitText(admin, '#pools tr[data-pool="st-gpu"]', /^st-gpu4 0 of 40$/);
});

await test('run-timeout', async () => {
  const r = await finished(ids.timeout);
  check(r.state === 'failed' && /^run timeout 1s/.test(r.error || ''), `run ${ids.timeout}: ${r.state} ${r.error}`);
  await admin.goto(`${BASE}/#/runs/${ids.timeout}`);
  await waitText(admin, '#run-error', /^run timeout 1s/);
  check(await admin.$('.page-head .badge.st-failed'), 'the run page does not say failed');
});

await test('late', async () => {
  // a run that is not late has no badge
  const other = await trigger('st-cache');
  await admin.goto(`${BASE}/#/runs/${other}`);
  await admin.waitForSelector('.page-head .badge');
  check(!(await admin.$('.badge.st-late')), 'a run without a deadline shows late');
  await until(`run ${ids.late} to be late`, async () => (await run(ids.late)).late);
  await admin.goto(`${BASE}/#/dags/st-late`);
  await admin.waitForSelector(`#runs tr[data-key="run-${ids.late}"] .badge.st-late`);
  await admin.waitForSelector('#grid th.late .late-mark');
  await admin.goto(`${BASE}/#/runs/${ids.late}`);
  await admin.waitForSelector('.page-head .badge.st-late');
  check(/late/.test(await text(admin, '.page-head .badge.st-late')), 'the late badge has no word');
  await waitText(admin, '#deadline-at', /late/);
  await finished(other);
});

await test('cache', async () => {
  const first = await finished(ids.cache);
  check(first.state === 'success', `first cache run ${ids.cache} ${first.state}`);
  const second = await finished(await trigger('st-cache'));
  check(second.state === 'success', `second cache run ${second.id} ${second.state}`);
  const att = first.tasks.find((t) => t.step === 'build').attempts[0].id;
  await admin.goto(`${BASE}/#/runs/${second.id}`);
  await admin.waitForSelector('tr[data-task="build"] .cached-from');
  const cf = await text(admin, 'tr[data-task="build"] .cached-from');
  check(cf === `cached from run ${ids.cache} attempt ${att}`, `cached from: ${cf}`);
  await admin.click('tr[data-task="build"] .cached-from a');
  await admin.waitForURL(new RegExp(`#/runs/${ids.cache}$`));
  // the Trigger form's skip-cache box sends no_cache
  await admin.goto(`${BASE}/#/dags/st-cache`);
  await admin.check('#trigger-no-cache');
  await admin.click('#trigger-form button[type=submit]');
  await admin.waitForURL(/#\/runs\/\d+$/);
  const id = Number(new URL(admin.url()).hash.match(/(\d+)$/)[1]);
  const third = await finished(id);
  check(third.no_cache === true, `run ${id} has no_cache ${third.no_cache}`);
  check(!third.tasks[0].cached_from && third.tasks[0].outputs.made !== first.tasks[0].outputs.made,
        `run ${id} with no_cache used the cache`);
  // and unchecked, it does not
  await admin.goto(`${BASE}/#/dags/st-cache`);
  await admin.click('#trigger-form button[type=submit]');
  await admin.waitForURL(/#\/runs\/\d+$/);
  const plain = await run(Number(new URL(admin.url()).hash.match(/(\d+)$/)[1]));
  check(plain.no_cache === false, `a run without the box has no_cache ${plain.no_cache}`);
  await finished(plain.id);
  await admin.goto(`${BASE}/#/runs/${second.id}`); // for the screenshot
  await admin.waitForSelector('tr[data-task="build"] .cached-from');
});

await test('map', async () => {
  await admin.goto(`${BASE}/#/dags/st-map`);
  await waitText(admin, 'svg.graph g[data-step="each"]', /map: \?/);
  await admin.click('#trigger-form button[type=submit]');
  await admin.waitForURL(/#\/runs\/\d+$/);
  const id = Number(new URL(admin.url()).hash.match(/(\d+)$/)[1]);
  await waitText(admin, 'svg.graph g[data-step="each"]', /map: 3/, 30000);
  const r = await finished(id);
  check(r.state === 'success', `map run ${id} ${r.state}`);
  check(r.tasks.filter((t) => t.step === 'each').length === 3, `map run ${id} has not 3 cells of each`);
});

await test('after', async () => {
  const up = await finished(ids.up);
  check(up.state === 'success', `st-up run ${ids.up} ${up.state}`);
  const down = await until('the st-down run', async () =>
    (await api('GET', '/api/v1/runs?dag=st-down')).runs[0]);
  await admin.goto(`${BASE}/#/runs/${down.id}`);
  await waitText(admin, '#upstream', new RegExp(`^after st-up run #${ids.up}`));
  await admin.click('#upstream-run');
  await admin.waitForURL(new RegExp(`#/runs/${ids.up}$`));
  await waitText(admin, '.page-head', /Run #\d+/);
  check(/st-up/.test(await text(admin, '.page-head')), 'the upstream link did not open the st-up run');
  await admin.goto(`${BASE}/#/dags/st-down`);
  await waitText(admin, '#follows', /^after st-up \(success\)$/);
  check(await admin.$('#follows a[href="#/dags/st-up"]'), 'Follows does not link to st-up');
  await finished(down.id);
});

await test('backfill', async () => {
  await admin.goto(`${BASE}/#/dags/st-cron`);
  await admin.waitForSelector('#backfill-form');
  await admin.fill('#backfill-from', '2026-11-01');
  await admin.fill('#backfill-to', '2026-11-30');
  await admin.click('#backfill-dry');
  await waitText(admin, '#backfill-preview', /^30 slot\(s\) to run, 0 skipped/);
  check(await admin.$$eval('#backfill-slots tbody tr', (rs) => rs.length) === 30, 'the preview does not list 30 slots');
  check(!(await api('GET', '/api/v1/dags/st-cron/backfills')).backfills.length, 'a preview started a backfill');
  await admin.click('#backfill-form button[type=submit]');
  const row = '#backfills tbody tr';
  await admin.waitForSelector(`${row} .badge.st-running`);
  const id = await admin.getAttribute(row, 'data-backfill');
  await waitText(admin, `${row} .backfill-progress`, /\(of 30; 0 skipped\)/);
  const progress = await text(admin, `${row} .backfill-progress`);
  check(/running|queued/.test(progress), `progress: ${progress}`);
  await admin.click(`tr[data-backfill="${id}"] button.danger`);
  await admin.waitForSelector(`tr[data-backfill="${id}"] .badge.st-canceled`);
  check(!(await admin.$(`tr[data-backfill="${id}"] button`)), 'a canceled backfill keeps its Cancel button');
  await waitText(admin, `tr[data-backfill="${id}"] .backfill-progress`, /\d+ never started \(of 30;/);
  const b = await api('GET', `/api/v1/backfills/${id}`);
  check(b.state === 'canceled', `backfill ${id} is ${b.state}`);
});

const reader = await newPage();
current = reader;
await test('backfill-read-only', async () => {
  const {backfill_id: id} = await api('POST', '/api/v1/dags/st-cron/backfills', {from: '2026-10-01', to: '2026-10-31'});
  try {
    await signIn(reader, READ);
    await reader.goto(`${BASE}/#/dags/st-cron`);
    await reader.waitForSelector(`tr[data-backfill="${id}"] .badge.st-running`);
    check(await reader.$$eval('#backfills tbody tr', (rs) => rs.length) === 2, 'a read token does not see both backfills');
    check(!(await reader.$('#backfill-form')), 'a read token sees the backfill form');
    check(!(await reader.$('#backfills button')), 'a read token sees a Cancel button');
  } finally {
    await api('POST', `/api/v1/backfills/${id}/cancel`, {});
  }
});

await browser.close();
const failed = results.filter((r) => !r.ok);
console.log(`${results.length - failed.length} of ${results.length} stakes browser tests passed in ${Date.now() - t0} ms`);
process.exit(failed.length ? 1 : 0);
