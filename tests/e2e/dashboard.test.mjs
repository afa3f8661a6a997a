// SPDX-License-Identifier: Apache-2.0
// The dashboard in headless Chromium against the private stack run.sh
// started. Each test saves a screenshot under WEIR_E2E_OUT, passing or not;
// a JavaScript error or a Content-Security-Policy refusal in the page fails
// the test it happened in. Every wait is bounded.

import {writeFileSync, rmSync} from 'node:fs';
import {chromium} from 'playwright-core';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set (run tests/e2e/run.sh)`);
  return v;
};
const BASE = env('WEIR_E2E_URL');
const ADMIN = env('WEIR_E2E_ADMIN');
const READ = env('WEIR_E2E_READ');
const WORKER = env('WEIR_E2E_WORKER');
const DAGS = env('WEIR_E2E_DAGS');
const BIG_RUN = env('WEIR_E2E_BIG_RUN');
const OUT = env('WEIR_E2E_OUT');
const WAIT = 20000;         // ms: longest wait for anything on a page
const TEST_LIMIT = 60000;   // ms: longest test
// The issue asks that a DAG with 10,000 runs and a run with 1,000 tasks
// open in under a second. On a shared, loaded test machine the bound here
// is generous (3 s, WEIR_E2E_OPEN_LIMIT_MS); the time taken is printed.
const OPEN_LIMIT = Number(process.env.WEIR_E2E_OPEN_LIMIT_MS || 3000);

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
    // HTTP errors are the tests' to judge (a 401 of a wrong token);
    // anything else counts
    if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) page.problems.push(`console: ${m.text()}`);
  });
  return page;
}

async function signIn(page, token) {
  await page.goto(BASE + '/');
  await page.fill('#token', token);
  await page.click('form.signin button[type=submit]');
}

const admin = await newPage();
let current = admin;
const state = {};
const results = [];

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
    // the whole page, unless it is very long (1,000 tasks)
    const tall = await current.evaluate(() => document.body.scrollHeight > 4000);
    await current.screenshot({path: `${OUT}/${name}.png`, fullPage: !tall, timeout: 10000});
  } catch (e) {
    console.log(`  (no screenshot of ${name}: ${e.message})`);
  }
  results.push({name, ok: !error});
  console.log(`${error ? 'FAIL' : 'ok  '} ${name} (${Date.now() - t0} ms)${error ? ': ' + error.message : ''}`);
}

const runId = () => Number(new URL(current.url()).hash.match(/^#\/runs\/(\d+)$/)?.[1]);
const runState = (st) => current.waitForSelector(`.page-head .badge.st-${st}`, {timeout: 30000});

await test('signin-wrong-token', async () => {
  await signIn(admin, 'weir_not_a_real_token');
  const text = await admin.textContent('#signin-error .note-error');
  check(/not accepted/.test(text), `no clear message: ${text}`);
  check(await admin.evaluate(() => sessionStorage.getItem('weir.token')) === null, 'a wrong token was kept');
  await admin.fill('#token', WORKER);
  await admin.click('form.signin button[type=submit]');
  await admin.waitForFunction(() => /cannot use the dashboard/.test(document.querySelector('#signin-error')?.textContent || ''));
});

await test('signin-and-dags', async () => {
  await signIn(admin, ADMIN);
  await admin.waitForSelector('#dags tr[data-dag="demo"]');
  await admin.waitForSelector('#dags tr[data-dag="quick"] .squares .sq');
  const demo = await admin.textContent('#dags tr[data-dag="demo"]');
  check(/active/.test(demo) && /0 3 \* \* \*/.test(demo) && /example/.test(demo), `demo row: ${demo}`);
  check(await admin.evaluate(() => sessionStorage.getItem('weir.token')) !== null, 'the token is not in sessionStorage');
  await admin.fill('#dag-search', 'fan out');
  await admin.waitForFunction(() => document.querySelectorAll('#dags tbody tr').length === 1);
  check(await admin.$('#dags tr[data-dag="demo"]'), 'the search lost demo');
  await admin.fill('#dag-search', '');
  await admin.waitForSelector('#dags tr[data-dag="quick"]');
  const utc = await admin.getAttribute('#dags tr[data-dag="demo"] time', 'title');
  check(/^UTC \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/.test(utc || ''), `no UTC on hover: ${utc}`);
  // the keyboard: focus the DAG's link and follow it with Enter
  await admin.focus('#dags tr[data-dag="demo"] a.dag-link');
  await admin.keyboard.press('Enter');
  await admin.waitForURL(/#\/dags\/demo$/);
  await admin.evaluate(() => { location.hash = '#/dags'; });
  await admin.waitForSelector('#dags tr[data-dag="demo"]');
});

await test('trigger-with-param', async () => {
  await admin.click('#dags tr[data-dag="demo"] a.dag-link');
  await admin.waitForSelector('#trigger-form');
  const fan = await admin.textContent('svg.graph g[data-step="fan"]');
  check(/×3/.test(fan), `the matrix step does not show its 3 cells: ${fan}`);
  check(await admin.inputValue('#param-who') === 'world', 'the default of who is not filled in');
  check(await admin.inputValue('#param-count') === '2', 'the default of count is not filled in');
  check(await admin.getAttribute('#param-count', 'type') === 'number', 'count is not a number input');
  await admin.fill('#param-who', 'browser & <co>');
  await admin.fill('#param-count', '5');
  await admin.click('#trigger-form button[type=submit]');
  await admin.waitForURL(/#\/runs\/\d+$/);
  state.run = runId();
  await admin.waitForFunction(() => /browser & <co>/.test(document.querySelector('#params')?.textContent || ''));
  const params = JSON.parse(await admin.textContent('#params'));
  check(params.who === 'browser & <co>' && params.count === 5, `params: ${JSON.stringify(params)}`);
  check(/manual by token/.test(await admin.textContent('#reason')), 'no trigger reason');
});

await test('step-logs', async () => {
  await admin.click('tr[data-task="greet"] button.attempt');
  await admin.waitForFunction(() => /hello, browser & <co>/.test(document.querySelector('#logs')?.textContent || ''));
});

await test('approve-gate', async () => {
  await admin.waitForSelector('[data-approve="gate"]', {timeout: 30000});
  await admin.waitForSelector('svg.graph g.st-awaiting_approval[data-step="gate"]');
  await admin.click('[data-approve="gate"]');
  await runState('success');
  await admin.waitForSelector('tr[data-task="report"] button.attempt');
  await admin.click('tr[data-task="report"] button.attempt');
  await admin.waitForFunction(() => /report for browser/.test(document.querySelector('#logs')?.textContent || ''));
  await admin.waitForSelector('#gantt rect.bar.st-success');
  await admin.waitForTimeout(4500); // let the toast fade for the README's picture
  await admin.screenshot({path: `${OUT}/run-page.png`, fullPage: true});
  const run = await api('GET', `/api/v1/runs/${state.run}`);
  check(run.state === 'success', `run ${state.run} is ${run.state}`);
  check(run.tasks.find((t) => t.step === 'gate').decision === 'approved', 'the gate was not approved');
});

await test('logs-follow-live', async () => {
  const {run_id: id} = await api('POST', '/api/v1/dags/ticker/runs');
  await admin.goto(`${BASE}/#/runs/${id}`);
  await admin.click('tr[data-task="count"] button.attempt.st-running', {timeout: 30000});
  await admin.waitForFunction(() => /following live/.test(document.querySelector('#logs-status')?.textContent || ''));
  await admin.waitForFunction(() => /tick 4/.test(document.querySelector('#logs')?.textContent || ''), null, {timeout: 30000});
  await runState('success');
  const text = await admin.textContent('#logs');
  check((text.match(/tick \d/g) || []).join(',') === 'tick 1,tick 2,tick 3,tick 4', `logs: ${text}`);
});

await test('retry-from-step', async () => {
  await admin.goto(BASE + '/#/dags/demo');
  await admin.waitForSelector('#trigger-form');
  await admin.check('#param-fail_report');
  await admin.click('#trigger-form button[type=submit]');
  await admin.waitForURL(/#\/runs\/\d+$/);
  const id = runId();
  state.failedRun = id;
  await admin.click('[data-approve="gate"]', {timeout: 30000});
  await runState('failed');
  writeFileSync(`${DAGS}/pass-${id}`, '');
  await admin.selectOption('#retry-from-step', 'report');
  await admin.click('#retry-from');
  await runState('success');
  rmSync(`${DAGS}/pass-${id}`);
  const run = await api('GET', `/api/v1/runs/${id}`);
  const report = run.tasks.find((t) => t.step === 'report');
  check(run.state === 'success' && run.retry_count === 1, `run ${id}: ${run.state}, retried ${run.retry_count}`);
  check(report.attempts.length === 2 && report.attempts[0].exit_code === 4, 'report did not fail then pass');
});

await test('cancel-and-retry-failed', async () => {
  const {run_id: id} = await api('POST', '/api/v1/dags/demo/runs', {params: {who: 'canceled'}});
  await admin.goto(`${BASE}/#/runs/${id}`);
  await admin.waitForSelector('[data-approve="gate"]', {timeout: 30000});
  admin.once('dialog', (d) => d.accept());
  await admin.click('#cancel');
  await runState('canceled');
  await admin.waitForSelector('svg.graph g.st-canceled[data-step="gate"]');
  await admin.click('#retry-failed');
  await admin.waitForSelector('[data-approve="gate"]', {timeout: 30000});
  await admin.click('[data-reject="gate"]');
  await runState('failed');
  const run = await api('GET', `/api/v1/runs/${id}`);
  check(run.retry_count === 1 && run.tasks.find((t) => t.step === 'gate').decision === 'rejected',
        `run ${id}: retried ${run.retry_count}, gate ${run.tasks.find((t) => t.step === 'gate').decision}`);
});

// Updates in place (tests/e2e/dags/chatty.yaml): a run that talks for
// about 30 s beside an approval gate, after 30 quick cells.
const startChatty = async () => {
  if (state.chatty) return state.chatty;
  state.chatty = (await api('POST', '/api/v1/dags/chatty/runs')).run_id;
  return state.chatty;
};

await test('live-log-follows-the-end', async () => {
  const id = await startChatty();
  await admin.goto(`${BASE}/#/runs/${id}`);
  await admin.click('tr[data-task="talk"] button.attempt.st-running', {timeout: 30000});
  await admin.waitForFunction(() => /following live/.test(document.querySelector('#logs-status')?.textContent || ''));
  await admin.waitForFunction(() => /line 150 of the first burst/.test(document.querySelector('#logs')?.textContent || ''));
  const atEnd = () => admin.$eval('#logs', (p) => ({gap: p.scrollHeight - p.scrollTop - p.clientHeight, tall: p.scrollHeight > p.clientHeight + 100}));
  let e = await atEnd();
  check(e.tall, 'the log is not taller than its box; the test proves nothing');
  check(e.gap < 30, `the log followed live but shows ${e.gap} px above its end`);
  await admin.waitForFunction(() => /later line 3/.test(document.querySelector('#logs')?.textContent || ''), null, {timeout: 30000});
  await admin.waitForTimeout(300);
  e = await atEnd();
  check(e.gap < 30, `new lines arrived but the log stays ${e.gap} px above its end`);
});

await test('live-durations-tick', async () => {
  const id = await startChatty();
  if (!/#\/runs\//.test(admin.url())) await admin.goto(`${BASE}/#/runs/${id}`);
  await admin.waitForSelector('tr[data-task="talk"] .badge.st-running', {timeout: 30000});
  const seen = new Set();
  for (let i = 0; i < 15; i++) {
    seen.add(await admin.textContent('tr[data-task="talk"] td:nth-child(4)'));
    await admin.waitForTimeout(250);
  }
  check(seen.size >= 3, `the running task's duration did not tick: ${[...seen].join(', ')}`);
});

await test('live-timeline-keeps-scroll', async () => {
  const id = await startChatty();
  if (!/#\/runs\//.test(admin.url())) await admin.goto(`${BASE}/#/runs/${id}`);
  await admin.waitForSelector('#gantt');
  const box = () => admin.$eval('#gantt', (g) => ({top: g.parentElement.scrollTop, room: g.parentElement.scrollHeight - g.parentElement.clientHeight}));
  check((await box()).room > 60, 'the timeline is not taller than its box; the test proves nothing');
  check(!(await admin.$('tr[data-task="talk"] .badge.st-success')), 'talk finished too early for this test');
  await admin.$eval('#gantt', (g) => { g.parentElement.scrollTop = 60; });
  await admin.waitForTimeout(3500); // two refreshes of a running run
  const b = await box();
  check(b.top === 60, `the timeline's scroll went from 60 to ${b.top} px`);
});

await test('live-gate-keeps-comment', async () => {
  const id = await startChatty();
  if (!/#\/runs\//.test(admin.url())) await admin.goto(`${BASE}/#/runs/${id}`);
  await admin.waitForSelector('[data-approve="hold"]', {timeout: 30000});
  check(!(await admin.$('tr[data-task="talk"] .badge.st-success')), 'talk finished too early for this test');
  // the server rendered the gate's message when the gate was reached
  const message = await admin.textContent('[data-gate="hold"] .gate-message');
  check(message === `Keep what talk said in run ${id}?`, `the gate's message: ${message}`);
  const text = 'typed while talk runs';
  await admin.fill('#comment-hold', text);
  // talk finishing changes the run, and the page redraws what changed
  await admin.waitForSelector('tr[data-task="talk"] .badge.st-success', {timeout: 30000});
  await admin.waitForTimeout(2000);
  const kept = await admin.inputValue('#comment-hold');
  check(kept === text, `the comment became "${kept}" after a refresh`);
  await admin.click('[data-approve="hold"]');
  await runState('success');
  const run = await api('GET', `/api/v1/runs/${id}`);
  const hold = run.tasks.find((t) => t.step === 'hold');
  check(hold.decision === 'approved' && hold.decision_comment === text, `the gate: ${JSON.stringify(hold)}`);
});

await test('broken-dag', async () => {
  writeFileSync(`${DAGS}/broken.yaml`, 'dag: broken\nsteps:\n  - id: a\n    needs: [nope]\n    run: "true"\n');
  await admin.goto(`${BASE}/#/dags`);
  await admin.waitForSelector('#dags tr[data-dag="broken"] .badge.st-broken');
  const row = await admin.textContent('#dags tr[data-dag="broken"]');
  check(/broken\.yaml:4:\d+: step "a" needs "nope"/.test(row), `the load error is not shown: ${row}`);
  rmSync(`${DAGS}/broken.yaml`);
});

// A DAG whose file is gone is shown as missing: no Trigger form, no pause,
// a word on why, and a Delete button for an admin.
await test('missing-dag-page', async () => {
  writeFileSync(`${DAGS}/gone.yaml`, 'dag: gone\nsteps:\n  - id: a\n    run: "true"\n');
  await admin.goto(`${BASE}/#/dags`);
  await admin.waitForSelector('#dags tr[data-dag="gone"] .badge.st-active', {timeout: 30000});
  rmSync(`${DAGS}/gone.yaml`);
  await admin.waitForSelector('#dags tr[data-dag="gone"] .badge.st-missing', {timeout: 30000});
  await admin.click('#dags tr[data-dag="gone"] a.dag-link');
  await admin.waitForSelector('#file-missing');
  check(!(await admin.$('#trigger-form')), 'a DAG whose file is gone offers the Trigger form');
  check(!!(await admin.$('#dag-delete')), 'no Delete button for an admin on a DAG whose file is gone');
  const d = await api('GET', '/api/v1/dags/gone');
  check(d.file_missing === true, `the API: ${JSON.stringify(d)}`);
});

// A DAG that never loaded has nothing to run: no Trigger form, no claim of
// a version, and the page says why no source is shown.
await test('broken-dag-page', async () => {
  writeFileSync(`${DAGS}/broken2.yaml`, 'dag: broken2\nsteps:\n  - id: a\n    needs: [nope]\n    run: "true"\n');
  try {
    await admin.goto(`${BASE}/#/dags`);
    await admin.waitForSelector('#dags tr[data-dag="broken2"] .badge.st-broken');
    await admin.click('#dags tr[data-dag="broken2"] a.dag-link');
    await admin.waitForSelector('.page-head .badge.st-broken');
    await admin.waitForSelector('#source-box');
    check(!(await admin.$('#trigger-form')), 'a DAG that never loaded offers the Trigger form');
    check(/never loaded/.test(await admin.textContent('#not-runnable')), 'no word on why it cannot be triggered');
    await admin.waitForSelector('#no-versions');
    const main = await admin.textContent('main');
    check(!/Only one version so far/.test(main), 'it claims one version of a DAG with none');
    check(!/No source\./.test(main) && /broken2\.yaml/.test(await admin.textContent('#no-source')),
          `the source section: ${await admin.textContent('#source-box')}`);
  } finally {
    rmSync(`${DAGS}/broken2.yaml`);
  }
});

await test('waiting-for-approval-in-dags-list', async () => {
  const {run_id: id} = await api('POST', '/api/v1/dags/demo/runs', {params: {who: 'waiting'}});
  try {
    await admin.goto(`${BASE}/#/dags`);
    const sel = `#dags tr[data-dag="demo"] .sq.st-waiting_approval[href="#/runs/${id}"]`;
    await admin.waitForSelector(sel, {timeout: 30000});
    check(/waiting for approval/.test(await admin.getAttribute(sel, 'aria-label')), 'the square does not say it waits for approval');
    const running = await api('POST', '/api/v1/dags/ticker/runs');
    await admin.waitForSelector(`#dags tr[data-dag="ticker"] .sq.st-running[href="#/runs/${running.run_id}"]`);
  } finally {
    await api('POST', `/api/v1/runs/${id}/cancel`);
  }
});

await test('focus-kept-on-refresh', async () => {
  await admin.goto(BASE + '/#/dags');
  await admin.waitForSelector('#dags tr[data-dag="ticker"] .squares .sq');
  const before = await admin.$$eval('#dags tr[data-dag="ticker"] .squares .sq', (l) => l.length);
  await admin.focus('#pause-ticker');
  await api('POST', '/api/v1/dags/ticker/runs');
  await admin.waitForFunction((n) => document.querySelectorAll('#dags tr[data-dag="ticker"] .squares .sq').length > n, before);
  check(await admin.evaluate(() => document.activeElement?.id) === 'pause-ticker', 'the refresh lost the keyboard focus');
});

await test('pause-dag', async () => {
  await admin.goto(BASE + '/#/dags');
  await admin.click('#dags tr[data-dag="quick"] button[data-action="pause"]');
  await admin.waitForSelector('#dags tr[data-dag="quick"] .badge.st-paused');
  check((await api('GET', '/api/v1/dags/quick')).paused === true, 'quick is not paused on the server');
  await admin.click('#dags tr[data-dag="quick"] button[data-action="unpause"]');
  await admin.waitForSelector('#dags tr[data-dag="quick"] .badge.st-active');
  check((await api('GET', '/api/v1/dags/quick')).paused === false, 'quick is still paused');
});

await test('open-10000-runs', async () => {
  await admin.goto(BASE + '/#/dags');
  await admin.waitForSelector('#dags tr[data-dag="quick"]');
  let t0 = Date.now();
  await admin.evaluate(() => { location.hash = '#/dags/quick'; });
  await admin.waitForFunction(() => document.querySelectorAll('#grid thead th').length === 26 &&
                                    document.querySelectorAll('#runs tbody tr').length === 50);
  const dagMs = Date.now() - t0;
  await admin.click('#runs-older');
  await admin.waitForFunction(() => document.querySelectorAll('#runs tbody tr').length === 100);
  t0 = Date.now();
  await admin.evaluate((id) => { location.hash = `#/runs/${id}`; }, BIG_RUN);
  await admin.waitForFunction(() => document.querySelectorAll('#tasks tbody tr').length === 1000 &&
                                    document.querySelectorAll('#gantt rect.bar').length === 1000);
  const runMs = Date.now() - t0;
  console.log(`  DAG with 10,000 runs opened in ${dagMs} ms; run with 1,000 tasks in ${runMs} ms (limit ${OPEN_LIMIT} ms)`);
  check(dagMs < OPEN_LIMIT, `the DAG page took ${dagMs} ms`);
  check(runMs < OPEN_LIMIT, `the run page took ${runMs} ms`);
});

await test('log-capped-banner', async () => {
  // seed.sql capped the log of cell 0 of the run of 1,000 tasks
  await admin.click('tr[data-task="only[0]"] button.attempt');
  await admin.waitForFunction(() => /Log capped by the worker: 1000 of 5000 lines/.test(
    document.querySelector('#logs-capped')?.textContent || ''));
  await admin.click('tr[data-task="only[1]"] button.attempt');
  await admin.waitForFunction(() => document.querySelector('#logs-status')?.textContent !== 'Loading…');
  check(!(await admin.textContent('#logs-capped')), 'an uncapped log shows the cap banner');
});

// Older pages stay when new runs arrive: none of the runs shown goes away.
await test('runs-kept-after-paging', async () => {
  await admin.goto(`${BASE}/#/dags/quick`);
  await admin.waitForFunction(() => document.querySelectorAll('#runs tbody tr').length === 50 &&
                                    document.querySelectorAll('#grid thead th').length === 26);
  await admin.click('#runs-older');
  await admin.waitForFunction(() => document.querySelectorAll('#runs tbody tr').length === 100);
  await admin.click('#grid-older');
  await admin.waitForFunction(() => document.querySelectorAll('#grid thead th').length === 51);
  const ids = () => admin.$$eval('#runs tbody tr td:first-child a', (l) => l.map((a) => a.textContent));
  const cols = () => admin.$$eval('#grid thead th a', (l) => l.map((a) => a.getAttribute('href')));
  const before = await ids(), beforeCols = await cols();
  const {run_id: id} = await api('POST', '/api/v1/dags/quick/runs');
  await admin.waitForSelector(`#runs a[href="#/runs/${id}"]`);
  await admin.waitForSelector(`#grid a[href="#/runs/${id}"]`);
  const after = await ids(), afterCols = await cols();
  const lost = before.filter((x) => !after.includes(x));
  check(!lost.length && after.length === 101, `runs table: ${after.length} rows, lost ${lost.join(', ')}`);
  const lostCols = beforeCols.filter((x) => !afterCols.includes(x));
  check(!lostCols.length && afterCols.length === 51, `grid: ${afterCols.length} runs, lost ${lostCols.join(', ')}`);
});

await test('workers-events-metrics-empty', async () => {
  await admin.goto(BASE + '/#/workers');
  await admin.waitForFunction(() => /e2e-worker/.test(document.querySelector('#workers')?.textContent || '') &&
                                    /online/.test(document.querySelector('#workers').textContent));
  // no event yet: the page says how to send one
  await admin.goto(BASE + '/#/events');
  await admin.waitForFunction(() => /No events yet/.test(document.querySelector('main').textContent));
  check(/weir event NAME --payload JSON/.test(await admin.textContent('main')), 'the empty events page does not say what to do');
  check(!(await admin.$('#events')), 'an events table without events');
  await admin.goto(BASE + '/#/metrics/model.accuracy');
  await admin.waitForFunction(() => /No samples of model\.accuracy/.test(document.querySelector('main').textContent));
  check(/weir metric model\.accuracy VALUE/.test(await admin.textContent('main')), 'the empty metric page does not say what to do');
});

// The DAG feed (tests/e2e/dags/feed.yaml) adds up rows of data.arrived
// events to 10,000 and fires when model.accuracy drops below 0.85.
await test('triggers-events-metrics', async () => {
  await api('POST', '/api/v1/events', {events: [
    {name: 'data.arrived', id: 'e2e-1', payload: {rows: 4200}},
    {name: 'data.arrived', id: 'e2e-2', payload: {rows: 6000}}]});
  await api('POST', '/api/v1/events', {name: 'data.arrived', id: 'e2e-3', payload: {rows: 4200}});
  const m = await api('POST', '/api/v1/metrics', {metrics: [
    {name: 'model.accuracy', value: 0.91}, {name: 'model.accuracy', value: 0.83}]});
  check(m.accepted === 2 && m.runs === 1, `the metric samples: ${JSON.stringify(m)}`);
  // the endpoints' own shapes, a few fields beyond the first contract
  const {events} = await api('GET', '/api/v1/events?limit=10');
  const fed = events.find((e) => e.ext_id === 'e2e-2');
  check(fed && fed.runs.length === 1 && events.find((e) => e.ext_id === 'e2e-3').runs.length === 0,
        `events: ${JSON.stringify(events)}`);
  const {triggers} = await api('GET', '/api/v1/dags/feed/triggers');
  const rows = triggers.find((t) => t.id === 'rows'), acc = triggers.find((t) => t.id === 'accuracy');
  check(rows.target === 'data.arrived' && rows.accumulated === 4200 && rows.threshold === 10000 &&
        rows.pending_events === 1 && rows.state === 'armed', `rows: ${JSON.stringify(rows)}`);
  check(acc.target === 'model.accuracy' && acc.state === 'waiting_rearm', `accuracy: ${JSON.stringify(acc)}`);
  const metric = await api('GET', '/api/v1/metrics/model.accuracy');
  check(metric.triggers.length === 1 && metric.triggers[0].below === 0.85 && metric.triggers[0].for === 1,
        `metric triggers: ${JSON.stringify(metric.triggers)}`);

  await admin.goto(`${BASE}/#/dags/feed`);
  await admin.waitForSelector('#triggers tr[data-trigger="rows"] meter');
  const r = await admin.textContent('#triggers tr[data-trigger="rows"]');
  check(/data\.arrived/.test(r) && /4200 \/ 10000/.test(r) && /1 pending event\b/.test(r) && /armed/.test(r), `rows: ${r}`);
  check(await admin.getAttribute('#triggers tr[data-trigger="rows"] meter', 'value') === '4200', 'the meter is not at 4200');
  await admin.waitForSelector('#triggers tr[data-trigger="accuracy"] .badge.st-waiting_rearm');
  check(/re-arms after a sample/.test(await admin.textContent('#triggers tr[data-trigger="accuracy"]')), 'no word on re-arming');
  await admin.screenshot({path: `${OUT}/dag-triggers.png`, fullPage: true});
  await admin.click('#triggers tr[data-trigger="accuracy"] a[href="#/metrics/model.accuracy"]');
  await admin.waitForSelector('#metric-chart polyline.series');
  check(await admin.$$eval('#metric-chart circle.dot', (l) => l.length) === 2, 'the chart does not have the 2 samples');
  check(await admin.$$eval('#metric-chart line.threshold', (l) => l.length) === 1, 'no threshold line');
  check(/feed\/accuracy below 0\.85/.test(await admin.textContent('#metric-chart')), 'the threshold line has no label');
  await admin.goto(`${BASE}/#/events`);
  await admin.waitForSelector(`#events tr[data-event="${fed.id}"] a[href="#/runs/${fed.runs[0]}"]`);
  check(/id e2e-2/.test(await admin.textContent(`#events tr[data-event="${fed.id}"]`)), 'the client id of the event is not shown');
  await admin.click(`#events a[href="#/runs/${fed.runs[0]}"]`);
  await admin.waitForFunction(() => /10,?200 rows from 2 events/.test(document.querySelector('#reason')?.textContent || ''));
});

// The DAG model (tests/e2e/dags/model.yaml) registers e2e-model from its
// step register; its environments are dev (the default), staging and prod.
await test('environment-and-lineage', async () => {
  await admin.goto(`${BASE}/#/dags/model`);
  await admin.waitForSelector('#trigger-env');
  check(await admin.inputValue('#trigger-env') === 'dev', 'the form does not default to the DAG\'s environment');
  const envs = await admin.$$eval('#trigger-env option', (l) => l.map((o) => o.value).join(','));
  check(envs === 'dev,staging,prod', `environments offered: ${envs}`);
  await admin.selectOption('#trigger-env', 'staging');
  await admin.click('#trigger-form button[type=submit]');
  await admin.waitForURL(/#\/runs\/\d+$/);
  state.modelRun = runId();
  await runState('success');
  check(await admin.textContent('#environment') === 'staging', 'the run page does not show the environment');
  check((await api('GET', `/api/v1/runs/${state.modelRun}`)).environment === 'staging', 'the run is not in staging');
  await admin.waitForSelector('#lineage tr[data-lineage="register"] a[href="#/artifacts/e2e-model"]');
  const reg = await admin.textContent('#lineage tr[data-lineage="register"]');
  check(reg.includes(`v${state.modelRun}`) && /accuracy\s*0\.93/.test(reg), `lineage of register: ${reg}`);
  check((await admin.textContent('#lineage tr[data-lineage="prepare"]')).includes(`d-${state.modelRun}`), 'no data version');
});

await test('artifacts-promote', async () => {
  const v = `v${state.modelRun}`;
  await admin.click('#lineage tr[data-lineage="register"] a[href="#/artifacts/e2e-model"]');
  await admin.waitForSelector(`#versions tr[data-version="${v}"] .badge.stage-none`);
  const row = await admin.textContent(`#versions tr[data-version="${v}"]`);
  check(/accuracy\s*0\.93/.test(row) && row.includes(`d-${state.modelRun}`) && /register/.test(row), `version row: ${row}`);
  check(await admin.$(`#versions tr[data-version="${v}"] a[href="#/runs/${state.modelRun}"]`), 'no link to the producing run');
  await admin.selectOption(`#promote-to-${v}`, 'staging');
  await admin.click(`[data-promote="${v}"]`);
  await admin.waitForSelector(`#versions tr[data-version="${v}"] .badge.stage-staging`);
  // prod asks a person first: the model DAG's prod environment approves register
  await admin.selectOption(`#promote-to-${v}`, 'prod');
  await admin.click(`[data-promote="${v}"]`);
  await admin.waitForSelector(`[data-approve-version="${v}"]`);
  check(/awaiting approval\s*to prod/.test(await admin.textContent(`#versions tr[data-version="${v}"]`)), 'the pending promotion is not shown');
  check(await admin.$(`[data-reject-version="${v}"]`), 'no Reject button');
  await admin.screenshot({path: `${OUT}/artifact-pending.png`, fullPage: true});
  await admin.click(`[data-approve-version="${v}"]`);
  await admin.waitForSelector(`#versions tr[data-version="${v}"] .badge.stage-prod`);
  check((await admin.textContent('#prod')).includes(v), 'the page does not say which version is in prod');
  const a = await api('GET', '/api/v1/artifacts/e2e-model');
  check(a.prod === v && a.versions[0].promotions.some((p) => p.to === 'prod' && p.outcome === 'done'), `registry: ${JSON.stringify(a)}`);
  await admin.goto(`${BASE}/#/artifacts`);
  await admin.waitForSelector('#artifacts tr[data-artifact="e2e-model"] code.prod');
  check(await admin.textContent('#artifacts tr[data-artifact="e2e-model"] code.prod') === v, 'the list does not show the prod version');
});

// The model DAG's params differ by environment: the form shows those in
// effect for the one picked, checks each value against its declared type,
// and sends only what the user changed.
await test('trigger-env-params', async () => {
  await admin.goto(`${BASE}/#/dags/model`);
  await admin.waitForSelector('#trigger-env');
  const values = async () => ({
    ds: await admin.inputValue('#param-dataset_version'),
    acc: await admin.inputValue('#param-accuracy_threshold'),
  });
  let v = await values();
  check(v.ds === 'sample' && v.acc === '0.85', `dev's params are not shown: ${JSON.stringify(v)}`);
  await admin.selectOption('#trigger-env', 'prod');
  v = await values();
  check(v.ds === 'latest' && v.acc === '0.95', `prod's params are not shown: ${JSON.stringify(v)}`);
  await admin.selectOption('#trigger-env', 'dev');
  // a value of the wrong type is refused in the form, before sending
  let posted = 0;
  const count = (r) => { if (r.method() === 'POST') posted++; };
  admin.on('request', count);
  await admin.fill('#param-regions', '"not-a-list"');
  await admin.click('#trigger-form button[type=submit]');
  await admin.waitForSelector('#trigger-error .note-error');
  const msg = await admin.textContent('#trigger-error');
  check(/regions/.test(msg) && /list/.test(msg), `the message does not name the param and its type: ${msg}`);
  await admin.fill('#param-regions', '["eu", "us"]');
  admin.off('request', count);
  check(posted === 0, `${posted} POST sent with a wrong param`);
  // the environment's values and the user's change only
  await admin.selectOption('#trigger-env', 'prod');
  await admin.selectOption('#trigger-env', 'dev');
  check((await values()).acc === '0.85', 'changing the environment did not refill the form');
  await admin.fill('#param-regions', '["eu", "us"]');
  const req = admin.waitForRequest((r) => r.method() === 'POST' && /\/api\/v1\/dags\/model\/runs$/.test(r.url()));
  await admin.click('#trigger-form button[type=submit]');
  const body = (await req).postDataJSON();
  check(body.environment === 'dev' && JSON.stringify(body.params) === '{"regions":["eu","us"]}',
        `sent ${JSON.stringify(body)}`);
  await admin.waitForURL(/#\/runs\/\d+$/);
  const run = await api('GET', `/api/v1/runs/${runId()}`);
  check(run.params.dataset_version === 'sample' && run.params.accuracy_threshold === 0.85 &&
        JSON.stringify(run.params.regions) === '["eu","us"]', `the run's params: ${JSON.stringify(run.params)}`);
});

await test('versions-diff', async () => {
  const file = `${DAGS}/quick.yaml`;
  const {readFileSync} = await import('node:fs');
  writeFileSync(file, readFileSync(file, 'utf8').replace('description: One quick step', 'description: One quicker step'));
  const deadline = Date.now() + 20000;
  while ((await api('GET', '/api/v1/dags/quick/versions')).versions.length < 2) {
    check(Date.now() < deadline, 'the edited DAG file was not loaded within 20 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  await admin.goto(`${BASE}/#/dags/quick`);
  await admin.click('#diff-show');
  await admin.waitForSelector('#diff .add');
  check(/One quick step/.test(await admin.textContent('#diff .del')) &&
        /One quicker step/.test(await admin.textContent('#diff .add')), 'the diff does not show the edited line');
});

// Only a 401 forgets the token; while the server cannot be reached the
// page keeps what it shows, says since when, and disables its buttons.
await test('unreachable-server-keeps-page-and-token', async () => {
  await admin.goto(`${BASE}/#/dags/demo`);
  await admin.waitForSelector('#grid');
  await admin.waitForSelector('#trigger-form button[type=submit]:not([disabled])');
  const cut = (route) => route.abort('internetdisconnected');
  await admin.route('**/api/**', cut);
  try {
    await admin.waitForSelector('#offline:not([hidden])', {timeout: 15000});
    const banner = await admin.textContent('#offline');
    check(/cannot be reached/.test(banner) && /last update at \S+/.test(banner), `banner: ${banner}`);
    check(await admin.$('#grid') && await admin.$('#trigger-form'), 'the page lost its content');
    check(await admin.$eval('#trigger-form button[type=submit]', (b) => b.disabled), 'Trigger stays enabled');
    check(await admin.$eval('#pause-demo', (b) => b.disabled), 'Pause stays enabled');
    // a reload while unreachable keeps the token
    await admin.reload();
    await admin.waitForFunction(() => /Cannot reach the server/.test(document.querySelector('main')?.textContent || ''));
    check(await admin.evaluate(() => sessionStorage.getItem('weir.token')) !== null, 'a network error deleted the token');
  } finally {
    await admin.unroute('**/api/**', cut);
  }
  await admin.waitForSelector('#trigger-form button[type=submit]:not([disabled])', {timeout: 15000});
  check(await admin.$eval('#offline', (b) => b.hidden), 'the banner stays once the server answers');
});

await test('missing-run-and-dag-stop-polling', async () => {
  for (const [hash, path, word] of [['#/runs/99999999', '/api/v1/runs/99999999', /No run 99999999/],
                                    ['#/dags/no-such-dag', '/api/v1/dags/no-such-dag', /No DAG "no-such-dag"/]]) {
    let asked = 0;
    const count = (r) => { if (new URL(r.url()).pathname === path) asked++; };
    admin.on('request', count);
    await admin.goto(`${BASE}/${hash}`);
    await admin.waitForFunction((w) => new RegExp(w).test(document.querySelector('main').textContent), word.source);
    const first = asked;
    await admin.waitForTimeout(4000);
    admin.off('request', count);
    check(asked === first, `${hash}: asked ${asked - first} more times after saying it does not exist`);
  }
});

await test('replies-304-are-read', async () => {
  const failed = [], unchanged = [];
  const onFail = (r) => { if (/\/api\//.test(r.url())) failed.push(`${r.url()} ${r.failure()?.errorText}`); };
  const onResp = (r) => { if (r.status() === 304) unchanged.push(r.url()); };
  admin.on('requestfailed', onFail);
  admin.on('response', onResp);
  const cdp = await admin.context().newCDPSession(admin);
  try {
    await admin.goto(`${BASE}/#/dags`);
    await admin.waitForSelector('#dags');
    for (let i = 0; i < 8; i++) {
      await admin.waitForTimeout(1000);
      await cdp.send('HeapProfiler.collectGarbage'); // an unread reply is dropped then
    }
  } finally {
    admin.off('requestfailed', onFail);
    admin.off('response', onResp);
    await cdp.detach();
  }
  check(unchanged.length >= 2, `only ${unchanged.length} replies 304 in 8 s of polling`);
  check(!failed.length, `replies not read: ${failed.slice(0, 3).join('; ')}`);
});

// No page is wider than the window, on a desktop and on a phone.
await test('no-page-wider-than-window', async () => {
  const pages = [
    ['#/dags', '#dags'], ['#/dags/demo', '#grid'], ['#/dags/feed', '#triggers'], ['#/dags/chatty', '#grid'],
    [`#/runs/${state.chatty}`, 'tr[data-task="talk"] code.outputs'], [`#/runs/${state.run}`, '#tasks'],
    ['#/workers', '#workers'], ['#/events', '#events'], ['#/metrics', '#metric-name'],
    ['#/metrics/model.accuracy', '#metric-chart'], ['#/artifacts', '#artifacts'], ['#/artifacts/e2e-model', '#versions']];
  const wide = [];
  try {
    for (const width of [1440, 390]) {
      await admin.setViewportSize({width, height: 900});
      for (const [hash, sel] of pages) {
        await admin.goto(`${BASE}/${hash}`);
        await admin.waitForSelector(sel);
        await admin.waitForTimeout(200);
        const w = await admin.evaluate(() => [document.documentElement.scrollWidth, innerWidth]);
        if (w[0] > w[1]) wide.push(`${hash} is ${w[0]} px wide at ${w[1]} px`);
        if (hash === `#/runs/${state.chatty}`) await admin.screenshot({path: `${OUT}/run-page-${width}px.png`});
      }
    }
    const context = await browser.newContext({viewport: {width: 390, height: 800}});
    const signin = await context.newPage();
    await signin.goto(`${BASE}/`);
    await signin.waitForSelector('#token');
    const w = await signin.evaluate(() => [document.documentElement.scrollWidth, innerWidth]);
    if (w[0] > w[1]) wide.push(`the sign-in page is ${w[0]} px wide at ${w[1]} px`);
    await context.close();
  } finally {
    await admin.setViewportSize({width: 1280, height: 900});
  }
  check(!wide.length, wide.join('; '));
});

const reader = await newPage();
current = reader;
await test('read-only-sees-no-buttons', async () => {
  await signIn(reader, READ);
  await reader.waitForSelector('#dags tr[data-dag="demo"]');
  check(/read-only/.test(await reader.textContent('#who')), 'the header does not say read-only');
  const gate = await api('POST', '/api/v1/dags/demo/runs', {params: {who: 'reader'}});
  const actions = 'main button:not(.attempt):not(#grid-older):not(#runs-older):not(#diff-show)';
  check(!(await reader.$(actions)), 'the DAGs page shows an action button');
  await reader.goto(`${BASE}/#/dags/demo`);
  await reader.waitForSelector('#grid');
  check(!(await reader.$('#trigger-form')), 'a read token sees the Trigger form');
  check(!(await reader.$(actions)), 'the DAG page shows an action button');
  await reader.goto(`${BASE}/#/artifacts/e2e-model`);
  await reader.waitForSelector('#versions');
  check(!(await reader.$(actions)) && !(await reader.$('#versions select')), 'a read token sees the promotion controls');
  check(/An admin token can promote/.test(await reader.textContent('main')), 'the artifact page does not say who can promote');
  await reader.goto(`${BASE}/#/runs/${state.failedRun}`);
  await reader.waitForSelector('#tasks');
  check(!(await reader.$(actions)), 'a finished run shows an action button');
  await reader.goto(`${BASE}/#/runs/${gate.run_id}`);
  await reader.waitForFunction(() => /An admin token can approve/.test(document.querySelector('#gates')?.textContent || ''), null, {timeout: 30000});
  check(!(await reader.$(actions)), 'a waiting run shows an action button');
  await api('POST', `/api/v1/runs/${gate.run_id}/cancel`);
});

await test('sign-out', async () => {
  await reader.click('#signout');
  await reader.waitForSelector('#token');
  check(await reader.evaluate(() => sessionStorage.getItem('weir.token')) === null, 'the token outlived sign-out');
});

await browser.close();
const failed = results.filter((r) => !r.ok);
console.log(`${results.length - failed.length} of ${results.length} browser tests passed`);
process.exit(failed.length ? 1 : 0);
