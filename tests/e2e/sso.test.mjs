// SPDX-License-Identifier: Apache-2.0
// Single sign-on through the dashboard in headless Chromium, against the
// stack run_sso.sh started with tests/oidc/provider.py as the identity
// provider: the sign-in page offers "Sign in with SSO" beside the token
// form, the button goes through the provider and back signed in, the
// session cookie is out of the page's reach (HttpOnly), a change made
// from the dashboard carries the CSRF token (a run is triggered), and
// sign-out ends the session on the server. Each test saves a screenshot
// sso-NAME.png under WEIR_E2E_OUT; a JavaScript error or a
// Content-Security-Policy refusal fails the test it happened in.

import {chromium} from 'playwright-core';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set (run tests/e2e/run_sso.sh)`);
  return v;
};
const BASE = env('WEIR_E2E_URL');
const ADMIN = env('WEIR_E2E_ADMIN');
const OUT = env('WEIR_E2E_OUT');
const PROVIDER = env('WEIR_E2E_PROVIDER');
const WAIT = 15000;       // ms: longest wait for anything on a page
const TEST_LIMIT = 30000; // ms: longest test

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function api(method, path, token = ADMIN) {
  const r = await fetch(BASE + path, {
    method,
    headers: {Authorization: `Bearer ${token}`},
    signal: AbortSignal.timeout(10000),
  });
  return [r.status, await r.json()];
}

async function provider(body) {
  const r = await fetch(PROVIDER + '/control', {method: 'POST', body: JSON.stringify(body),
                                                signal: AbortSignal.timeout(10000)});
  check(r.ok, `provider control: ${r.status}`);
}

const browser = await chromium.launch({
  executablePath: env('WEIR_E2E_CHROMIUM'),
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const context = await browser.newContext({viewport: {width: 1280, height: 900}});
const page = await context.newPage();
page.setDefaultTimeout(WAIT);
const problems = [];
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
page.on('console', (m) => {
  if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
});

const results = [];
async function test(name, fn) {
  const t0 = Date.now();
  problems.length = 0;
  let error = null;
  let timer;
  try {
    await Promise.race([fn(), new Promise((_, no) => {
      timer = setTimeout(() => no(new Error(`took over ${TEST_LIMIT} ms`)), TEST_LIMIT);
    })]);
    check(!problems.length, problems.join('; '));
  } catch (e) {
    error = e;
  } finally {
    clearTimeout(timer);
  }
  try {
    await page.screenshot({path: `${OUT}/sso-${name}.png`, fullPage: true, timeout: 10000});
  } catch (e) {
    console.log(`  (no screenshot of ${name}: ${e.message})`);
  }
  results.push({name, ok: !error});
  console.log(`${error ? 'FAIL' : 'ok  '} sso-${name} (${Date.now() - t0} ms)${error ? ': ' + error.message : ''}`);
}

const who = () => page.evaluate(() => document.getElementById('who').textContent);

await test('signin-page', async () => {
  await provider({user: 'carol', groups: ['weir-admins'], forge: 'none', kid: 'ec1'});
  await page.goto(BASE + '/');
  await page.waitForSelector('#sso-signin');
  check(await page.isVisible('#token'), 'the token form is gone beside SSO');
  check((await page.textContent('#sso-signin')).includes('Sign in with SSO'), 'the SSO button text');
});

await test('signin', async () => {
  await page.click('#sso-signin');
  await page.waitForSelector('#dags');
  check(page.url().startsWith(BASE + '/'), `back on the dashboard: ${page.url()}`);
  check(/carol \(admin\)/.test(await who()), `the header: ${await who()}`);
  const cookies = await context.cookies(BASE);
  const c = cookies.find((x) => x.name === 'weir_session');
  check(c && c.httpOnly && c.sameSite === 'Lax', `the session cookie: ${JSON.stringify(c)}`);
  check(!(await page.evaluate(() => document.cookie)).includes('weir_session'),
        'the page can read the session cookie');
  // a reload keeps the session (the cookie, not sessionStorage)
  await page.reload();
  await page.waitForSelector('#dags');
  check(/carol/.test(await who()), 'signed out by a reload');
});

await test('trigger-with-csrf', async () => {
  const before = (await api('GET', '/api/v1/runs?dag=quick'))[1];
  await page.goto(BASE + '/#/dags/quick');
  await page.waitForSelector('#trigger-form');
  await page.click('#trigger-form button[type=submit]');
  await page.waitForURL(/#\/runs\/\d+$/);
  const id = Number(page.url().match(/#\/runs\/(\d+)$/)[1]);
  const [status, run] = await api('GET', `/api/v1/runs/${id}`);
  check(status === 200 && run.dag === 'quick', `the run the dashboard started: ${status} ${JSON.stringify(run)}`);
  check(!JSON.stringify(before).includes(`"id":${id},`), 'the run existed before');
  // the same change without the CSRF token, from the page: refused
  const refused = await page.evaluate(async () => {
    const r = await fetch('/api/v1/dags/quick/runs', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{}'});
    return r.status;
  });
  check(refused === 403, `a change without X-CSRF-Token: ${refused}`);
});

await test('signout', async () => {
  await page.click('#signout');
  await page.waitForSelector('#sso-signin');
  const status = await page.evaluate(async () => (await fetch('/api/v1/session')).status);
  check(status === 401, `after sign-out the session still answers: ${status}`);
  await page.reload();
  await page.waitForSelector('#sso-signin');
  check(!/carol/.test(await who()), 'still signed in after a reload');
});

await browser.close();
const failed = results.filter((r) => !r.ok);
console.log(`sso: ${results.length - failed.length}/${results.length} passed`);
process.exit(failed.length ? 1 : 0);
