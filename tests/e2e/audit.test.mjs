// SPDX-License-Identifier: Apache-2.0
// The audit log page in headless Chromium, against the private stack
// run_page.sh audit started: an admin sees the Audit link and the records of
// what was just done (filtered by action), a read token sees no link and
// is refused the page. Each test saves a screenshot audit-NAME.png under
// WEIR_E2E_OUT; a JavaScript error in the page fails the test.

import * as lib from './lib.mjs';

const {check} = lib;
const env = (k) => lib.env(k, 'run_page.sh audit');
const BASE = env('WEIR_E2E_URL');
const ADMIN = env('WEIR_E2E_ADMIN');
const READ = env('WEIR_E2E_READ');
const OUT = env('WEIR_E2E_OUT');
const WAIT = 15000; // ms: longest wait for anything on a page

const api = (method, path, body, token = ADMIN) => lib.request(BASE, token, method, path, body);

const t0 = Date.now();
const browser = await lib.launch('run_page.sh audit');
const newPage = () => lib.freshPage(browser, WAIT);
const signIn = (page, token) => lib.signIn(page, BASE, token, '#dags');

const results = [];
async function test(name, page, fn) {
  const t1 = Date.now();
  let error = null;
  try {
    await fn();
    check(!page.problems.length, page.problems.join('; '));
  } catch (e) {
    error = e;
  }
  try {
    await page.screenshot({path: `${OUT}/audit-${name}.png`, fullPage: true, timeout: 10000});
  } catch (e) {
    console.log(`  (no screenshot of ${name}: ${e.message})`);
  }
  results.push({name, ok: !error});
  console.log(`${error ? 'FAIL' : 'ok  '} audit-${name} (${Date.now() - t1} ms)${error ? ': ' + error.message : ''}`);
}

const admin = await newPage();
await test('admin', admin, async () => {
  const paused = await api('POST', '/api/v1/dags/quick/pause', {});
  check(paused.status === 200, `pause: ${paused.status} ${JSON.stringify(paused.body)}`);
  await api('POST', '/api/v1/dags/quick/unpause', {});
  await signIn(admin, ADMIN);
  check(await admin.isVisible('#nav-audit'), 'an admin does not see the Audit link');
  await admin.click('#nav-audit');
  await admin.waitForSelector('#audit tbody tr');
  await admin.fill('#audit-action', 'dag.pause');
  await admin.click('#audit-filters button[type=submit]');
  await admin.waitForFunction(() => {
    const rows = [...document.querySelectorAll('#audit tbody tr')];
    return rows.length === 1 && /dag\.pause/.test(rows[0].textContent);
  });
  const row = await admin.textContent('#audit tbody tr');
  check(/quick/.test(row) && /ok/.test(row) && /admin/.test(row), `the pause row: ${row}`);
});

// An admin grant that is not the token's first: the page follows the
// grants, not the token's first role.
const second = await newPage();
await test('admin-second-grant', second, async () => {
  const made = await api('POST', '/api/v1/tokens', {name: 'e2e-audit-second', grants: ['read', 'admin']});
  check(made.status === 201, `token: ${made.status} ${JSON.stringify(made.body)}`);
  await signIn(second, made.body.token);
  check(await second.isVisible('#nav-audit'), 'a read+admin token does not see the Audit link');
  await second.click('#nav-audit');
  await second.waitForSelector('#audit tbody tr');
});

const reader = await newPage();
await test('read', reader, async () => {
  await signIn(reader, READ);
  check(!(await reader.isVisible('#nav-audit')), 'a read token sees the Audit link');
  await reader.goto(`${BASE}/#/audit`);
  await reader.waitForSelector('main .note, #main .error, #main');
  await reader.waitForFunction(() => /Only an admin/.test(document.getElementById('main').textContent));
  check(!(await reader.$('#audit')), 'a read token sees the audit table');
  const r = await api('GET', '/api/v1/audit', undefined, READ);
  check(r.status === 403, `a read token reads GET /api/v1/audit: ${r.status}`);
});

await browser.close();
const failed = results.filter((r) => !r.ok);
console.log(`${results.length - failed.length} of ${results.length} audit browser tests passed in ${Date.now() - t0} ms`);
process.exit(failed.length ? 1 : 0);
