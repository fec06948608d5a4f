// Browser tests: the real server (LOGBOOK_BIN, default target/debug/logbook) on a fresh
// database, driven by Playwright in Debian's headless Chromium, with an axe-core accessibility
// check on every page visited. Run with `node --test tests/browser/` (scripts/test does).
//
// Every test fails on a console error, a failed request, or a response with status >= 400 that
// the test did not say it expects; each saves a screenshot to test-artifacts/browser/<name>.png.
//
// Environment: LOGBOOK_TEST_DATABASE_URL (mysql://user:pass@host:port, no database; default
// mysql://logbook:logbook@127.0.0.1:3306), LOGBOOK_BIN, CHROMIUM (default /usr/bin/chromium).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const artifacts = join(repo, 'test-artifacts', 'browser');
const bin = resolve(repo, process.env.LOGBOOK_BIN || 'target/debug/logbook');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const axeSource = readFileSync(join(here, 'node_modules/axe-core/axe.min.js'), 'utf8');

const ORG_NAME = 'Browser Test Fire Department';
const ADMIN = { username: 'admin', password: `browser ${randomBytes(9).toString('hex')} words` };

/// Pages checked with axe as the admin. A page that is not built yet (404) is skipped, so a new
/// page is one more entry here.
const PAGES = [
  { name: 'dashboard', path: '/' },
  { name: 'account', path: '/account' },
  { name: 'change-password', path: '/account/password' },
  { name: 'members', path: '/members' },
  { name: 'roles', path: '/roles' },
  { name: 'audit', path: '/audit' },
  { name: 'security-alerts', path: '/security-alerts' },
];

// --- database and server -------------------------------------------------------------------

const dbUrl = new URL(process.env.LOGBOOK_TEST_DATABASE_URL || 'mysql://logbook:logbook@127.0.0.1:3306');
const db = {
  user: decodeURIComponent(dbUrl.username),
  password: decodeURIComponent(dbUrl.password),
  host: dbUrl.hostname,
  port: dbUrl.port || '3306',
};
// The prefix scripts/test drops as leftovers of killed runs.
const dbName = `logbook_t_browser_${randomBytes(4).toString('hex')}`;

function sql(statement) {
  const client = ['mariadb', 'mysql'].find((c) => {
    try {
      execFileSync('sh', ['-c', `command -v ${c}`], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
  if (!client) throw new Error('no mariadb/mysql client on PATH');
  execFileSync(
    client,
    ['--protocol=tcp', '-h', db.host, '-P', db.port, '-u', db.user, '--connect-timeout=5', '-e', statement],
    { env: { ...process.env, MYSQL_PWD: db.password }, stdio: ['ignore', 'inherit', 'inherit'] },
  );
}

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

let server;
let serverLog = '';
let base;
let dataDir;
let browser;
let dbCreated = false;

async function waitForHealth(timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`server exited (${server.exitCode}):\n${serverLog}`);
    try {
      const res = await fetch(`${base}/health`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`server not healthy after ${timeoutMs} ms:\n${serverLog}`);
}

before(async () => {
  rmSync(artifacts, { recursive: true, force: true });
  mkdirSync(artifacts, { recursive: true });
  sql(`CREATE DATABASE \`${dbName}\``);
  dbCreated = true;
  dataDir = mkdtempSync(join(tmpdir(), 'logbook-browser-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    LOGBOOK_DATABASE_URL: `mysql://${dbUrl.username}:${dbUrl.password}@${db.host}:${db.port}/${dbName}`,
    LOGBOOK_LISTEN: `127.0.0.1:${port}`,
    LOGBOOK_DATA_DIR: dataDir,
    LOGBOOK_LOG: process.env.LOGBOOK_LOG || 'warn',
  };
  const passwordFile = join(dataDir, 'admin-password');
  writeFileSync(passwordFile, ADMIN.password, { mode: 0o600 });
  execFileSync(
    bin,
    ['init', '--org-name', ORG_NAME, '--admin-username', ADMIN.username, '--admin-email',
      'admin@example.org', '--admin-password-file', passwordFile],
    { env, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  server = spawn(bin, ['serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout.on('data', (d) => { serverLog += d; });
  server.stderr.on('data', (d) => { serverLog += d; });
  await waitForHealth(60_000);
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  console.log(`server ${base} (${bin}), database ${dbName}, chromium ${browser.version()}`);
});

after(async () => {
  await browser?.close().catch(() => {});
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (server.exitCode === null) server.kill('SIGKILL');
  }
  if (dbCreated) sql(`DROP DATABASE IF EXISTS \`${dbName}\``);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  printAxeSummary();
});

// --- API helpers (setup only; the tests themselves go through the browser) -----------------

async function api(method, path, token, body) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function apiLogin(username, password) {
  const res = await api('POST', '/api/v1/auth/login', null, { username, password });
  assert.equal(res.status, 200, `API sign-in of ${username}: ${JSON.stringify(res.body)}`);
  return res.body.access_token;
}

// --- the page harness -------------------------------------------------------------------------

const axeResults = [];

/// Runs axe on the page as it is now; fails on serious or critical violations.
async function checkA11y(page, label) {
  // Evaluated through the DevTools protocol, which the page's CSP (script-src 'self') does not
  // govern; a <script> tag would be refused by it. The CSP stays on for the app itself, so a
  // page that breaks it still fails its test with a console error.
  await page.evaluate(axeSource);
  const result = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { resultTypes: ['violations'] }),
  );
  const violations = result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((n) => n.target.join(' ')),
  }));
  axeResults.push({ label, url: new URL(page.url()).pathname, violations });
  const blocking = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    blocking,
    [],
    `axe: serious or critical violations on ${label}:\n${JSON.stringify(blocking, null, 2)}`,
  );
}

function printAxeSummary() {
  const lines = ['axe-core summary'];
  for (const r of axeResults) {
    const counts = {};
    for (const v of r.violations) counts[v.impact] = (counts[v.impact] || 0) + 1;
    const detail = r.violations.map((v) => `${v.id} (${v.impact}, ${v.nodes.length})`).join(', ');
    lines.push(`  ${r.label} ${r.url}: ${r.violations.length ? detail : 'no violations'}`);
  }
  const total = axeResults.reduce((n, r) => n + r.violations.length, 0);
  lines.push(`  ${axeResults.length} page state(s) checked, ${total} violation(s) in all`);
  console.log(lines.join('\n'));
}

/// A fresh browser context and page for one test. `expect` lists responses with status >= 400
/// that the test provokes on purpose, as [status, path] (each must happen); `allow` lists ones
/// that may happen; any other one, a console error or a failed request fails the test. A
/// screenshot is saved however the test ends.
async function withPage(name, body, { expect = [], allow = [], context: ctxOptions = {} } = {}) {
  const context = await browser.newContext({ baseURL: base, ...ctxOptions });
  const page = await context.newPage();
  const problems = [];
  const expected = expect.map(([status, path]) => ({ status, path, seen: false }));
  page.on('console', (msg) => {
    if (msg.type() === 'error') {
      const text = msg.text();
      // Chromium logs every 4xx/5xx document as a console error; those are judged below.
      if (/^Failed to load resource: the server responded with a status of \d+/.test(text)) return;
      problems.push(`console error: ${text} (${msg.location().url})`);
    }
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (req) => {
    problems.push(`request failed: ${req.method()} ${req.url()}: ${req.failure()?.errorText}`);
  });
  page.on('response', (res) => {
    if (res.status() < 400) return;
    const path = new URL(res.url()).pathname;
    const hit = expected.find((e) => e.status === res.status() && e.path === path);
    if (hit) hit.seen = true;
    else if (allow.some(([status, p]) => status === res.status() && p === path)) return;
    else problems.push(`unexpected ${res.status()} for ${res.request().method()} ${path}`);
  });
  // Pages answer in milliseconds; a wait that long means the page is not what it should be.
  context.setDefaultTimeout(10_000);
  try {
    try {
      await body(page, context);
    } catch (err) {
      // A step that timed out usually did so because of an error seen on the way: name it.
      if (problems.length) err.message += `\nseen on the way:\n  ${problems.join('\n  ')}`;
      throw err;
    }
    for (const e of expected) assert.ok(e.seen, `expected a ${e.status} for ${e.path}, got none`);
    assert.deepEqual(problems, [], `${name}: console errors or failed requests`);
  } finally {
    await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true }).catch(() => {});
    await context.close();
  }
}

async function signIn(page, username, password) {
  await page.goto('/login');
  await page.getByLabel('Username or e-mail').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForLoadState();
}

// --- tests ------------------------------------------------------------------------------------

test('sign in: a wrong password shows the message; the right one lands on the dashboard', () =>
  withPage('sign-in', async (page) => {
    await page.goto('/');
    assert.match(new URL(page.url()).pathname, /^\/login$/, 'a visitor is sent to sign in');
    await checkA11y(page, 'sign-in');

    await page.getByLabel('Username or e-mail').fill(ADMIN.username);
    await page.getByLabel('Password', { exact: true }).fill('not the password at all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /username or password is wrong/i);
    assert.equal(await page.getByLabel('Username or e-mail').inputValue(), ADMIN.username);
    await checkA11y(page, 'sign-in (wrong password)');

    await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: ORG_NAME }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/');
  }, { expect: [[401, '/login']] }));

test('a temporary password must be changed before anything else', async () => {
  const token = await apiLogin(ADMIN.username, ADMIN.password);
  const temporary = 'temporary station words';
  const created = await api('POST', '/api/v1/members', token, {
    username: 'probie',
    email: 'probie@example.org',
    first_name: 'Pat',
    last_name: 'Probie',
    temporary_password: temporary,
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));

  await withPage('forced-password-change', async (page) => {
    await signIn(page, 'probie', temporary);
    assert.equal(new URL(page.url()).pathname, '/account/password');
    assert.match(await page.locator('main').innerText(), /temporary password/i);
    await checkA11y(page, 'change password (forced)');
    // Anywhere else sends the member back here.
    await page.goto('/account');
    assert.equal(new URL(page.url()).pathname, '/account/password');

    // A too-short new password is refused beside its field.
    await page.getByLabel('Current password').fill(temporary);
    const fresh = page.getByLabel('New password');
    await fresh.fill('short');
    // The browser's own minlength check would stop the form; test the server's message.
    await fresh.evaluate((el) => el.removeAttribute('minlength'));
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.locator('#new_password-error').waitFor();
    await checkA11y(page, 'change password (error)');

    await page.getByLabel('Current password').fill(temporary);
    await page.getByLabel('New password').fill('a much longer ladder truck phrase');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('heading', { level: 1, name: ORG_NAME }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/');
  }, { expect: [[422, '/account/password']] });
});

test('sign out ends the session', () =>
  withPage('sign-out', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.getByRole('heading', { level: 1, name: ORG_NAME }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/login');
    await page.goto('/account');
    assert.equal(new URL(page.url()).pathname, '/login', 'signed out: back to sign-in');
  }));

test('account page: sessions are listed and "Sign out everywhere" ends them all', async () => {
  // A second session of the same member, in a browser of its own.
  const other = await browser.newContext({ baseURL: base });
  const otherPage = await other.newPage();
  try {
    await signIn(otherPage, ADMIN.username, ADMIN.password);
    await otherPage.getByRole('heading', { level: 1, name: ORG_NAME }).waitFor();

    await withPage('account-sign-out-everywhere', async (page) => {
      await signIn(page, ADMIN.username, ADMIN.password);
      await page.getByRole('link', { name: 'Account' }).click();
      await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();
      const sessions = page.locator('.sessions > li');
      assert.ok((await sessions.count()) >= 2, 'both browsers are listed');
      assert.equal(await page.getByText('This session', { exact: true }).count(), 1);
      await checkA11y(page, 'account');

      await page.getByRole('button', { name: 'Sign out everywhere' }).click();
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      assert.equal(new URL(page.url()).pathname, '/login');
    });

    // The other browser is signed out too.
    await otherPage.goto('/account');
    assert.equal(new URL(otherPage.url()).pathname, '/login');
  } finally {
    await other.close();
  }
});

test('every page passes axe (pages not built yet are skipped)', () =>
  withPage('pages', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    // Both themes: the colours (and so the contrast) differ.
    for (const scheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const p of PAGES) {
        const res = await page.goto(p.path);
        if (res.status() === 404) {
          if (scheme === 'light') console.log(`skipped ${p.path}: 404 (not built yet)`);
          continue;
        }
        assert.equal(res.status(), 200, `${p.path} answered ${res.status()}`);
        const name = scheme === 'light' ? p.name : `${p.name}-${scheme}`;
        await page.screenshot({ path: join(artifacts, `page-${name}.png`), fullPage: true });
        await checkA11y(page, name);
      }
    }
  }, { allow: PAGES.map((p) => [404, p.path]) }));
