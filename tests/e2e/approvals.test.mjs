// SPDX-License-Identifier: Apache-2.0
// The approval policy on the dashboard in headless Chromium, against the
// private stack run_page.sh approvals started: a gate shows its approvers; the
// Approve button of a refused decision shows why (not an approver, or the
// run's own starter); another admin approves from the dashboard. The DAGs
// are submitted through the API. Each test saves a screenshot
// approvals-NAME.png under WEIR_E2E_OUT; a JavaScript error in the page
// fails the test it happened in. Every wait is bounded.

import * as lib from './lib.mjs';

const {check} = lib;
const env = (k) => lib.env(k, 'run_page.sh approvals');
const BASE = env('WEIR_E2E_URL');
const ADMIN = env('WEIR_E2E_ADMIN'); // the "first admin" token
const OUT = env('WEIR_E2E_OUT');
const WAIT = 15000;       // ms: longest wait for anything on a page
const TEST_LIMIT = 30000; // ms: longest test

const api = (method, path, body, token = ADMIN, ctype = 'application/json') =>
  lib.call(BASE, token, method, path, body, ctype);

const NAMED = `dag: ape-named
steps:
  - id: gate
    approval: {message: "Ship it?", approvers: [release-managers, carol]}
`;
const OPEN = `dag: ape-open
steps:
  - id: gate
    approval: {message: "Go?"}
`;

const browser = await lib.launch('run_page.sh approvals');

async function newPage(token) {
  const page = await lib.freshPage(browser, WAIT);
  page.on('console', (m) => {
    // a refused approval is a 403 the test judges; anything else counts
    if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) page.problems.push(`console: ${m.text()}`);
  });
  await lib.signIn(page, BASE, token, '#signout');
  return page;
}

let current = null;
const results = [];

async function test(name, fn) {
  const t0 = Date.now();
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
    await current.screenshot({path: `${OUT}/approvals-${name}.png`, fullPage: true, timeout: 10000});
  } catch (e) {
    console.log(`  (no screenshot of ${name}: ${e.message})`);
  }
  results.push({name, ok: !error});
  console.log(`${error ? 'FAIL' : 'ok  '} ${name} (${Date.now() - t0} ms)${error ? ': ' + error.message : ''}`);
}

// The toast's text once it shows text matching re.
async function toastMatching(page, re) {
  await page.waitForFunction((src) => new RegExp(src).test(document.getElementById('toast')?.textContent || ''),
    re.source);
  return page.textContent('#toast');
}

await api('POST', '/api/v1/dags', NAMED, ADMIN, 'application/yaml');
await api('POST', '/api/v1/dags', OPEN, ADMIN, 'application/yaml');
const second = (await api('POST', '/api/v1/tokens', {role: 'admin', name: 'carol'})).token;
const admin = await newPage(ADMIN);
current = admin;

await test('not-an-approver', async () => {
  const {run_id: id} = await api('POST', '/api/v1/dags/ape-named/runs');
  await admin.goto(`${BASE}/#/runs/${id}`);
  await admin.waitForSelector('[data-approve="gate"]');
  const shown = await admin.textContent('[data-gate="gate"] .gate-approvers');
  check(shown === 'Approvers: release-managers, carol', `the gate shows ${JSON.stringify(shown)}`);
  await admin.click('[data-approve="gate"]');
  const text = await toastMatching(admin, /approvers of step/);
  check(text.includes('approvers of step "gate" are [release-managers, carol]; you are first admin (no groups)'),
    `the toast says ${JSON.stringify(text)}`);
  const run = await api('GET', `/api/v1/runs/${id}`);
  check(run.tasks[0].state === 'awaiting_approval', `the gate is ${run.tasks[0].state}`);
});

await test('self-approval-then-another-admin', async () => {
  const {run_id: id} = await api('POST', '/api/v1/dags/ape-open/runs');
  await admin.goto(`${BASE}/#/runs/${id}`);
  await admin.waitForSelector('[data-approve="gate"]');
  check(!(await admin.$('[data-gate="gate"] .gate-approvers')), 'a gate without approvers lists some');
  await admin.click('[data-approve="gate"]');
  const text = await toastMatching(admin, /started this run/);
  check(text.includes('you (first admin) started this run; step "gate" does not allow self approval'),
    `the toast says ${JSON.stringify(text)}`);
  const other = await newPage(second);
  current = other;
  await other.goto(`${BASE}/#/runs/${id}`);
  await other.waitForSelector('[data-approve="gate"]');
  await other.click('[data-approve="gate"]');
  await other.waitForSelector('.page-head .badge.st-success');
  const run = await api('GET', `/api/v1/runs/${id}`);
  check(run.tasks[0].decided_by === 'carol', `decided by ${run.tasks[0].decided_by}`);
});

await browser.close();
const failed = results.filter((r) => !r.ok);
console.log(`${results.length - failed.length} of ${results.length} approval browser tests passed`);
process.exit(failed.length ? 1 : 0);
