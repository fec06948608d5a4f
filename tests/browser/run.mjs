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
import { createServer, createServer as createNetServer } from 'node:net';
import { createHmac, randomBytes } from 'node:crypto';
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
  { name: 'two-factor', path: '/account/two-factor' },
  { name: 'members', path: '/members' },
  { name: 'roles', path: '/roles' },
  { name: 'audit', path: '/audit' },
  { name: 'security-alerts', path: '/security-alerts' },
  { name: 'notifications', path: '/notifications' },
  { name: 'notification-settings', path: '/account/notifications' },
  { name: 'settings-department', path: '/settings/department' },
  { name: 'settings-stations', path: '/settings/stations' },
  { name: 'settings-station-new', path: '/settings/stations/new' },
  { name: 'settings-apparatus-new', path: '/settings/apparatus/new' },
  { name: 'settings-email', path: '/settings/email' },
  { name: 'settings-outbox', path: '/settings/email/outbox' },
  { name: 'settings-notification-defaults', path: '/settings/notifications' },
  { name: 'settings-jobs', path: '/settings/jobs' },
  { name: 'settings-job-history', path: '/settings/jobs/purge_sessions' },
  { name: 'settings-status', path: '/settings/status' },
  { name: 'settings-https', path: '/settings/https' },
  { name: 'settings-backups', path: '/settings/backups' },
  { name: 'settings-backups-encryption', path: '/settings/backups/encryption' },
  { name: 'elections', path: '/elections' },
  { name: 'elections-new', path: '/elections/new' },
  { name: 'training', path: '/training' },
  { name: 'training-matrix', path: '/training/matrix' },
  { name: 'training-records', path: '/training/records' },
  { name: 'training-iso', path: '/training/reports/iso' },
  { name: 'training-setup', path: '/training/setup' },
  { name: 'training-course-new', path: '/training/courses/new' },
  { name: 'training-requirement-new', path: '/training/requirements/new' },
  { name: 'training-submit', path: '/training/submit' },
  { name: 'training-record', path: '/training/record' },
  { name: 'training-submissions', path: '/training/submissions' },
  { name: 'training-waivers', path: '/training/waivers' },
  { name: 'training-import', path: '/training/import' },
  { name: 'training-programs', path: '/training/programs' },
  { name: 'training-program-new', path: '/training/programs/new' },
  { name: 'training-shift-reports', path: '/training/shift-reports?status=all' },
  { name: 'training-shift-report-new', path: '/training/shift-reports/new' },
  { name: 'membership-tiers', path: '/membership/tiers' },
  { name: 'membership-tier-new', path: '/membership/tiers/new' },
  { name: 'announcements', path: '/announcements' },
  { name: 'announcements-new', path: '/announcements/new' },
  { name: 'welcome', path: '/welcome' },
  { name: 'inventory', path: '/inventory' },
  { name: 'inventory-item-new', path: '/inventory/items/new' },
  { name: 'inventory-categories', path: '/inventory/categories' },
  { name: 'inventory-mine', path: '/inventory/mine' },
  { name: 'inventory-overdue', path: '/inventory/overdue' },
  { name: 'inventory-due', path: '/inventory/due' },
  { name: 'inventory-labels', path: '/inventory/labels' },
  { name: 'inventory-clearances', path: '/inventory/clearances' },
  { name: 'inventory-import', path: '/inventory/import' },
  { name: 'events', path: '/events' },
  { name: 'events-week', path: '/events?view=week' },
  { name: 'events-month', path: '/events?view=month' },
  { name: 'events-new', path: '/events/new' },
  { name: 'events-feed', path: '/events/feed' },
  { name: 'scheduling', path: '/scheduling' },
  { name: 'scheduling-month', path: '/scheduling?view=month' },
  { name: 'scheduling-open', path: '/scheduling?show=open' },
  { name: 'scheduling-requests', path: '/scheduling/requests' },
  { name: 'scheduling-templates', path: '/scheduling/templates' },
  { name: 'scheduling-pattern-new', path: '/scheduling/patterns/new' },
  { name: 'scheduling-generate', path: '/scheduling/generate' },
  { name: 'scheduling-shift-new', path: '/scheduling/shifts/new' },
  { name: 'scheduling-reports', path: '/scheduling/reports' },
  { name: 'documents', path: '/documents' },
  { name: 'documents-folder-new', path: '/documents/folders/new' },
  { name: 'minutes', path: '/minutes' },
  { name: 'minutes-new', path: '/minutes/new' },
  { name: 'minutes-action-items', path: '/minutes/action-items?scope=all' },
  { name: 'minutes-attendance', path: '/minutes/attendance' },
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
// `downloads`: paths whose response is an attachment; Chromium reports the navigation to them
// as aborted (net::ERR_ABORTED), which is how a download looks, not a failure.
async function withPage(name, body, { expect = [], allow = [], downloads = [], context: ctxOptions = {} } = {}) {
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
    if (req.failure()?.errorText === 'net::ERR_ABORTED' && downloads.includes(new URL(req.url()).pathname)) return;
    problems.push(`request failed: ${req.method()} ${req.url()}: ${req.failure()?.errorText}`);
  });
  page.on('response', (res) => {
    if (res.status() < 400) return;
    const path = new URL(res.url()).pathname;
    // An expected path is a string, or a pattern for one with an id in it.
    const hit = expected.find((e) => e.status === res.status()
      && (e.path instanceof RegExp ? e.path.test(path) : e.path === path));
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

/// The six-digit code an authenticator app shows for a base32 secret (RFC 6238: HMAC-SHA1,
/// 30-second steps), `steps` steps from now.
function totpCode(secret, steps = 0) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of secret.replace(/=+$/, '')) bits += alphabet.indexOf(ch).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30) + steps));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const number = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(number).padStart(6, '0');
}

test('two-factor sign-in on a phone: set up with a wrong code first, recovery codes shown, then sign in with a code', async () => {
  const token = await apiLogin(ADMIN.username, ADMIN.password);
  const created = await api('POST', '/api/v1/members', token, {
    username: 'twofa',
    email: 'twofa@example.org',
    first_name: 'Tess',
    last_name: 'Twofactor',
    temporary_password: 'temporary station words',
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const password = 'a long phrase for two factor';
  const probie = await api('POST', '/api/v1/auth/login', null, { username: 'twofa', password: 'temporary station words' });
  const changed = await api('POST', '/api/v1/auth/change-password', probie.body.access_token,
    { current_password: 'temporary station words', new_password: password });
  assert.equal(changed.status, 200, JSON.stringify(changed.body));

  let secret;
  await withPage('two-factor-setup-phone', async (page) => {
    await signIn(page, 'twofa', password);
    await page.goto('/account');
    await page.getByRole('link', { name: 'Two-factor sign-in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Two-factor sign-in' }).waitFor();
    await checkA11y(page, 'two-factor (off)');
    await page.getByRole('button', { name: 'Set up two-factor sign-in' }).click();
    await page.getByRole('img', { name: /QR code/ }).waitFor();
    assert.equal(await scrollsSideways(page), false, 'the set-up page scrolls sideways on a phone');
    await checkA11y(page, 'two-factor (set up)');
    await page.screenshot({ path: join(artifacts, 'two-factor-qr-phone.png'), fullPage: true });
    // A wrong code is refused beside the field; the same key is shown again.
    const before = (await page.locator('code.secret').innerText()).trim();
    await page.getByLabel('The 6-digit code the app shows').fill('000000');
    await page.getByRole('button', { name: 'Turn on two-factor sign-in' }).click();
    await page.locator('#code-error').waitFor();
    secret = (await page.locator('code.secret').innerText()).trim();
    assert.equal(secret, before, 'the key the app scanned still works after a wrong code');
    await page.getByLabel('The 6-digit code the app shows').fill(totpCode(secret));
    await page.getByRole('button', { name: 'Turn on two-factor sign-in' }).click();
    await page.getByRole('heading', { name: 'Your recovery codes' }).waitFor();
    assert.equal(await page.locator('.recovery-codes li').count(), 10);
    assert.equal(await scrollsSideways(page), false, 'the recovery codes scroll sideways on a phone');
    await checkA11y(page, 'two-factor (recovery codes)');
  }, { expect: [[422, '/account/two-factor/confirm']], context: { viewport: { width: 360, height: 740 } } });

  await withPage('two-factor-sign-in-phone', async (page) => {
    await signIn(page, 'twofa', password);
    await page.getByRole('heading', { level: 1, name: 'Enter your code' }).waitFor();
    assert.equal(await page.getByLabel('Code', { exact: true }).getAttribute('autocomplete'), 'one-time-code');
    await checkA11y(page, 'two-factor code step');
    await page.getByLabel('Code', { exact: true }).fill('000000');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#code-error').waitFor();
    await page.getByLabel('Code', { exact: true }).fill(totpCode(secret, 1));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: ORG_NAME }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/');
  }, { expect: [[401, '/login/two-factor']], context: { viewport: { width: 360, height: 740 } } });
});

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

/// What is wrong with the page as a phone shows it: wider than the screen (and what sticks out),
/// or a control smaller than 24 × 24 px (WCAG 2.2 2.5.8; links inside a sentence are exempt).
function phoneProblems() {
  const out = [];
  const name = (el) => {
    const text = (el.getAttribute('aria-label') || el.innerText || el.value || el.name || '').trim().slice(0, 40);
    return `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.className ? `.${String(el.className).split(' ').join('.')}` : ''} "${text}"`;
  };
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > width + 1) {
    const clipped = (el) => {
      for (let p = el.parentElement; p; p = p.parentElement) {
        const o = getComputedStyle(p).overflowX;
        if (o === 'auto' || o === 'scroll' || o === 'hidden') return true;
      }
      return false;
    };
    const wide = [...document.querySelectorAll('body *')]
      .filter((el) => el.getBoundingClientRect().right > width + 1 && !clipped(el))
      .slice(0, 4)
      .map(name);
    out.push(`wider than the screen: ${document.documentElement.scrollWidth} px > ${width} px: ${wide.join(', ')}`);
  }
  for (const el of document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary')) {
    const r = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (r.width === 0 || r.height === 0 || style.visibility === 'hidden') continue;
    if (el.tagName === 'A' && style.display === 'inline') continue; // a link in running text
    if (el.closest('.skip')) continue;
    if (r.width < 23.5 || r.height < 23.5) out.push(`${name(el)} is ${Math.round(r.width)} × ${Math.round(r.height)} px`);
  }
  return out;
}

test('on a 360 px phone every page fits the screen, its controls can be tapped, and the menu opens', () =>
  withPage('phone-pages', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    const problems = [];
    for (const p of PAGES) {
      const res = await page.goto(p.path);
      if (res.status() === 404) continue;
      assert.equal(res.status(), 200, `${p.path} answered ${res.status()}`);
      for (const found of await page.evaluate(phoneProblems)) problems.push(`${p.path}: ${found}`);
      await page.screenshot({ path: join(artifacts, `phone-${p.name}.png`), fullPage: true });
    }
    // The header is one row: the menu button opens the navigation, and a link in it works.
    await page.goto('/');
    const header = await page.locator('header.top').boundingBox();
    assert.ok(header.height <= 64, `the header is ${header.height} px tall`);
    const main = page.getByRole('navigation', { name: 'Main' });
    assert.equal(await main.isVisible(), false, 'the navigation waits behind the menu button');
    await page.locator('summary', { hasText: 'Menu' }).click();
    assert.ok(await main.isVisible(), 'the menu opened');
    for (const found of await page.evaluate(phoneProblems)) problems.push(`/ (menu open): ${found}`);
    await page.screenshot({ path: join(artifacts, 'phone-menu-open.png') });
    await main.getByRole('link', { name: 'Members' }).click();
    await page.getByRole('heading', { level: 1, name: 'Members' }).waitFor();
    assert.equal(problems.length, 0, `pages that do not fit a phone:\n  ${problems.join('\n  ')}`);
  }, { allow: PAGES.map((p) => [404, p.path]), context: { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true } }));

// --- members, roles and the audit log ----------------------------------------------------------
//
// These run in order and share the member the first one creates (node --test runs the tests of
// one file one after another).

const RECRUIT = {
  first: 'Robin',
  last: 'Recruitsen',
  username: 'rrecruit',
  email: 'robin.recruitsen@example.org',
  rank: 'Firefighter',
  station: 'Station 2',
};
const RECRUIT_LISTED = `${RECRUIT.last}, ${RECRUIT.first}`; // the directory's form of the name
let recruitPath; // /members/{id}, set by the first test below

/// The profile path of the member the create test made; the later tests need it.
function needRecruit() {
  assert.ok(recruitPath, 'the "create a member" test must have run first');
  return recruitPath;
}

test('members: create a member through the form and land on the profile', () =>
  withPage('member-create', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.goto('/members');
    await page.getByRole('link', { name: 'New member' }).click();
    await page.getByRole('heading', { level: 1, name: 'New member' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/members/new');
    await checkA11y(page, 'new member');

    // An empty form is refused by the server (the form is novalidate) beside each field.
    await page.getByRole('button', { name: 'Create member' }).click();
    await page.locator('#first_name-error').waitFor();
    assert.equal(await page.getByLabel(/^First name/).getAttribute('aria-invalid'), 'true');
    await page.locator('#email-error').waitFor();
    await checkA11y(page, 'new member (errors)');

    await page.getByLabel(/^First name/).fill(RECRUIT.first);
    await page.getByLabel(/^Last name/).fill(RECRUIT.last);
    await page.getByLabel(/^Username/).fill(RECRUIT.username);
    await page.getByLabel(/^Rank/).fill(RECRUIT.rank);
    await page.getByLabel(/^Station/).fill(RECRUIT.station);
    await page.getByLabel(/^E-mail/).fill(RECRUIT.email);
    await page.getByLabel('Status', { exact: true }).selectOption('probationary');
    await page.getByRole('button', { name: 'Create member' }).click();
    const name = `${RECRUIT.first} ${RECRUIT.last}`;
    await page.getByRole('heading', { level: 1, name }).waitFor();
    assert.match(new URL(page.url()).pathname, /^\/members\/[0-9a-f-]{36}$/);
    recruitPath = new URL(page.url()).pathname;
    const profile = await page.locator('main').innerText();
    assert.match(profile, new RegExp(RECRUIT.username));
    assert.match(profile, /probationary/);
    await checkA11y(page, 'member profile (admin)');

    // The directory lists the new member.
    await page.goto('/members');
    await page.getByRole('link', { name: RECRUIT_LISTED }).waitFor();
  }, { expect: [[422, '/members/new']] }));

test("members: change a member's status with a reason; an empty reason is refused", () =>
  withPage('member-status', async (page) => {
    const path = needRecruit();
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.goto(path);
    await page.getByRole('heading', { level: 2, name: 'Change status' }).waitFor();
    await checkA11y(page, 'member profile (change status)');

    // The browser refuses an empty reason itself (the textarea is required): no request is made.
    const reason = page.getByLabel('Reason');
    assert.equal(await reason.getAttribute('required'), '');
    await page.getByLabel('New status').selectOption('active');
    let posted = false;
    const onRequest = (req) => {
      if (req.method() === 'POST' && new URL(req.url()).pathname === `${path}/status`) posted = true;
    };
    page.on('request', onRequest);
    await page.getByRole('button', { name: 'Change status' }).click();
    await page.waitForTimeout(300);
    page.off('request', onRequest);
    assert.equal(posted, false, 'an empty reason must not be sent');
    assert.equal(await reason.evaluate((el) => el.validity.valueMissing), true);
    assert.equal(new URL(page.url()).pathname, path);

    // And the server refuses it too when the browser's check is taken away.
    await reason.evaluate((el) => el.removeAttribute('required'));
    await reason.fill('   ');
    await page.getByRole('button', { name: 'Change status' }).click();
    await page.locator('#reason-error').waitFor();
    assert.match(await page.locator('#reason-error').innerText(), /reason/i);
    assert.equal(await page.getByLabel('Reason').getAttribute('aria-invalid'), 'true');
    assert.match(await page.locator('dd').first().innerText(), /^probationary/, 'unchanged');
    await checkA11y(page, 'member profile (status error)');

    const why = 'Completed the probationary year and passed Firefighter I.';
    await page.getByLabel('New status').selectOption('active');
    await page.getByLabel('Reason').fill(why);
    await page.getByRole('button', { name: 'Change status' }).click();
    await page.waitForURL((u) => u.pathname === path);
    await page.locator('.members-reason').waitFor();
    const status = await page.locator('dd').first().innerText();
    assert.match(status, /^active/);
    assert.match(status, new RegExp(why.replace(/[.]/g, '\\.')));
    await checkA11y(page, 'member profile (status changed)');
  }, { expect: [[422, `${recruitPath ?? '/members/-'}/status`]] }));

test('roles: give the Training Officer role to the member', () =>
  withPage('role-assign', async (page) => {
    const path = needRecruit();
    const name = `${RECRUIT.first} ${RECRUIT.last}`;
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.goto('/roles');
    await checkA11y(page, 'roles');
    await page.getByRole('link', { name: 'Training Officer', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: /Training Officer/ }).waitFor();
    const rolePath = new URL(page.url()).pathname;
    assert.match(rolePath, /^\/roles\/[^/]+$/);
    await checkA11y(page, 'role (Training Officer)');

    const members = page.locator('#members');
    assert.equal(await members.locator('.role-members li', { hasText: RECRUIT.username }).count(), 0,
      'not yet a holder');
    await page.getByLabel('Give this role to').selectOption({ label: `${name} (${RECRUIT.username})` });
    await page.getByRole('button', { name: 'Assign' }).click();
    await page.waitForURL((u) => u.pathname === rolePath && u.hash === '#members');
    await members.locator('.role-members li', { hasText: RECRUIT.username }).waitFor();
    await members.getByRole('button', { name: `Remove ${name} from Training Officer` }).waitFor();
    // No longer offered as a candidate.
    assert.equal(
      await page.getByLabel('Give this role to').locator('option', { hasText: `(${RECRUIT.username})` }).count(),
      0,
    );
    await checkA11y(page, 'role (member assigned)');

    // The profile lists the role.
    await page.goto(path);
    const roles = page.locator('dt', { hasText: /^Roles$/ }).locator('xpath=following-sibling::dd[1]');
    assert.match(await roles.innerText(), /Training Officer/);
  }));

test('members: a CSV with one bad row shows the error and imports nothing', () =>
  withPage('member-import', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.goto('/members');
    await page.getByRole('link', { name: 'Import CSV' }).click();
    await page.getByRole('heading', { level: 1, name: 'Import members from CSV' }).waitFor();
    await checkA11y(page, 'import');

    const csv = [
      'username,email,first_name,last_name,status',
      'gooduser,good.user@example.org,Goodwin,Userton,active',
      'baduser,not-an-email,Bad,Row,active',
    ].join('\n');
    await page.getByLabel('CSV').fill(csv);
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.getByRole('heading', { level: 2, name: 'Nothing was imported' }).waitFor();
    const errors = page.getByRole('table', { name: 'Errors' });
    const rows = errors.locator('tbody tr');
    assert.equal(await rows.count(), 1, 'one error row');
    const cells = await rows.first().locator('td').allInnerTexts();
    assert.equal(cells[0], '3', `the error is on line 3: ${cells}`);
    assert.equal(cells[1], 'email', `the error is in the email field: ${cells}`);
    assert.match(await page.locator('#report-heading + p').innerText(), /2 rows, 1 without errors, 1 error/);
    // The pasted CSV is kept for fixing.
    assert.equal(await page.getByLabel('CSV').inputValue(), csv);
    await checkA11y(page, 'import (preview with an error)');

    // Import refuses the whole file too.
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page.getByRole('heading', { level: 2, name: 'Nothing was imported' }).waitFor();
    assert.equal(await page.getByRole('status').filter({ hasText: /^Imported/ }).count(), 0);

    // Nothing was imported: the good row's member is not in the directory.
    await page.goto('/members?q=gooduser');
    await page.getByText('No members match.').waitFor();
    await page.goto('/members?q=Userton');
    await page.getByText('No members match.').waitFor();
  }, { expect: [[422, '/members/import']] }));

test('members: a US spreadsheet saved as CSV is chosen as a file on a phone and imported', () =>
  withPage('member-import-file', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.goto('/members/import');
    // What a spreadsheet exports: its own column names, US dates, CRLF line ends.
    const csv = 'First Name,Last Name,E-mail,User Name,Date Joined,Phone Number\r\n'
      + 'Dana,Whitaker,dana.whitaker@example.org,dwhitaker,06/01/2025,555-0101\r\n'
      + 'Pat,Kim,pat.kim@example.org,pkim,11/15/2019,\r\n';
    await page.locator('#csv-file').setInputFiles({ name: 'roster.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await page.waitForFunction(() => document.getElementById('csv').value.includes('Whitaker'));
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.getByRole('heading', { level: 2, name: 'Ready to import' }).waitFor();
    const preview = page.getByRole('table', { name: 'Members to be created' });
    assert.equal(await preview.locator('tbody tr').count(), 2);
    for (const found of await page.evaluate(phoneProblems)) assert.fail(`does not fit a phone: ${found}`);
    await checkA11y(page, 'import (file chosen, preview)');
    await page.screenshot({ path: join(artifacts, 'member-import-file-preview.png'), fullPage: true });
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Imported 2 members.' }).waitFor();
    await page.goto('/members?q=Whitaker');
    await page.getByRole('link', { name: /Whitaker, Dana/ }).click();
    await page.getByRole('heading', { level: 1, name: 'Dana Whitaker' }).waitFor();
    assert.match(await page.locator('main').innerText(), /06\/01\/2025/, 'the US date is read as June 1');
    assert.match(await page.locator('main').innerText(), /Last signed in: never/);
  }, { context: { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true } }));

test('audit log: the actions just taken are listed and the chain is verified', () =>
  withPage('audit-log', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.goto('/audit');
    await page.getByRole('heading', { level: 1, name: 'Audit log' }).waitFor();
    const chain = page.locator('.audit-chain');
    assert.match(await chain.innerText(), /Chain verified: verified \d+ entries/);
    // Each entry is a sentence with names; its code is behind "Details".
    const sentences = (await page.locator('.audit-sentence').allInnerTexts()).join('\n');
    assert.match(sentences, /changed Robin Recruitsen's status from probationary to active: Completed the probationary year and passed Firefighter I\.\n/);
    assert.match(sentences, /gave Robin Recruitsen the role Training Officer\./);
    assert.match(sentences, /added Robin Recruitsen as a member\./);
    await page.locator('.audit-entry details summary').first().click();
    await checkA11y(page, 'audit log');
    await page.screenshot({ path: join(artifacts, 'audit-log-sentences.png'), fullPage: true });

    // Filtering by kind of change, in words, narrows the list.
    await page.getByLabel('Kind of change').selectOption({ label: 'Members' });
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL((u) => u.searchParams.get('kind') === 'members');
    const filtered = await page.locator('.audit-entry details code').allTextContents();
    assert.ok(filtered.length >= 3, filtered.join(', '));
    assert.ok(filtered.every((a) => a.startsWith('member.')), filtered.join(', '));
    await checkA11y(page, 'audit log (filtered)');

    await page.goto('/security-alerts');
    assert.equal(new URL(page.url()).pathname, '/security-alerts');
    await checkA11y(page, 'security alerts');
  }));

test('a member without members.manage sees the directory and profiles but no edit controls', async () => {
  const path = needRecruit();
  const token = await apiLogin(ADMIN.username, ADMIN.password);
  const temporary = 'temporary directory words';
  const created = await api('POST', '/api/v1/members', token, {
    username: 'reader',
    email: 'reader@example.org',
    first_name: 'Rea',
    last_name: 'Der',
    temporary_password: temporary,
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const readerPath = `/members/${created.body.id}`;

  await withPage('member-read-only', async (page) => {
    await signIn(page, 'reader', temporary);
    assert.equal(new URL(page.url()).pathname, '/account/password', 'must change the password first');
    await page.getByLabel('Current password').fill(temporary);
    await page.getByLabel('New password').fill('a quiet evening at the firehouse');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('heading', { level: 1, name: ORG_NAME }).waitFor();

    await page.goto('/members');
    await page.getByRole('heading', { level: 1, name: 'Members' }).waitFor();
    await page.getByRole('link', { name: RECRUIT_LISTED }).waitFor();
    for (const control of ['New member', 'Import CSV', 'Export CSV']) {
      assert.equal(await page.getByRole('link', { name: control }).count(), 0, `no "${control}"`);
    }
    await checkA11y(page, 'members (read-only)');

    await page.getByRole('link', { name: RECRUIT_LISTED }).click();
    await page.getByRole('heading', { level: 1, name: `${RECRUIT.first} ${RECRUIT.last}` }).waitFor();
    assert.equal(new URL(page.url()).pathname, path);
    assert.equal(await page.getByRole('link', { name: /Edit/ }).count(), 0, 'no Edit link');
    assert.equal(await page.getByRole('heading', { name: 'Change status' }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Change status' }).count(), 0);
    assert.equal(await page.locator(`form[action="${path}/status"]`).count(), 0);
    await checkA11y(page, 'member profile (read-only)');

    // Their own profile offers only their contact details.
    await page.goto(readerPath);
    assert.equal(await page.getByRole('link', { name: 'Edit', exact: true }).count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Change status' }).count(), 0);

    // The management pages are refused outright.
    for (const p of ['/members/new', '/members/import', `${path}/edit`]) {
      const res = await page.goto(p);
      assert.equal(res.status(), 403, `${p} answered ${res.status()}`);
    }
  }, { expect: [[403, '/members/new'], [403, '/members/import'], [403, `${path}/edit`]] });
});

test('members: the live search updates the results in place; without JavaScript the form works', async () => {
  const name = RECRUIT_LISTED;
  await withPage('member-search-htmx', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.goto('/members');
    await page.getByRole('link', { name }).waitFor();
    await page.getByRole('link', { name: 'Der, Rea' }).waitFor();
    // A marker that a full page load would wipe out.
    await page.evaluate(() => { window.__stillHere = true; });
    let documents = 0;
    page.on('request', (req) => { if (req.resourceType() === 'document') documents += 1; });

    const htmx = page.waitForRequest((req) =>
      new URL(req.url()).pathname === '/members' && req.headers()['hx-request'] === 'true' &&
      new URL(req.url()).searchParams.get('q') === 'Recruitsen');
    await page.getByLabel('Search').pressSequentially('Recruitsen', { delay: 20 });
    await htmx;
    await page.locator('#members-results caption', { hasText: '1 member found' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Der, Rea' }).count(), 0);
    await page.getByRole('link', { name }).waitFor();
    assert.equal(await page.evaluate(() => window.__stillHere), true, 'no full page load');
    assert.equal(documents, 0, 'no document was requested, only the htmx fragment');
    // The address reflects the search (hx-push-url), so it can be bookmarked.
    assert.equal(new URL(page.url()).searchParams.get('q'), 'Recruitsen');
    assert.equal(await page.getByLabel('Search').inputValue(), 'Recruitsen');
    await checkA11y(page, 'members (live search)');
  });

  await withPage('member-search-no-js', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.goto('/members');
    await page.getByLabel('Search').fill('Recruitsen');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL((u) => u.searchParams.get('q') === 'Recruitsen');
    await page.locator('#members-results caption', { hasText: '1 member found' }).waitFor();
    await page.getByRole('link', { name }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Der, Rea' }).count(), 0);
    // No axe here: page.evaluate never returns with JavaScript off. The same address, loaded in
    // full, is checked below.
  }, { context: { javaScriptEnabled: false } });

  await withPage('member-search-full-load', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.goto('/members?q=Recruitsen');
    await page.locator('#members-results caption', { hasText: '1 member found' }).waitFor();
    await checkA11y(page, 'members (search results, full page)');
  });
});

// --- notifications, email settings and jobs ---------------------------------------------------
//
// There is no endpoint that creates a notification on request (modules call notify() when
// something happens), so the inbox test seeds the admin's inbox with rows in notification_logs
// through the mariadb client, as the server's notify() would write them.

const INBOX = [
  { subject: 'Drill Thursday at 19:00', message: 'Hose testing behind Station 1.', link: '/members', age: 3 },
  { subject: 'Pump test results are in', message: 'Engine 2 passed its annual pump test.', link: null, age: 2 },
  { subject: 'Station clean-up on Saturday', message: 'Bring gloves.', link: null, age: 1 },
];

function seedInbox(username) {
  const quote = (v) => (v === null ? 'NULL' : `'${v.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`);
  for (const n of INBOX) {
    sql(`INSERT INTO \`${dbName}\`.notification_logs
           (id, organization_id, recipient_id, category, subject, message, action_url, emailed, created_at)
         SELECT UNHEX(REPLACE(UUID(), '-', '')), u.organization_id, u.id, 'announcements',
                ${quote(n.subject)}, ${quote(n.message)}, ${quote(n.link)}, FALSE,
                UTC_TIMESTAMP(6) - INTERVAL ${n.age} MINUTE
           FROM \`${dbName}\`.users u WHERE u.username = ${quote(username)}`);
  }
}

/// The header link's accessible name with `n` unread: "Notifications, 3 unread" (Chromium puts a
/// space before the visually hidden comma).
const unreadLink = (n) => new RegExp(`^Notifications ?, ${n} unread$`);

test('notifications: the header counts unread, opening one follows its link, mark all read clears it', async () => {
  seedInbox(ADMIN.username);
  await withPage('notifications-inbox', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    // The badge is visible, and the link says what it means to a screen reader.
    const badge = page.locator('#unread-count');
    assert.equal(await badge.innerText(), '3');
    assert.ok(await badge.isVisible());
    await page.getByRole('link', { name: unreadLink(3) }).click();
    await page.getByRole('heading', { level: 1, name: 'Notifications' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/notifications');
    const headings = await page.locator('.inbox-item h2').allInnerTexts();
    assert.deepEqual(headings, INBOX.map((n) => n.subject).reverse(), 'newest first');
    assert.equal(await page.locator('.inbox-unread').count(), 3);
    assert.match(await page.locator('main').innerText(), /Times are in [A-Za-z_/]+\./, 'the zone is named');
    await checkA11y(page, 'notifications (3 unread)');
    await page.screenshot({ path: join(artifacts, 'notifications-unread.png'), fullPage: true });

    // Opening one marks it read and follows its link.
    const drill = page.locator('.inbox-item', { hasText: INBOX[0].subject });
    await drill.getByRole('button', { name: 'Open' }).click();
    await page.waitForURL((u) => u.pathname === '/members');
    await page.getByRole('link', { name: unreadLink(2) }).click();
    await page.getByRole('heading', { level: 1, name: 'Notifications' }).waitFor();
    assert.equal(await page.locator('.inbox-item', { hasText: INBOX[0].subject })
      .locator('.badge-unread').count(), 0, 'the opened one is read');

    // Mark one read, then all.
    await page.locator('.inbox-item', { hasText: INBOX[1].subject })
      .getByRole('button', { name: 'Mark read' }).click();
    await page.getByRole('link', { name: unreadLink(1) }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/notifications');
    await page.getByRole('button', { name: 'Mark all read' }).click();
    await page.getByRole('link', { name: 'Unread (0)' }).waitFor();
    assert.equal(await page.locator('#unread-count').count(), 0, 'the badge is gone');
    await page.getByRole('link', { name: 'Notifications', exact: true }).waitFor();
    assert.equal(await page.locator('.inbox-unread').count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Mark all read' }).count(), 0);
    await checkA11y(page, 'notifications (all read)');

    await page.getByRole('link', { name: 'Unread (0)' }).click();
    await page.getByText('No unread notifications.').waitFor();
    await checkA11y(page, 'notifications (no unread)');
  });
});

test('notification settings: turning an email category off is saved, and back to the default', () =>
  withPage('notification-settings', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.goto('/notifications');
    await page.getByRole('link', { name: 'Notification settings' }).click();
    await page.getByRole('heading', { level: 1, name: 'Notification settings' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/account/notifications');
    // Security email cannot be turned off.
    const security = page.getByRole('group', { name: 'Security', exact: true }).getByLabel('Email me');
    assert.equal(await security.isChecked(), true);
    assert.equal(await security.isDisabled(), true);
    await checkA11y(page, 'notification settings');

    const group = () => page.getByRole('group', { name: 'Announcements', exact: true });
    assert.equal(await group().getByLabel('Email me').isChecked(), true);
    assert.match(await group().innerText(), /Following the department default \(email on\)/);
    await group().getByLabel('Email me').uncheck();
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Your notification settings are saved.' }).waitFor();
    assert.equal(new URL(page.url()).search, '?saved=1');
    assert.equal(await group().getByLabel('Email me').isChecked(), false, 'saved off');
    assert.match(await group().innerText(), /Your own choice/);
    await checkA11y(page, 'notification settings (saved)');

    // A fresh load shows the same.
    await page.goto('/account/notifications');
    assert.equal(await group().getByLabel('Email me').isChecked(), false);
    await group().getByRole('button', { name: 'Use the department default for Announcements' }).click();
    await page.getByRole('status').filter({ hasText: 'saved' }).waitFor();
    assert.equal(await group().getByLabel('Email me').isChecked(), true);
    assert.match(await group().innerText(), /Following the department default/);
  }));

test('department settings on a phone: an empty name is shown beside the field; corrected, the FDID is saved', () =>
  withPage('department-settings', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.locator('summary', { hasText: 'Menu' }).click();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { level: 1, name: 'Department' }).waitFor();
    const name = page.getByLabel('Department name');
    assert.equal(await name.inputValue(), ORG_NAME);
    await name.fill('   ');
    await page.getByLabel(/^FDID/).fill('27-041');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('#name-error').waitFor();
    assert.match(await page.locator('#name-error').innerText(), /Department name is required/);
    assert.equal(await page.getByLabel(/^FDID/).inputValue(), '27-041', 'what was typed stays');
    await checkA11y(page, 'department settings (error)');
    await page.screenshot({ path: join(artifacts, 'department-error.png'), fullPage: true });
    await name.fill(ORG_NAME);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText("The department's settings are saved.").waitFor();
    assert.equal(await page.getByLabel(/^FDID/).inputValue(), '27-041');
    assert.ok(await page.getByLabel('Training').isChecked(), 'training stays on');
    for (const found of await page.evaluate(phoneProblems)) assert.fail(`does not fit a phone: ${found}`);
    await page.screenshot({ path: join(artifacts, 'department-saved.png'), fullPage: true });
  }, { expect: [[422, '/settings/department']], context: { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true } }));

test('stations on a phone: a station added after a mistake, a vehicle placed there, the station renamed, a vehicle retired after asking', () =>
  withPage('stations-phone', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.goto('/settings/department');
    await page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Stations' }).click();
    await page.getByRole('heading', { level: 1, name: 'Stations and apparatus' }).waitFor();
    await page.getByRole('link', { name: 'Add a station' }).click();
    await page.getByLabel('Station number (optional)').fill('2');
    await page.getByRole('button', { name: 'Save the station' }).click();
    await page.locator('#name-error').filter({ hasText: /Name is required|Name must/ }).waitFor();
    await checkA11y(page, 'new station (error)');
    await page.screenshot({ path: join(artifacts, 'stations-error.png'), fullPage: true });
    await page.getByLabel('Name', { exact: false }).first().fill('Lakeside');
    await page.getByLabel('City (optional)').fill('Maple Grove');
    await page.getByRole('button', { name: 'Save the station' }).click();
    await page.getByText('The station was saved.').waitFor();
    await page.getByRole('heading', { level: 2, name: 'Station 2 · Lakeside' }).waitFor();

    await page.getByRole('link', { name: 'Add a vehicle' }).click();
    await page.getByLabel('Unit number').fill('T2');
    await page.getByLabel('Type').selectOption('tanker');
    await page.getByLabel('Station').selectOption({ label: 'Station 2 · Lakeside' });
    await page.getByRole('button', { name: 'Save the vehicle' }).click();
    await page.getByText('The vehicle was saved.').waitFor();
    const card = page.getByRole('region', { name: 'Station 2 · Lakeside' });
    await card.getByText('Tanker').waitFor();
    await card.getByText('1 seat, at least 1 to respond').waitFor();

    await card.getByRole('link', { name: 'Edit Station 2 · Lakeside' }).click();
    await page.getByLabel('Name', { exact: false }).first().fill('Lakeside Road');
    await page.getByRole('button', { name: 'Save the station' }).click();
    await page.getByRole('heading', { level: 2, name: 'Station 2 · Lakeside Road' }).waitFor();
    await checkA11y(page, 'stations list');
    await page.screenshot({ path: join(artifacts, 'stations-list.png'), fullPage: true });

    await page.getByRole('link', { name: 'T2' }).click();
    await page.getByText('Retire…').click();
    await checkA11y(page, 'vehicle (retire asks first)');
    await page.screenshot({ path: join(artifacts, 'stations-vehicle-retire.png'), fullPage: true });
    await page.getByRole('button', { name: 'Yes, retire it' }).click();
    await page.getByText('Retired: it stays in the records').waitFor();
    await page.getByText('Retired (1)').click();
    await page.getByRole('link', { name: 'T2' }).waitFor();
  }, { expect: [[422, '/settings/stations/new']], context: { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true } }));

test('email settings: a bad port is shown beside the field; corrected, the settings are saved', async () => {
  // A port nothing listens on: the test message's connection is refused at once.
  const closedPort = String(await freePort());
  const smtpPassword = 'pump panel secret words';
  await withPage('email-settings', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.getByRole('link', { name: 'Settings', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Department' }).waitFor();
    await page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Email' }).click();
    await page.getByRole('heading', { level: 1, name: 'Email settings' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/settings/email');
    await checkA11y(page, 'email settings');

    await page.getByLabel(/^Mail server/).fill('127.0.0.1');
    await page.getByLabel(/^Port/).fill('99999');
    await page.getByLabel(/^Security/).selectOption('none');
    await page.getByLabel('User name').fill('station5');
    await page.getByLabel('Password', { exact: true }).fill(smtpPassword);
    await page.getByLabel(/^From address/).fill('logbook@example.org');
    await page.getByRole('button', { name: 'Save email settings' }).click();
    const portError = page.locator('#port-error');
    await portError.waitFor();
    assert.match(await portError.innerText(), /Port must be between 1 and 65535/);
    assert.equal(await page.getByLabel(/^Port/).getAttribute('aria-invalid'), 'true');
    assert.equal(await page.getByLabel(/^Mail server/).inputValue(), '127.0.0.1', 'kept');
    assert.equal(await page.getByLabel('Password', { exact: true }).inputValue(), '', 'never sent back');
    assert.equal(await page.getByLabel(/^Security/).inputValue(), 'none');
    await checkA11y(page, 'email settings (error)');

    await page.getByLabel(/^Port/).fill(closedPort);
    await page.getByLabel('Password', { exact: true }).fill(smtpPassword);
    await page.getByRole('button', { name: 'Save email settings' }).click();
    await page.getByRole('status').filter({ hasText: 'Email settings saved.' }).waitFor();
    assert.equal(await page.getByLabel(/^Port/).inputValue(), closedPort);
    const password = page.getByLabel('Password', { exact: true });
    assert.equal(await password.inputValue(), '');
    assert.equal(await password.getAttribute('placeholder'), 'stored — leave blank to keep');
    assert.ok(!(await page.content()).includes(smtpPassword), 'the password is not in the page');
    await checkA11y(page, 'email settings (saved)');

    // The test message reports the server's answer: here, that nobody answered.
    await page.getByRole('button', { name: 'Send a test message' }).click();
    const result = page.locator('.test-result');
    await result.waitFor();
    assert.match(await result.innerText(), /Not delivered to admin@example\.org/);
    assert.match(await result.innerText(), /The server answered: \S/);
    await checkA11y(page, 'email settings (test message)');

    // Turn email off again so that later tests queue nothing for a server that is not there.
    await page.getByLabel('Send email').uncheck();
    await page.getByRole('button', { name: 'Save email settings' }).click();
    await page.getByRole('status').filter({ hasText: 'Email settings saved.' }).waitFor();
    assert.match(await page.locator('main').innerText(), /Email is turned off/);
  }, { expect: [[422, '/settings/email']] });
});

test('jobs: "Run now" runs the job and says how it went; the history lists the run', () =>
  withPage('jobs-run-now', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.goto('/settings/email');
    await page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Jobs' }).click();
    await page.getByRole('heading', { level: 1, name: 'Jobs' }).waitFor();
    await checkA11y(page, 'jobs');

    const job = page.locator('#job-purge_sessions');
    await job.getByRole('button', { name: 'Run now' }).click();
    await page.waitForURL((u) => u.searchParams.get('ran') === 'purge_sessions');
    const said = page.getByRole('status');
    const title = await job.getByRole('heading', { level: 2 }).innerText();
    assert.match(title, /^Clean up expired sessions/);
    assert.equal(await said.innerText().then((t) => t.startsWith(`“${title}” ran: succeeded, `)), true,
      await said.innerText());
    assert.match(await job.innerText(), /Last run\s+succeeded/);
    await checkA11y(page, 'jobs (ran)');

    await job.getByRole('link', { name: `Run history of ${title}` }).click();
    await page.getByRole('heading', { level: 1, name: title }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/settings/jobs/purge_sessions');
    const rows = page.locator('tbody tr');
    assert.ok((await rows.count()) >= 1);
    assert.match(await rows.first().innerText(), /Run now\s+succeeded/);
    await checkA11y(page, 'job history');

    await page.getByLabel('Outcome').selectOption('failed');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.getByText('No runs with this outcome.').waitFor();
  }));

/// A self-signed server certificate for localhost and its key, made with openssl (PEM text).
function serverCertificate(name) {
  const dir = mkdtempSync(join(tmpdir(), `logbook-cert-${name}-`));
  try {
    writeFileSync(join(dir, 'openssl.cnf'), [
      '[req]', 'distinguished_name = dn', 'x509_extensions = server', 'prompt = no',
      '[dn]', `CN = ${name}.localhost`,
      '[server]', 'basicConstraints = critical,CA:FALSE', 'keyUsage = digitalSignature',
      'extendedKeyUsage = serverAuth', 'subjectAltName = DNS:localhost,IP:127.0.0.1', '',
    ].join('\n'));
    execFileSync('openssl', ['req', '-x509', '-config', join(dir, 'openssl.cnf'), '-newkey', 'ec',
      '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    return {
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/// Whether the page's content (not the header) is wider than its column: on a phone it would
/// scroll sideways.
async function scrollsSideways(page) {
  return page.evaluate(() => {
    const main = document.querySelector('main');
    return main.scrollWidth > main.clientWidth || main.getBoundingClientRect().right > window.innerWidth;
  });
}

test('the certificate page (/tls) is the app\'s own page, readable on a phone without signing in', () =>
  withPage('tls-trust-phone', async (page) => {
    await page.goto('/tls');
    await page.getByRole('heading', { level: 1, name: /Trust this server/ }).waitFor();
    // This server runs without HTTPS: the page says there is nothing to install.
    assert.match(await page.locator('main').innerText(), /nothing to install/);
    assert.equal(await scrollsSideways(page), false, 'fits a phone screen');
    await checkA11y(page, 'certificate trust page (phone)');
  }, { context: { viewport: { width: 360, height: 740 } } }));

test('HTTPS settings on a phone: a key that is not the certificate\'s is refused beside it; the right pair is stored; removing it asks first', () => {
  const own = serverCertificate('own');
  const other = serverCertificate('other');
  return withPage('settings-https-phone', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.goto('/settings/email');
    await page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'HTTPS' }).click();
    await page.getByRole('heading', { level: 1, name: 'HTTPS' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/settings/https');
    // This server runs without HTTPS (tls = "off"): the page says so and still takes an upload.
    assert.match(await page.locator('main').innerText(), /HTTPS is off/);
    assert.equal(await page.getByRole('link', { name: /How to trust this server/ }).getAttribute('href'), '/tls');
    assert.equal(await scrollsSideways(page), false, 'fits a phone screen');
    await checkA11y(page, 'HTTPS settings (phone)');

    await page.getByLabel(/^Certificate/).fill(own.cert);
    await page.getByLabel(/^Private key/).fill(other.key);
    await page.getByRole('button', { name: 'Check and store this certificate' }).click();
    const keyError = page.locator('#private_key-error');
    await keyError.waitFor();
    assert.match(await keyError.innerText(), /^Private key does not belong to this certificate/);
    assert.equal(await page.getByLabel(/^Private key/).getAttribute('aria-invalid'), 'true');
    assert.equal(await page.getByLabel(/^Private key/).inputValue(), '', 'the key is never sent back');
    assert.equal((await page.getByLabel(/^Certificate/).inputValue()).trim(), own.cert.trim(), 'kept');
    assert.equal(await scrollsSideways(page), false, 'fits a phone screen with the error');
    await checkA11y(page, 'HTTPS settings (phone, refused key)');

    await page.getByLabel(/^Private key/).fill(own.key);
    await page.getByRole('button', { name: 'Check and store this certificate' }).click();
    await page.getByRole('status').filter({ hasText: 'Certificate stored.' }).waitFor();
    const stored = await page.locator('main').innerText();
    assert.match(stored, /Uploaded certificate \(not in use\)/);
    assert.match(stored, /localhost, 127\.0\.0\.1/);
    assert.equal(await scrollsSideways(page), false, 'the fingerprint wraps on a phone');
    await checkA11y(page, 'HTTPS settings (phone, stored)');

    // Removing it asks first.
    await page.getByRole('link', { name: 'Remove the uploaded certificate' }).click();
    await page.getByRole('heading', { level: 1, name: 'Remove the uploaded certificate?' }).waitFor();
    await checkA11y(page, 'HTTPS settings (phone, confirm removal)');
    await page.getByRole('button', { name: 'Remove the uploaded certificate' }).click();
    await page.getByRole('status').filter({ hasText: 'The uploaded certificate was removed.' }).waitFor();
    assert.doesNotMatch(await page.locator('main').innerText(), /Uploaded certificate \(not in use\)/);
  }, { expect: [[422, '/settings/https']], context: { viewport: { width: 390, height: 844 } } });
});

test('backups on a phone: "Back up now" shows it listed and checked; deleting it asks first', () =>
  withPage('settings-backups-phone', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.goto('/settings/email');
    await page.getByRole('navigation', { name: 'Settings' }).getByRole('link', { name: 'Backups' }).click();
    await page.getByRole('heading', { level: 1, name: 'Backups' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/settings/backups');
    await checkA11y(page, 'backups');

    await page.getByRole('button', { name: 'Back up now' }).click();
    await page.waitForURL((u) => u.searchParams.get('done') === 'started');
    // Live progress (htmx polls), then the page again with the backup listed.
    await page.getByText('The last backup is done').waitFor({ timeout: 60_000 });
    const rows = page.locator('tbody tr');
    assert.equal(await rows.count(), 1);
    const row = await rows.first().innerText();
    assert.match(row, /logbook-\d{8}-\d{6}-\d{3}-[0-9a-f]+\.lbk/);
    assert.match(row, /Checks out, can be restored/);
    const file = row.match(/logbook-[^\s]+\.lbk/)[0];
    assert.equal(await page.getByRole('link', { name: `Download ${file}` }).getAttribute('href'),
      `/api/v1/backups/${file}/download`);
    assert.equal(await scrollsSideways(page), false, 'the page scrolls sideways on a phone');
    await checkA11y(page, 'backups (made)');

    await page.getByRole('link', { name: `Delete ${file}` }).click();
    await page.getByRole('heading', { level: 1, name: 'Delete this backup?' }).waitFor();
    await checkA11y(page, 'backups (delete)');
    await page.getByRole('button', { name: 'Delete the backup' }).click();
    await page.getByText('The backup was deleted.').waitFor();
    await page.getByText('No backups yet').waitFor();
  }, { context: { viewport: { width: 390, height: 844 } } }));

test('backup encryption: the emergency kit first, then every backup is encrypted', () =>
  withPage('settings-backups-encryption', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.goto('/settings/backups');
    await page.getByText('New backups are not encrypted').waitFor();
    await page.getByRole('link', { name: 'Backup encryption' }).click();
    await page.getByRole('heading', { level: 1, name: 'Backup encryption' }).waitFor();
    await checkA11y(page, 'backup encryption');
    const passphrase = await page.locator('#passphrase').inputValue();
    assert.match(passphrase, /^([2-9a-z]{4}-){7}[2-9a-z]{4}$/);

    // The kit downloads with the passphrase in it.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download the emergency kit' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'logbook-emergency-kit.txt');
    const kit = readFileSync(await download.path(), 'utf8');
    assert.ok(kit.includes(`    ${passphrase}\n`), kit);
    assert.ok(kit.includes(ORG_NAME), kit);

    // Not ticked: the reason beside the box, nothing set.
    await page.locator('#confirm').fill(passphrase.slice(-4));
    await page.getByRole('button', { name: 'Encrypt backups from now on' }).click();
    await page.locator('#kept-error').waitFor();
    await checkA11y(page, 'backup encryption (refused)');
    assert.equal(await page.locator('#passphrase').inputValue(), passphrase);

    await page.locator('#confirm').fill(passphrase.slice(-4));
    await page.getByRole('checkbox', { name: /I have saved the emergency kit/ }).check();
    await page.getByRole('button', { name: 'Encrypt backups from now on' }).click();
    await page.getByRole('status').filter({ hasText: 'Backups are encrypted from now on' }).waitFor();
    await page.getByRole('heading', { level: 2, name: 'Backups are encrypted' }).waitFor();

    // A backup made now is encrypted, and checks out with the server's passphrase.
    await page.getByRole('link', { name: 'Back to the backups' }).click();
    await page.getByRole('button', { name: 'Back up now' }).click();
    await page.getByText('The last backup is done').waitFor({ timeout: 60_000 });
    const row = await page.locator('tbody tr').first().innerText();
    assert.match(row, /Encrypted/);
    assert.match(row, /Checks out, can be restored/);
    await checkA11y(page, 'backups (encrypted)');

    // Off again, after asking.
    await page.getByRole('link', { name: 'Backup encryption' }).click();
    await page.getByRole('link', { name: 'Turn encryption off' }).click();
    await page.getByRole('heading', { level: 1, name: 'Turn backup encryption off?' }).waitFor();
    await page.getByRole('button', { name: 'Turn encryption off' }).click();
    await page.getByRole('status').filter({ hasText: 'Backups are no longer encrypted' }).waitFor();
  }, {
    expect: [[422, '/settings/backups/encryption']],
    downloads: ['/settings/backups/encryption/kit'],
    context: { acceptDownloads: true },
  }));

/// Makes a backup on the main server through the API and saves it to a file; its path.
async function archiveFile() {
  const token = await apiLogin(ADMIN.username, ADMIN.password);
  const started = await api('POST', '/api/v1/backups', token);
  assert.equal(started.status, 202, JSON.stringify(started.body));
  let run;
  for (let i = 0; i < 600; i += 1) {
    run = (await api('GET', '/api/v1/backups/progress', token)).body;
    if (!run.running) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(run.error, null, JSON.stringify(run));
  const res = await fetch(`${base}/api/v1/backups/${run.result.file}/download`, {
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(res.status, 200);
  const path = join(mkdtempSync(join(tmpdir(), 'logbook-archive-')), 'station-backup.lbk');
  writeFileSync(path, Buffer.from(await res.arrayBuffer()));
  return path;
}

test('backups: an uploaded archive is listed, and restoring it asks first, shows progress and ends in signing in again', async () => {
  const archive = await archiveFile();
  await withPage('settings-backups-restore', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.goto('/settings/backups');
    // Nothing chosen: said beside the field.
    await page.getByRole('button', { name: 'Upload' }).click();
    await page.locator('#archive-error').filter({ hasText: 'Choose a backup file first.' }).waitFor();
    await checkA11y(page, 'backups (upload, nothing chosen)');

    await page.getByLabel('Backup file (.lbk)').setInputFiles(archive);
    await page.getByRole('button', { name: 'Upload' }).click();
    await page.waitForURL((u) => u.searchParams.get('done') === 'uploaded');
    const file = new URL(page.url()).searchParams.get('file');
    assert.match(file, /^uploaded-\d{8}-\d{6}-[0-9a-f]{8}\.lbk$/);
    await page.getByRole('status').filter({ hasText: `${file} was uploaded.` }).waitFor();
    const row = page.locator('tbody tr').filter({ hasText: file });
    assert.match(await row.innerText(), /\(uploaded\)/);
    assert.match(await row.innerText(), /Checks out, can be restored/);
    await checkA11y(page, 'backups (uploaded)');

    await page.getByRole('link', { name: `Restore ${file}` }).click();
    await page.getByRole('heading', { level: 1, name: 'Restore this backup?' }).waitFor();
    const what = await page.locator('main').innerText();
    assert.match(what, /All current data is replaced by the backup's/);
    assert.match(what, /safety backup/);
    assert.match(what, /Everyone has to sign in again/);
    await checkA11y(page, 'backups (confirm restore)');
    await page.screenshot({ path: join(artifacts, 'settings-backups-restore-1-confirm.png'), fullPage: true });
    await page.getByRole('button', { name: 'Replace all data with this backup' }).click();

    assert.equal(new URL(page.url()).pathname, '/settings/backups/restore');
    await page.getByText(`The backup ${file} was restored`).waitFor({ timeout: 120_000 });
    assert.match(await page.locator('main').innerText(), /safety backup logbook-\d{8}/);
    await checkA11y(page, 'backups (restored)');
    await page.getByRole('link', { name: 'Sign in' }).click();
    await page.getByText('The backup was restored.').waitFor();
    await checkA11y(page, 'sign-in (after a restore)');
    await page.getByLabel('Username or e-mail').fill(ADMIN.username);
    await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: ORG_NAME }).waitFor();
  });
});

test('announcements: a missing title is shown beside the field; posted, it is on the dashboard until dismissed', () =>
  withPage('announcements', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.getByRole('link', { name: 'Announcements' }).first().click();
    await page.getByRole('heading', { level: 1, name: 'Announcements' }).waitFor();
    await page.goto('/announcements/new');
    await page.getByLabel('Message').fill('Hose testing Saturday at 09:00.\n\nBring turnout gear.');
    await page.getByRole('button', { name: 'Post the announcement' }).click();
    await page.locator('#title-error').waitFor();
    assert.equal(await page.getByLabel('Message').inputValue(),
      'Hose testing Saturday at 09:00.\n\nBring turnout gear.', 'what was typed is kept');
    await checkA11y(page, 'announcement form (error)');

    await page.getByLabel('Title').fill('Hose testing');
    await page.getByRole('button', { name: 'Post the announcement' }).click();
    await page.getByText(/Announcement posted/).waitFor();
    assert.equal(new URL(page.url()).pathname, '/announcements');
    await checkA11y(page, 'announcements (posted)');

    await page.goto('/');
    const card = page.locator('section, article').filter({ has: page.getByRole('heading', { name: 'Hose testing' }) });
    await card.first().waitFor();
    assert.match(await card.first().innerText(), /Bring turnout gear/);
    await checkA11y(page, 'dashboard with an announcement');
    await card.first().getByRole('button', { name: 'Dismiss' }).click();
    await page.getByRole('heading', { name: 'Hose testing' }).waitFor({ state: 'detached' });
    await page.reload();
    assert.equal(await page.getByRole('heading', { name: 'Hose testing' }).count(), 0, 'stays dismissed');
  }, { expect: [[422, '/announcements/new']] }));

test('training: a crew is recorded, a member submits outside training, an officer approves it, the matrix shows it, the ISO report prints', async () => {
  const token = await apiLogin(ADMIN.username, ADMIN.password);
  const year = new Date().getFullYear();
  const requirement = await api('POST', '/api/v1/training/requirements', token, {
    name: 'Annual structural training', requirement_type: 'hours', required_hours: 24, period: 'annual',
  });
  assert.equal(requirement.status, 201, JSON.stringify(requirement.body));
  const temporary = 'temporary training words';
  const trainees = [];
  for (const [username, first, last] of [['ff-ortiz', 'Ana', 'Ortiz'], ['ff-lund', 'Ola', 'Lund']]) {
    const created = await api('POST', '/api/v1/members', token, {
      username, email: `${username}@example.org`, first_name: first, last_name: last,
      temporary_password: temporary,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    trainees.push(created.body);
  }
  const today = new Date().toISOString().slice(0, 10);

  // The officer records a drill for the crew.
  await withPage('training-record', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Training' }).click();
    await page.getByRole('heading', { level: 1, name: 'Your training' }).waitFor();
    await checkA11y(page, 'training (officer)');
    await page.getByRole('link', { name: 'Record training' }).click();
    await page.getByRole('heading', { level: 1, name: 'Record training' }).waitFor();
    await checkA11y(page, 'record training');
    // A mistake first: no one ticked, negative hours.
    await page.getByLabel('Training', { exact: true }).fill('Hose drill at the tower');
    await page.getByLabel('Hours').fill('-3');
    await page.getByRole('button', { name: 'Record the training' }).click();
    await page.locator('#user_ids-error').waitFor();
    assert.match(await page.locator('#hours-error').innerText(), /Hours must not be negative/);
    await checkA11y(page, 'record training (refused)');
    await page.getByLabel('Ortiz, Ana').check();
    await page.getByLabel('Lund, Ola').check();
    await page.getByLabel('Hours').fill('3');
    await page.getByLabel('Date').fill(today);
    await page.getByRole('button', { name: 'Record the training' }).click();
    await page.getByText('The training was recorded for 2 members.').waitFor();
    assert.match(await page.locator('tbody').innerText(), /Hose drill at the tower/);
    // The crew is one line, opening on its attendees.
    assert.equal(await page.locator('tbody tr').count(), 1);
    await checkA11y(page, 'training records');
    await page.screenshot({ path: join(artifacts, 'training-records-crew.png'), fullPage: true });
    await page.getByRole('link', { name: 'Crew of 2' }).click();
    await page.getByRole('heading', { level: 1, name: 'Hose drill at the tower' }).waitFor();
    const attendees = await page.locator('tbody').innerText();
    assert.match(attendees, /Ortiz, Ana|Ana Ortiz/);
    assert.match(attendees, /Lund, Ola|Ola Lund/);
    await checkA11y(page, 'crew session');
    await page.screenshot({ path: join(artifacts, 'training-session.png'), fullPage: true });
    // A record is corrected: the reason is required, then the list says it was corrected.
    await page.getByRole('link', { name: /^Correct/ }).first().click();
    await page.getByRole('heading', { level: 1, name: 'Correct this record' }).waitFor();
    await checkA11y(page, 'correct a training record');
    await page.getByLabel('Certificate number (optional)').fill('TWR-2026-01');
    await page.getByRole('button', { name: 'Save the correction' }).click();
    await page.locator('#reason-error').waitFor();
    await checkA11y(page, 'correct a training record (no reason)');
    await page.getByLabel('Reason').fill('The tower drill had a certificate number');
    await page.getByRole('button', { name: 'Save the correction' }).click();
    await page.getByText('The record was corrected.').waitFor();
    await page.screenshot({ path: join(artifacts, 'training-record-corrected.png'), fullPage: true });
  }, { expect: [[422, '/training/record'], [422, /^\/training\/records\/[0-9a-f-]+\/correct$/]] });

  // A member submits training from elsewhere.
  await withPage('training-submit', async (page) => {
    await signIn(page, 'ff-ortiz', temporary);
    await page.getByLabel('Current password').fill(temporary);
    await page.getByLabel('New password').fill('a long night of pump training');
    await page.getByRole('button', { name: 'Change password' }).click();
    // The change lands on the dashboard; going on before it has loaded aborts that load.
    await page.getByRole('heading', { level: 1, name: ORG_NAME }).waitFor();
    await page.goto('/training');
    await page.getByRole('heading', { level: 1, name: 'Your training' }).waitFor();
    assert.match(await page.locator('main').innerText(), /3 of 24 hours/);
    await checkA11y(page, 'training (member)');
    await page.getByRole('link', { name: 'Submit training from elsewhere' }).click();
    await page.getByLabel('What you took').fill('County academy: aerial operations');
    await page.getByLabel('Kind of training').selectOption('specialty');
    await page.getByLabel('Completed on').fill(today);
    await page.getByLabel('Hours').fill('21');
    await checkA11y(page, 'submit training');
    await page.getByRole('button', { name: 'Submit for review' }).click();
    await page.getByText('A training officer will review it.').waitFor();
    assert.match(await page.locator('main').innerText(), /Pending review/);
  }, { context: { viewport: { width: 390, height: 844 } } });

  // The officer approves it; the matrix shows the member green; the ISO report prints.
  await withPage('training-review', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.goto('/training/matrix?q=Ortiz');
    const before = await page.locator('tbody tr').first().innerText();
    assert.match(before, /Red: behind/);
    await page.goto('/');
    await page.getByRole('link', { name: '1 submitted training waiting for review' }).click();
    await page.getByRole('heading', { level: 1, name: 'Training to review' }).waitFor();
    await checkA11y(page, 'training to review');
    await page.getByRole('button', { name: /^Approve County academy: aerial operations of Ana Ortiz$/ }).click();
    await page.getByText('Approved: the training is in the member').waitFor();
    await page.getByRole('link', { name: 'Training', exact: true }).first().click();
    await page.goto('/training/matrix?q=Ortiz');
    await checkA11y(page, 'training matrix');
    const after = await page.locator('tbody tr').first().innerText();
    assert.match(after, /Green: up to date/);
    assert.match(after, /Met/);

    await page.goto(`/training/reports/iso?from=${year}-01-01&to=${year}-12-31`);
    await page.getByRole('heading', { level: 1, name: 'ISO training report' }).waitFor();
    await checkA11y(page, 'ISO report');
    await page.emulateMedia({ media: 'print' });
    assert.equal(await page.getByRole('button', { name: 'Print' }).isVisible(), false, 'the controls are not printed');
    assert.equal(await page.getByRole('table').isVisible(), true);
    const pdf = await page.pdf({ format: 'A4', landscape: true });
    assert.ok(pdf.length > 1000 && pdf.subarray(0, 5).toString() === '%PDF-');
    await page.emulateMedia({ media: 'screen' });
    const res = await page.request.get(`/api/v1/training/reports/iso?from=${year}-01-01&to=${year}-12-31&format=pdf`);
    assert.equal(res.status(), 200);
    assert.equal(res.headers()['content-type'], 'application/pdf');
  });
});

test('programs: a program is built with a mistake first, a shift report is approved, the phase signed off, the trainee acknowledges', async () => {
  const token = await apiLogin(ADMIN.username, ADMIN.password);
  const temporary = 'temporary program words';
  const people = {};
  for (const [username, first, last] of [['ff-rookie', 'Quinn', 'Rookie'], ['lt-review', 'Rae', 'Reviewer']]) {
    const created = await api('POST', '/api/v1/members', token, {
      username, email: `${username}@example.org`, first_name: first, last_name: last,
      temporary_password: temporary,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    people[username] = created.body;
  }
  const roles = await api('GET', '/api/v1/roles', token);
  const officer = roles.body.find((r) => r.slug === 'training_officer');
  const assigned = await api('POST', `/api/v1/members/${people['lt-review'].id}/roles`, token, { role_id: officer.id });
  assert.equal(assigned.status, 200, JSON.stringify(assigned.body));
  const firstSignIn = async (page, username, password) => {
    await signIn(page, username, temporary);
    await page.getByLabel('Current password').fill(temporary);
    await page.getByLabel('New password').fill(password);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.waitForLoadState();
  };

  // The admin builds the program (a name forgotten first), enrolls the rookie and reports on a shift.
  await withPage('programs-build', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.goto('/training');
    await page.getByRole('navigation', { name: 'Training officer' }).getByRole('link', { name: 'Programs' }).click();
    await page.getByRole('link', { name: 'New program' }).click();
    await page.getByRole('button', { name: 'Create the program' }).click();
    assert.match(await page.locator('#name-error').innerText(), /Name is required/);
    await checkA11y(page, 'new program (refused)');
    await page.getByLabel('Name').fill('Probationary firefighter');
    await page.getByLabel('Time limit in days (optional)').fill('365');
    await page.getByRole('button', { name: 'Create the program' }).click();
    await page.getByText('The program was created.').waitFor();
    await page.getByLabel('Phase name').fill('Riding');
    await page.getByLabel('An officer signs this phase off before the member moves on').check();
    await page.getByRole('button', { name: 'Add the phase' }).click();
    await page.getByText('The phase was added.').waitFor();
    for (const [kind, name] of [['shifts', 'Ride-along shifts'], ['skill', 'SCBA donning']]) {
      await page.getByLabel('Kind').selectOption(kind);
      await page.getByLabel('Name', { exact: true }).fill(name);
      await page.getByRole('button', { name: 'Add the item' }).click();
      await page.getByText('The item was added').waitFor();
    }
    await page.locator('#user_id').selectOption({ label: 'Rookie, Quinn' });
    await page.getByRole('button', { name: 'Enroll' }).click();
    await page.getByText('The member was enrolled and told.').waitFor();
    assert.match(await page.locator('#enrolled').innerText(), /Quinn Rookie\s+Active\s+Riding\s+0 %/);
    await checkA11y(page, 'program');

    await page.goto('/training/shift-reports/new');
    await page.locator('#trainee_id').selectOption({ label: 'Rookie, Quinn' });
    await page.getByLabel('Hours on shift').fill('12');
    await page.getByLabel('Skills observed (optional)').fill('SCBA donning');
    await page.getByLabel('Narrative (optional)').fill('Steady at the pump panel.\nAsk more questions on scene.');
    await checkA11y(page, 'shift report form');
    await page.getByRole('button', { name: 'Send for review' }).click();
    await page.getByText('The report was sent for review.').waitFor();
    await checkA11y(page, 'shift report');
  }, { expect: [[422, '/training/programs/new']] });

  // Another officer approves it on a phone, then signs the phase off.
  await withPage('programs-review', async (page) => {
    await firstSignIn(page, 'lt-review', 'ladder forty two words');
    await page.goto('/training/shift-reports');
    await checkA11y(page, 'shift reports to review');
    await page.getByRole('link', { name: /report on Quinn Rookie/ }).click();
    await page.getByRole('button', { name: 'Record the review' }).click();
    await page.getByText('The report was approved and credited').waitFor();
    await page.goto('/training/programs');
    await page.getByRole('link', { name: 'Probationary firefighter' }).click();
    await page.getByRole('link', { name: 'Quinn Rookie' }).click();
    await page.getByText('Riding is done and waits for an officer').waitFor();
    await checkA11y(page, 'enrollment awaiting sign-off');
    await page.getByRole('button', { name: 'Sign off the phase' }).click();
    await page.getByText('The phase was signed off.').waitFor();
    assert.match(await page.locator('.facts').innerText(), /Completed/);
  }, { context: { viewport: { width: 390, height: 844 } } });

  // The trainee sees the program done and acknowledges the report.
  await withPage('programs-trainee', async (page) => {
    await firstSignIn(page, 'ff-rookie', 'hydrant ninety words');
    await page.goto('/training');
    await page.getByRole('link', { name: 'Your programs' }).click();
    assert.match(await page.locator('main').innerText(), /Probationary firefighter: Completed, 100 % done/);
    await page.goto('/training');
    await page.getByRole('link', { name: 'Reports on your shifts' }).click();
    await page.getByRole('link', { name: /report on Quinn Rookie/ }).click();
    assert.match(await page.locator('main').innerText(), /Ask more questions on scene\./);
    await page.getByRole('button', { name: 'I have read it' }).click();
    await page.getByText('the report is acknowledged').waitFor();
    await checkA11y(page, 'shift report (trainee)');
  }, { context: { viewport: { width: 390, height: 844 } } });
});

test('training admin: a waiver granted after a mistake, a CSV with a bad row then a good one, a tier edited', async () => {
  const token = await apiLogin(ADMIN.username, ADMIN.password);
  const created = await api('POST', '/api/v1/members', token, {
    username: 'ff-waivered', email: 'ff-waivered@example.org', first_name: 'Wim', last_name: 'Waivered',
    temporary_password: 'temporary waiver words',
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));

  await withPage('training-admin', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.goto('/training');
    await page.getByRole('navigation', { name: 'Training officer' }).getByRole('link', { name: 'Waivers' }).click();
    await page.getByRole('heading', { level: 1, name: 'Training waivers' }).waitFor();

    // A waiver: the end before the start first, shown beside the field; then right.
    await page.getByLabel(/^Member\b/).selectOption({ label: 'Waivered, Wim' });
    await page.getByLabel('Kind of waiver').selectOption('medical');
    await page.getByLabel(/^From\b/).fill('2026-03-01');
    await page.getByLabel('Until (optional)').fill('2026-02-01');
    await page.getByRole('button', { name: 'Grant the waiver' }).click();
    assert.match(await page.locator('#end_date-error').innerText(), /Until must not be before the start date/);
    assert.equal(await page.getByLabel('Until (optional)').getAttribute('aria-invalid'), 'true');
    await checkA11y(page, 'waivers (refused)');
    await page.getByLabel('Until (optional)').fill('2026-05-31');
    await page.getByRole('button', { name: 'Grant the waiver' }).click();
    await page.getByText('The waiver was granted.').waitFor();
    assert.match(await page.getByRole('table', { name: 'Waivers, latest first' }).innerText(), /Wim Waivered[\s\S]*03\/01\/2026 to 05\/31\/2026/);
    await checkA11y(page, 'waivers');

    // The import: a bad row shows its error and imports nothing; the good file imports.
    await page.goto('/training/setup');
    await page.getByRole('link', { name: 'Import past records' }).click();
    await page.getByRole('heading', { level: 1, name: 'Import past training records' }).waitFor();
    const good = 'username,course_name,completion_date,hours\nff-waivered,Pump drill at the lake,2025-05-05,2';
    await page.getByLabel('CSV').fill(`${good}\nnobody-here,Pump drill at the lake,2025-05-05,2`);
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.getByRole('heading', { level: 2, name: 'Nothing was imported' }).waitFor();
    const cells = await page.getByRole('table', { name: 'Errors' }).locator('tbody tr').first().locator('td').allInnerTexts();
    assert.deepEqual(cells.slice(0, 2), ['3', 'username'], `${cells}`);
    assert.equal(await page.getByRole('button', { name: /^Import/ }).count(), 0, 'no import button with errors');
    await checkA11y(page, 'import (errors)');
    await page.getByLabel('CSV').fill(good);
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.getByRole('heading', { level: 2, name: 'Ready to import' }).waitFor();
    await page.getByRole('button', { name: 'Import 1 record' }).click();
    await page.getByText('Imported 1 record.').waitFor();
    await page.goto('/training/records?q=lake');
    assert.match(await page.locator('tbody').innerText(), /Pump drill at the lake/);

    // A tier: renamed, and its members made exempt from training.
    await page.goto('/members');
    await page.getByRole('link', { name: 'Membership tiers' }).click();
    await page.getByRole('heading', { level: 1, name: 'Membership tiers' }).waitFor();
    await page.getByRole('link', { name: 'Edit Senior' }).click();
    await page.getByRole('heading', { level: 1, name: 'Edit tier' }).waitFor();
    await checkA11y(page, 'edit tier');
    await page.getByLabel('Name').fill('Senior firefighter');
    await page.getByLabel('Exempt from training requirements').check();
    await page.getByRole('button', { name: 'Save the tier' }).click();
    await page.getByText('The tier was saved.').waitFor();
    assert.match(await page.locator('tbody').innerText(), /Senior firefighter[\s\S]*Exempt from training requirements/);
  }, { expect: [[422, '/training/waivers'], [422, '/training/import']] });
});

test('training: a fiscal-year requirement set on a phone changes what the matrix counts', async () => {
  const token = await apiLogin(ADMIN.username, ADMIN.password);
  const created = await api('POST', '/api/v1/members', token, {
    username: 'ff-fiscal', email: 'ff-fiscal@example.org', first_name: 'Fia', last_name: 'Fiscal',
    temporary_password: 'temporary fiscal words',
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const requirement = await api('POST', '/api/v1/training/requirements', token, {
    name: 'Fiscal drill hours', requirement_type: 'hours', required_hours: 12, period: 'annual',
    applies_to: 'all',
  });
  assert.equal(requirement.status, 201, JSON.stringify(requirement.body));
  // Today and yesterday (in the department's time zone, as the server counts them).
  const status = await api('GET', `/api/v1/training/compliance/${created.body.id}`, token);
  const today = new Date(`${status.body.as_of}T12:00:00Z`);
  const yesterday = new Date(today.getTime() - 86_400_000);
  const iso = (d) => d.toISOString().slice(0, 10);
  for (const [date, hours] of [[iso(today), 2], [iso(yesterday), 3]]) {
    const r = await api('POST', '/api/v1/training/records', token, {
      user_ids: [created.body.id], course_name: 'Pump drill', hours, training_type: 'drill',
      completion_date: date,
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
  const sameYear = today.getUTCFullYear() === yesterday.getUTCFullYear();

  await withPage('training-fiscal-year', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    const cell = async () => {
      await page.goto('/training/matrix?q=Fiscal');
      return page.locator('tbody tr').first().innerText();
    };
    // The calendar year counts both days (unless today is 1 January).
    assert.match(await cell(), sameYear ? /5 \/ 12 h/ : /2 \/ 12 h/);
    // The officer makes it a year starting today: yesterday falls in the year before.
    await page.goto('/training/setup');
    await page.getByRole('link', { name: 'Edit Fiscal drill hours' }).click();
    // A month that does not exist is refused beside its field.
    await page.getByLabel('Year starts: month (1–12)').fill('13');
    await page.getByLabel('Year starts: day').fill(String(today.getUTCDate()));
    await page.getByRole('button', { name: 'Save the requirement' }).click();
    await page.locator('#period_start_month-error').waitFor();
    await checkA11y(page, 'requirement form (refused)');
    await page.getByLabel('Year starts: month (1–12)').fill(String(today.getUTCMonth() + 1));
    await page.getByRole('button', { name: 'Save the requirement' }).click();
    await page.getByText('The requirement was saved.').waitFor();
    const month = today.toLocaleString('en-US', { month: 'long', timeZone: 'UTC' });
    assert.match(await page.locator('main').innerText(), new RegExp(`Annual from ${month} ${today.getUTCDate()}`));
    await checkA11y(page, 'courses and requirements (fiscal year)');
    assert.match(await cell(), /2 \/ 12 h/);
    await page.screenshot({ path: join(artifacts, 'training-fiscal-matrix.png'), fullPage: true });
  }, {
    expect: [[422, /^\/training\/requirements\/[0-9a-f-]+$/]],
    context: { viewport: { width: 360, height: 740 } },
  });
});

test('equipment on a phone: a scanned code opens the item, it is checked out, checked in damaged, shows on the due-list, and its label prints', async () => {
  const token = await apiLogin(ADMIN.username, ADMIN.password);
  const member = await api('POST', '/api/v1/members', token, {
    username: 'ff-gear', email: 'ff-gear@example.org', first_name: 'Gale', last_name: 'Gearson',
    temporary_password: 'temporary gear words',
  });
  assert.equal(member.status, 201, JSON.stringify(member.body));
  const category = await api('POST', '/api/v1/inventory/categories', token, {
    name: 'Thermal cameras', item_type: 'electronics', inspection_interval_days: 180,
  });
  assert.equal(category.status, 201, JSON.stringify(category.body));
  const status = await api('GET', `/api/v1/training/compliance/${member.body.id}`, token);
  const today = status.body.as_of;
  const item = await api('POST', '/api/v1/inventory/items', token, {
    name: 'Thermal camera TIC-2', category_id: category.body.id, serial_number: 'TIC2-88817',
    next_inspection_due: today,
  });
  assert.equal(item.status, 201, JSON.stringify(item.body));
  const itemPath = `/inventory/items/${item.body.id}`;

  await withPage('inventory-phone', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.goto('/inventory');
    // A code no label has: said beside the box.
    await page.getByLabel('Scan or type a code').fill('TIC2-00000');
    await page.getByRole('button', { name: 'Open' }).click();
    await page.locator('#code-error').waitFor();
    assert.match(await page.locator('#code-error').innerText(), /TIC2-00000/);
    await checkA11y(page, 'equipment list (unknown code)');
    // The serial on the camera's plate opens it.
    await page.getByLabel('Scan or type a code').fill('TIC2-88817');
    await page.getByRole('button', { name: 'Open' }).click();
    await page.getByRole('heading', { level: 1, name: /Thermal camera TIC-2/ }).waitFor();
    assert.equal(new URL(page.url()).pathname, itemPath);
    // Checked out to the member, due back by the default day.
    await page.locator('#checkout-user').selectOption({ label: 'Gale Gearson' });
    await page.getByRole('button', { name: 'Check out', exact: true }).click();
    await page.getByText('Checked out.', { exact: true }).waitFor();
    assert.match(await page.locator('main').innerText(), /Checked out to Gale Gearson, due back/);
    await checkA11y(page, 'item checked out');
    // Back damaged: what is wrong must be said first.
    await page.getByLabel('Condition it came back in').selectOption('damaged');
    await page.getByRole('button', { name: 'Check in', exact: true }).click();
    await page.locator('#back-notes-error').waitFor();
    await checkA11y(page, 'check-in refused');
    await page.screenshot({ path: join(artifacts, 'inventory-checkin-refused.png'), fullPage: true });
    await page.getByLabel('What is wrong (if damaged)').fill('Cracked lens cover');
    await page.getByRole('button', { name: 'Check in', exact: true }).click();
    await page.getByText('Checked in.', { exact: true }).waitFor();
    assert.match(await page.locator('h1').innerText(), /In maintenance/);
    assert.match(await page.locator('main').innerText(), /Cracked lens cover/);
    // The due-list has its inspection, due today.
    await page.goto('/inventory/due');
    assert.match(await page.locator('main').innerText(), /Thermal camera TIC-2/);
    await checkA11y(page, 'due-list');
    await page.screenshot({ path: join(artifacts, 'inventory-due.png'), fullPage: true });
    // Its label: a QR code with the item's barcode.
    await page.goto(itemPath);
    await page.getByRole('link', { name: 'Label' }).click();
    await page.locator('.label svg').first().waitFor();
    assert.match(await page.locator('.labels').innerText(), new RegExp(item.body.barcode));
    await checkA11y(page, 'labels');
    await page.screenshot({ path: join(artifacts, 'inventory-labels.png'), fullPage: true });
    for (const found of await page.evaluate(phoneProblems)) assert.fail(`labels on a phone: ${found}`);
  }, {
    expect: [[404, '/inventory/lookup'], [422, `${itemPath}/checkin`]],
    context: { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true },
  });
});

test('events on phones: an officer creates a monthly drill, a member answers in one tap and checks in by the QR link, the officer finalizes, and the member sees the hours', async () => {
  const token = await apiLogin(ADMIN.username, ADMIN.password);
  const member = await api('POST', '/api/v1/members', token, {
    username: 'ff-drill', email: 'ff-drill@example.org', first_name: 'Dana', last_name: 'Drillman',
    temporary_password: 'temporary drill words',
  });
  assert.equal(member.status, 201, JSON.stringify(member.body));
  const org = await api('GET', '/api/v1/organization', token);
  // The drill started 30 minutes ago, in the department's own time.
  const wall = (ms) => {
    const parts = Object.fromEntries(new Intl.DateTimeFormat('en-CA', {
      timeZone: org.body.timezone, year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
    }).formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
    return { day: `${parts.year}-${parts.month}-${parts.day}`, time: `${parts.hour}:${parts.minute}` };
  };
  const start = wall(Date.now() - 30 * 60_000);
  const end = wall(Date.now() + 90 * 60_000);
  const until = wall(Date.now() + 95 * 24 * 3600_000).day;
  const phone = { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true };
  let eventPath;
  await withPage('events-create-phone', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.goto('/events');
    await page.getByRole('link', { name: 'New event' }).click();
    await page.getByLabel('Title').fill('Monthly hose drill');
    await page.getByLabel('Day').fill(start.day);
    await page.getByLabel('Starts').fill(start.time);
    // An end before the start on the same day is the next morning; 2 hours is what we mean.
    await page.getByLabel('Ends').fill(end.time);
    await page.getByLabel('Repeats').selectOption('monthly');
    // No last day: said beside the field, nothing saved.
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('#until-error').waitFor();
    await checkA11y(page, 'event form (refused)');
    await page.screenshot({ path: join(artifacts, 'events-form-refused.png'), fullPage: true });
    await page.getByLabel('Until', { exact: true }).fill(until);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('The series is saved').waitFor();
    eventPath = new URL(page.url()).pathname;
    assert.match(await page.locator('main').innerText(), /Monthly on day \d+ until/);
    await checkA11y(page, 'event (officer)');
    await page.screenshot({ path: join(artifacts, 'events-created.png'), fullPage: true });
    // A map for the drill, attached from the phone.
    await page.locator('#attachment').setInputFiles({
      name: 'Hydrant map.pdf', mimeType: 'application/pdf',
      buffer: Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n'),
    });
    await page.getByRole('button', { name: 'Attach', exact: true }).click();
    await page.getByText('The file is attached.').waitFor();
    assert.match(await page.locator('.event-files').innerText(), /Hydrant map\.pdf\s+PDF, 1 KB/);
    await checkA11y(page, 'event with a file');
    // The calendar's month shows it.
    await page.goto('/events?view=month');
    assert.match(await page.locator('main').innerText(), /Monthly hose drill/);
    await checkA11y(page, 'calendar (month)');
    for (const found of await page.evaluate(phoneProblems)) assert.fail(`month on a phone: ${found}`);
    await page.screenshot({ path: join(artifacts, 'events-month.png'), fullPage: true });
    // The QR code for the station tablet.
    await page.goto(`${eventPath}/qr`);
    await page.locator('.qr-big svg').waitFor();
    await checkA11y(page, 'check-in QR');
    await page.screenshot({ path: join(artifacts, 'events-qr.png'), fullPage: true });
  }, { expect: [[422, '/events/new']], context: phone });
  const eventId = eventPath.split('/').pop();
  const seen = await api('GET', `/api/v1/events/${eventId}`, token);
  const code = seen.body.check_in_code;
  assert.ok(code, JSON.stringify(seen.body));

  await withPage('events-member-phone', async (page) => {
    await signIn(page, 'ff-drill', 'temporary drill words');
    // The first sign-in asks for a new password.
    await page.getByLabel('Current password').fill('temporary drill words');
    await page.getByLabel('New password').fill('drill member words 2026');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('heading', { level: 1, name: ORG_NAME }).waitFor();
    await page.goto('/events');
    await page.getByRole('link', { name: 'Monthly hose drill' }).first().click();
    await page.getByRole('heading', { level: 1, name: 'Monthly hose drill' }).waitFor();
    await page.getByRole('button', { name: 'Going', exact: true }).click();
    await page.getByText('Your answer is saved.').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Going', exact: true }).getAttribute('aria-pressed'), 'true');
    await checkA11y(page, 'event (member, going)');
    for (const found of await page.evaluate(phoneProblems)) assert.fail(`event on a phone: ${found}`);
    await page.screenshot({ path: join(artifacts, 'events-rsvp.png'), fullPage: true });
    // The QR code's link, as the phone's camera opens it.
    await page.goto(`${eventPath}/check-in?code=${encodeURIComponent(code)}`);
    await checkA11y(page, 'check-in');
    await page.getByRole('button', { name: 'Check me in' }).click();
    await page.getByText('You are checked in.').waitFor();
    await page.screenshot({ path: join(artifacts, 'events-checked-in.png'), fullPage: true });
  }, { context: phone });

  await withPage('events-attendance-phone', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.goto(`${eventPath}/attendance`);
    const line = page.locator('.attendee', { hasText: 'Dana Drillman' });
    assert.match(await line.innerText(), /In \d/);
    await checkA11y(page, 'attendance sheet');
    for (const found of await page.evaluate(phoneProblems)) assert.fail(`attendance on a phone: ${found}`);
    await page.getByRole('button', { name: 'Finalize attendance' }).click();
    await page.getByText('Attendance is finalized.').waitFor();
    assert.match(await line.innerText(), /training record made/);
    await page.screenshot({ path: join(artifacts, 'events-finalized.png'), fullPage: true });
    await page.goto(`${eventPath}/sign-in-sheet`);
    assert.match(await page.locator('main').innerText(), /Dana Drillman/);
    await checkA11y(page, 'sign-in sheet');
  }, { context: phone });

  await withPage('events-member-hours', async (page) => {
    await signIn(page, 'ff-drill', 'drill member words 2026');
    await page.goto('/training/me');
    assert.match(await page.locator('main').innerText(), /Monthly hose drill/);
    await checkA11y(page, 'training (member, after the drill)');
    await page.screenshot({ path: join(artifacts, 'events-training-hours.png'), fullPage: true });
  }, { context: phone });
  // In 30 minutes after the start, out at the end: an hour and a half.
  const records = await api('GET', `/api/v1/training/records?user_id=${member.body.id}`, token);
  assert.equal(records.status, 200, JSON.stringify(records.body));
  const drill = records.body.items.find((r) => r.course_name === 'Monthly hose drill');
  assert.ok(drill, JSON.stringify(records.body));
  assert.ok(Math.abs(Number(drill.hours_completed) - 1.5) <= 0.25, JSON.stringify(drill));
});

test('scheduling on phones: an officer makes a template (a mistake first) and a platoon pattern, previews and generates a month; a member signs up for an open seat and offers it, the officer approves the swap and closes out the shift', async () => {
  const token = await apiLogin(ADMIN.username, ADMIN.password);
  const make = async (username, first, last) => {
    const r = await api('POST', '/api/v1/members', token, {
      username, email: `${username}@example.org`, first_name: first, last_name: last,
      temporary_password: 'temporary shift words',
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body;
  };
  await make('ff-alex', 'Alex', 'Ames');
  const blake = await make('ff-blake', 'Blake', 'Byrd');
  await make('ff-casey', 'Casey', 'Cole');
  const phone = { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true };
  let from;
  await withPage('scheduling-setup-phone', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.goto('/scheduling');
    await page.getByRole('link', { name: 'Templates' }).click();
    // No name: said beside the field, nothing saved.
    await page.getByRole('button', { name: 'Save the template' }).click();
    await page.locator('#name-error').waitFor();
    await checkA11y(page, 'template form (refused)');
    await page.screenshot({ path: join(artifacts, 'scheduling-template-refused.png'), fullPage: true });
    await page.getByLabel('Name').fill('Engine 1 duty');
    await page.getByRole('button', { name: 'Save the template' }).click();
    await page.getByText('Template saved.').waitFor();
    assert.match(await page.locator('main').innerText(), /Seats: Officer\*, Driver\*, Firefighter, Firefighter/);
    await page.getByRole('link', { name: 'New pattern' }).click();
    await page.getByLabel('Name').fill('Engine 1 platoons');
    await page.getByLabel('Template').selectOption({ label: 'Engine 1 duty' });
    await page.getByLabel('Alex Ames').selectOption('A');
    await page.getByLabel('Blake Byrd').selectOption('B');
    await checkA11y(page, 'pattern form');
    for (const found of await page.evaluate(phoneProblems)) assert.fail(`pattern form on a phone: ${found}`);
    await page.getByRole('button', { name: 'Save the pattern' }).click();
    await page.getByText('Pattern saved').waitFor();
    // Next month is offered; the preview shows each day's crew before anything is made.
    from = await page.getByLabel('From').inputValue();
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.getByRole('heading', { name: /Preview: \d+ shifts, \d+ new/ }).waitFor();
    assert.match(await page.locator('main').innerText(), /Platoon A\s+Officer: Alex Ames/);
    await checkA11y(page, 'generate (preview)');
    for (const found of await page.evaluate(phoneProblems)) assert.fail(`preview on a phone: ${found}`);
    await page.screenshot({ path: join(artifacts, 'scheduling-preview.png'), fullPage: true });
    await page.getByRole('button', { name: /^Make \d+ shifts$/ }).click();
    await page.getByText('The shifts are made.').waitFor();
    assert.match(await page.locator('main').innerText(), /need people/);
    await checkA11y(page, 'shifts (month)');
    for (const found of await page.evaluate(phoneProblems)) assert.fail(`month on a phone: ${found}`);
    await page.screenshot({ path: join(artifacts, 'scheduling-month.png'), fullPage: true });
  }, { expect: [[422, '/scheduling/templates']], context: phone });
  const listed = await api('GET', `/api/v1/scheduling/shifts?from=${from}&to=${from}`, token);
  assert.equal(listed.status, 200, JSON.stringify(listed.body));
  const shift = listed.body.items.find((s) => s.shift_date === from);
  assert.ok(shift, JSON.stringify(listed.body));

  await withPage('scheduling-member-phone', async (page) => {
    await signIn(page, 'ff-casey', 'temporary shift words');
    await page.getByLabel('Current password').fill('temporary shift words');
    await page.getByLabel('New password').fill('casey shift words 2026');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('heading', { level: 1, name: ORG_NAME }).waitFor();
    await page.goto(`/scheduling/shifts/${shift.id}`);
    await page.getByRole('button', { name: 'Sign up as Driver' }).click();
    await page.getByText('You are on the shift.').waitFor();
    assert.match(await page.locator('main').innerText(), /Casey Cole \(you\) · Confirmed/);
    await checkA11y(page, 'shift (member, signed up)');
    for (const found of await page.evaluate(phoneProblems)) assert.fail(`shift on a phone: ${found}`);
    await page.screenshot({ path: join(artifacts, 'scheduling-signed-up.png'), fullPage: true });
    // Something came up: the seat goes to Blake, if an officer agrees.
    await page.getByRole('link', { name: 'Offer a swap' }).click();
    await page.getByLabel('Or hand it to').selectOption({ label: 'Blake Byrd' });
    await page.getByLabel('Why').fill('Working late that day');
    await checkA11y(page, 'offer a swap');
    await page.getByRole('button', { name: 'Ask for the swap' }).click();
    await page.getByText('Swap asked for.').waitFor();
    await page.screenshot({ path: join(artifacts, 'scheduling-swap-asked.png'), fullPage: true });
    await page.goto(`/scheduling?show=mine&on=${from}`);
    assert.match(await page.locator('main').innerText(), /You: Confirmed/);
    await checkA11y(page, 'my shifts');
  }, { context: phone });

  await withPage('scheduling-officer-approves', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.goto('/scheduling/requests');
    const line = page.locator('.item-card', { hasText: 'Hand Engine 1 duty' });
    await line.getByRole('button', { name: 'Approve' }).click();
    await page.getByText('Decided; the member was told.').waitFor();
    assert.match(await page.locator('main').innerText(), /Approved/);
    await checkA11y(page, 'requests (decided)');
    await page.screenshot({ path: join(artifacts, 'scheduling-swap-approved.png'), fullPage: true });
    await page.goto(`/scheduling/shifts/${shift.id}`);
    assert.match(await page.locator('main').innerText(), /Driver[\s\S]*Blake Byrd · Assigned/);
    // The shift has been worked (its times moved into the past, as if the day had come): the
    // officer closes it out with one call.
    sql(`UPDATE \`${dbName}\`.shifts SET starts_at = UTC_TIMESTAMP(6) - INTERVAL 25 HOUR,
           ends_at = UTC_TIMESTAMP(6) - INTERVAL 1 HOUR WHERE id = UNHEX(REPLACE('${shift.id}', '-', ''))`);
    await page.reload();
    await page.getByLabel('Calls answered').fill('1');
    await checkA11y(page, 'close-out');
    for (const found of await page.evaluate(phoneProblems)) assert.fail(`close-out on a phone: ${found}`);
    await page.screenshot({ path: join(artifacts, 'scheduling-close-out.png'), fullPage: true });
    await page.getByRole('button', { name: 'Close out the shift' }).click();
    await page.getByText('Closed out: those present have the shift').waitFor();
    assert.match(await page.locator('main').innerText(), /Closed out by .* 1 call\./);
    await page.screenshot({ path: join(artifacts, 'scheduling-closed.png'), fullPage: true });
  }, { context: phone });
  const credited = await api('GET', `/api/v1/training/records?user_id=${blake.id}`, token);
  assert.equal(credited.status, 200, JSON.stringify(credited.body));
  assert.deepEqual(credited.body.items.map((r) => r.training_type).sort(), ['call', 'shift']);
  const after = await api('GET', `/api/v1/scheduling/shifts/${shift.id}`, token);
  assert.equal(after.body.seats[1].holder.member.id, blake.id, JSON.stringify(after.body));
});

test('elections on phones: an officer sets up a vote, members nominate and accept, three vote in a few taps and check a receipt, and the officer closes it with a certified result', async () => {
  const token = await apiLogin(ADMIN.username, ADMIN.password);
  const phone = { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true };
  const people = [['el-ann', 'Ann', 'Avery'], ['el-ben', 'Ben', 'Bell'], ['el-cat', 'Cat', 'Cruz']];
  for (const [username, first, last] of people) {
    const r = await api('POST', '/api/v1/members', token, {
      username, email: `${username}@example.org`, first_name: first, last_name: last,
      temporary_password: 'temporary vote words',
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
  // A member's first sign-in: the temporary password is changed, then the page asked for.
  const firstSignIn = async (page, username) => {
    await signIn(page, username, 'temporary vote words');
    await page.getByLabel('Current password').fill('temporary vote words');
    await page.getByLabel('New password').fill("secret ballot words 2026");
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('heading', { level: 1, name: ORG_NAME }).waitFor();
  };
  let electionPath;
  await withPage('elections-officer-setup', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.goto('/elections');
    await page.getByRole('link', { name: 'New election' }).click();
    // No title: said beside the field, nothing saved.
    await page.getByRole('button', { name: 'Save as a draft' }).click();
    await page.locator('#title-error').waitFor();
    await checkA11y(page, 'election form (refused)');
    for (const found of await page.evaluate(phoneProblems)) assert.fail(`election form on a phone: ${found}`);
    await page.screenshot({ path: join(artifacts, 'elections-form-refused.png'), fullPage: true });
    await page.getByLabel('Title').fill('Officers 2027');
    await page.getByRole('button', { name: 'Save as a draft' }).click();
    await page.getByText('Election saved as a draft.').waitFor();
    electionPath = new URL(page.url()).pathname;
    await page.getByLabel('Name').fill('Chief');
    await page.getByRole('button', { name: 'Add the position' }).click();
    await page.getByText('Position added.').waitFor();
    await page.getByRole('button', { name: 'Open nominations' }).click();
    await page.getByText('Nominations are open: members were told.').waitFor();
    await checkA11y(page, 'election (nominations)');
  }, { expect: [[422, '/elections/new']], context: phone });

  await withPage('elections-member-nominates', async (page) => {
    await firstSignIn(page, 'el-ann');
    await page.goto(electionPath);
    await page.getByLabel('Member', { exact: true }).selectOption({ label: 'Ben Bell' });
    await page.getByLabel('Statement').fill('Twelve years on the engine; ready to lead it.');
    await page.getByRole('button', { name: 'Nominate' }).click();
    await page.getByText('Nomination sent').waitFor();
    await page.getByLabel('Member', { exact: true }).selectOption({ label: 'Ann Avery' });
    await page.getByRole('button', { name: 'Nominate' }).click();
    await page.getByText('Candidate added.').waitFor();
    assert.match(await page.locator('main').innerText(), /Ben Bell\s+Nominated, not yet accepted/);
    await checkA11y(page, 'election (member nominates)');
    for (const found of await page.evaluate(phoneProblems)) assert.fail(`nominations on a phone: ${found}`);
    await page.screenshot({ path: join(artifacts, 'elections-nominated.png'), fullPage: true });
  }, { context: phone });

  await withPage('elections-nominee-accepts', async (page) => {
    await firstSignIn(page, 'el-ben');
    // The dashboard says what waits for him.
    await page.getByRole('link', { name: /You were nominated: Officers 2027/ }).click();
    await page.getByRole('button', { name: 'Accept the nomination' }).click();
    await page.getByText('Your answer is recorded.').waitFor();
    assert.doesNotMatch(await page.locator('main').innerText(), /not yet accepted/);
  }, { context: phone });

  await withPage('elections-officer-opens', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.goto(electionPath);
    await page.getByRole('button', { name: 'Open voting' }).click();
    await page.getByText('Voting is open: the roll is frozen').waitFor();
    await checkA11y(page, 'election (open, officer)');
    await page.screenshot({ path: join(artifacts, 'elections-open-officer.png'), fullPage: true });
  }, { context: phone });

  const receipts = {};
  for (const [username, choice] of [['el-ann', 'Ann Avery'], ['el-ben', 'Ben Bell'], ['el-cat', 'Ben Bell']]) {
    await withPage(`elections-vote-${username}`, async (page) => {
      if (username === 'el-cat') await firstSignIn(page, username);
      else await signIn(page, username, "secret ballot words 2026");
      await page.getByRole('link', { name: 'Vote now: Officers 2027' }).click();
      await page.getByRole('heading', { name: 'Your ballot' }).waitFor();
      if (username === 'el-cat') {
        // Nothing chosen: said at the top, nothing cast.
        await page.getByRole('button', { name: 'Cast my ballot' }).click();
        await page.getByText('Nothing was cast: choose on at least one position.').waitFor();
      }
      await checkA11y(page, 'ballot');
      for (const found of await page.evaluate(phoneProblems)) assert.fail(`ballot on a phone: ${found}`);
      if (username === 'el-ann') await page.screenshot({ path: join(artifacts, 'elections-ballot.png'), fullPage: true });
      await page.getByLabel(choice).check();
      await page.getByRole('button', { name: 'Cast my ballot' }).click();
      await page.getByRole('heading', { name: 'Your ballot is cast' }).waitFor();
      receipts[username] = (await page.locator('code.receipt').innerText()).trim();
      assert.match(receipts[username], /^[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}$/);
      await checkA11y(page, 'ballot cast');
      for (const found of await page.evaluate(phoneProblems)) assert.fail(`receipt on a phone: ${found}`);
      if (username === 'el-ann') {
        await page.screenshot({ path: join(artifacts, 'elections-cast.png'), fullPage: true });
        // The receipt is checked: counted, and nothing about the vote.
        await page.getByRole('link', { name: 'Check a receipt' }).click();
        await page.getByLabel('Receipt code').fill(receipts[username].toLowerCase());
        await page.getByRole('button', { name: 'Check' }).click();
        await page.getByText('Counted: this ballot for Chief is in the election').waitFor();
        assert.doesNotMatch(await page.locator('main').innerText(), /Ann Avery|Ben Bell/);
        await checkA11y(page, 'receipt checked');
        await page.screenshot({ path: join(artifacts, 'elections-receipt.png'), fullPage: true });
        // Voting again is not offered; the results wait for the close.
        await page.goto(electionPath);
        assert.match(await page.locator('main').innerText(), /You have voted/);
      }
    }, { expect: username === 'el-cat' ? [[422, /^\/elections\/[0-9a-f-]+\/ballot$/]] : [], context: phone });
  }

  await withPage('elections-officer-closes', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.goto(electionPath);
    // The officer sees turnout, never a count, before the close.
    assert.match(await page.locator('main').innerText(), /3 of \d+ on the roll have voted/);
    assert.equal(await page.getByRole('link', { name: /^Results/ }).count(), 0);
    await page.getByRole('link', { name: 'Close voting…' }).click();
    await checkA11y(page, 'close voting (asks first)');
    await page.getByRole('button', { name: 'Close voting and count' }).click();
    await page.getByText('Voting closed. The results are below.').waitFor();
    assert.match(await page.locator('main').innerText(), /Ben Bell elected\./);
    assert.match(await page.locator('main').innerText(), /Ben Bell\s+Elected\s+2\s+66\.7/);
    await checkA11y(page, 'results');
    for (const found of await page.evaluate(phoneProblems)) assert.fail(`results on a phone: ${found}`);
    await page.screenshot({ path: join(artifacts, 'elections-results.png'), fullPage: true });
    const pdf = await page.request.get(`${electionPath}/certificate.pdf`);
    assert.equal(pdf.status(), 200);
    assert.equal(pdf.headers()['content-type'], 'application/pdf');
    assert.ok((await pdf.body()).subarray(0, 5).toString() === '%PDF-');
  }, { context: phone });
  // Every receipt is counted.
  const id = electionPath.split('/').pop();
  for (const r of Object.values(receipts)) {
    const check = await api('POST', `/api/v1/elections/${id}/receipts/check`, token, { receipt: r });
    assert.equal(check.body.counted, true, JSON.stringify(check.body));
  }
});

test('documents on phones: an officer uploads an SOP (a program called a PDF is refused first) and tags it; a member finds it by search and downloads it', async () => {
  const token = await apiLogin(ADMIN.username, ADMIN.password);
  const phone = { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true };
  const r = await api('POST', '/api/v1/members', token, {
    username: 'doc-dana', email: 'doc-dana@example.org', first_name: 'Dana', last_name: 'Diaz',
    temporary_password: 'temporary library words',
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const pdf = Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n');
  let documentPath;
  await withPage('documents-officer-uploads', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.goto('/documents');
    for (const found of await page.evaluate(phoneProblems)) assert.fail(`library on a phone: ${found}`);
    await page.getByRole('link', { name: 'SOPs & Procedures' }).click();
    await page.getByRole('heading', { level: 1, name: 'SOPs & Procedures' }).waitFor();
    // A program named like a PDF: refused beside the field, nothing kept.
    await page.getByLabel(/Add a document/).setInputFiles({
      name: 'Ladder SOP.pdf', mimeType: 'application/pdf',
      buffer: Buffer.from('\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0', 'binary'),
    });
    await page.getByRole('button', { name: 'Upload' }).click();
    await page.locator('#file-error').getByText(/must be a PDF/).waitFor();
    await page.screenshot({ path: join(artifacts, 'documents-upload-refused.png'), fullPage: true });
    await page.getByLabel(/Add a document/).setInputFiles({ name: 'Ladder SOP.pdf', mimeType: 'application/pdf', buffer: pdf });
    await page.getByRole('button', { name: 'Upload' }).click();
    await page.getByText('Uploaded. Add tags below so others find it.').waitFor();
    documentPath = new URL(page.url()).pathname;
    await page.getByLabel('Tags').fill('Ladders, ground ladders');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('Changes saved.').waitFor();
    assert.match(await page.locator('main').innerText(), /ground ladders/);
    await checkA11y(page, 'document (officer)');
    for (const found of await page.evaluate(phoneProblems)) assert.fail(`document page on a phone: ${found}`);
    await page.screenshot({ path: join(artifacts, 'documents-uploaded.png'), fullPage: true });
  }, { expect: [[422, /^\/api\/v1\/documents\/folders\/[0-9a-f-]+\/documents$/]], context: phone });

  await withPage('documents-member-finds', async (page) => {
    await signIn(page, 'doc-dana', 'temporary library words');
    await page.getByLabel('Current password').fill('temporary library words');
    await page.getByLabel('New password').fill('reading the manual 2026');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('heading', { level: 1, name: ORG_NAME }).waitFor();
    await page.goto('/documents');
    // Leadership's Reports folder is not among hers.
    assert.doesNotMatch(await page.locator('main').innerText(), /Reports/);
    await page.getByLabel('Find').fill('ladder');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('1 document found').waitFor();
    await checkA11y(page, 'documents search (member)');
    for (const found of await page.evaluate(phoneProblems)) assert.fail(`search on a phone: ${found}`);
    await page.screenshot({ path: join(artifacts, 'documents-member-search.png'), fullPage: true });
    await page.getByRole('link', { name: 'Ladder SOP' }).click();
    await page.getByRole('heading', { level: 1, name: 'Ladder SOP' }).waitFor();
    assert.equal(new URL(page.url()).pathname, documentPath);
    // A member sees no controls to change it.
    assert.equal(await page.getByRole('button', { name: 'Archive' }).count(), 0);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'Ladder SOP.pdf');
    const saved = join(artifacts, 'downloaded-ladder-sop.pdf');
    await download.saveAs(saved);
    assert.deepEqual(readFileSync(saved), pdf);
    await page.screenshot({ path: join(artifacts, 'documents-member-document.png'), fullPage: true });
  }, { context: phone, downloads: [`${documentPath}/download`] });
});

test('minutes on phones: the secretary writes the minutes (a mistake first), records who came, a motion and an action item, submits, approves and publishes them; a member reads them in the library and marks the item done', async () => {
  const token = await apiLogin(ADMIN.username, ADMIN.password);
  const phone = { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true };
  const r = await api('POST', '/api/v1/members', token, {
    username: 'min-milo', email: 'min-milo@example.org', first_name: 'Milo', last_name: 'Marsh',
    temporary_password: 'temporary meeting words',
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  let minutesPath;
  await withPage('minutes-secretary', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.goto('/minutes');
    for (const found of await page.evaluate(phoneProblems)) assert.fail(`minutes list on a phone: ${found}`);
    await page.getByRole('link', { name: 'New minutes' }).click();
    await page.getByRole('heading', { level: 1, name: 'New minutes' }).waitFor();
    await page.getByLabel('Where').fill('Station 1 meeting room');
    await page.getByRole('button', { name: 'Start the minutes' }).click();
    await page.getByText('Minutes started from the template.').waitFor();
    minutesPath = new URL(page.url()).pathname;
    // The business meeting's sections, from the template.
    await page.getByRole('group', { name: "Treasurer's Report" }).waitFor();
    await page.getByLabel('Call to Order', { exact: true }).fill('Called to order at 19:02 by President Miller.');
    await page.getByLabel('New Business', { exact: true }).fill('Thermal imaging cameras: two quotes received.');
    await page.getByLabel('Called to order').fill('19:02');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('Saved.', { exact: true }).waitFor();
    assert.equal(await page.getByLabel('New Business', { exact: true }).inputValue(), 'Thermal imaging cameras: two quotes received.');
    // Who came.
    await page.getByLabel('Milo Marsh', { exact: true }).selectOption('present');
    await page.getByRole('button', { name: 'Save attendance' }).click();
    await page.getByText('Attendance saved.').waitFor();
    // A motion without its text: the message beside the field, nothing recorded.
    await page.getByText('Record a motion', { exact: true }).click();
    await page.getByRole('button', { name: 'Record the motion' }).click();
    await page.locator('#motion_text-error').getByText(/Motion is required/).waitFor();
    await page.screenshot({ path: join(artifacts, 'minutes-motion-refused.png'), fullPage: true });
    await page.getByLabel('Motion', { exact: true }).fill('To buy two thermal imaging cameras.');
    await page.getByLabel('Moved by').selectOption({ label: 'Milo Marsh' });
    await page.getByLabel('For', { exact: true }).fill('14');
    await page.getByLabel('Against', { exact: true }).fill('2');
    await page.getByRole('button', { name: 'Record the motion' }).click();
    await page.getByText('Motion recorded.').waitFor();
    assert.match(await page.locator('main').innerText(), /To buy two thermal imaging cameras\. — moved by Milo Marsh\. Carried \(14–2\)/);
    await page.getByText('Add an action item', { exact: true }).click();
    await page.getByLabel('What is to be done').fill('Order the cameras');
    await page.getByLabel(/^Who/).selectOption({ label: 'Milo Marsh' });
    await page.getByRole('button', { name: 'Add the action item' }).click();
    await page.getByText('Action item added').waitFor();
    await checkA11y(page, 'minutes (draft)');
    for (const found of await page.evaluate(phoneProblems)) assert.fail(`minutes on a phone: ${found}`);
    await page.screenshot({ path: join(artifacts, 'minutes-draft.png'), fullPage: true });
    // Submitted, approved: the record, locked.
    await page.getByRole('button', { name: 'Submit for approval' }).click();
    await page.getByText('Submitted for approval.').waitFor();
    await page.getByRole('button', { name: 'Approve', exact: true }).click();
    await page.getByText('Approved: these minutes are now the record').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Save', exact: true }).count(), 0);
    assert.match(await page.locator('.minutes-record').innerText(), /Present \(1\)\s+Milo Marsh/);
    await page.getByRole('button', { name: 'Publish to the library' }).click();
    await page.getByText('Published to the Minutes folder').waitFor();
    await checkA11y(page, 'minutes (approved)');
    for (const found of await page.evaluate(phoneProblems)) assert.fail(`approved minutes on a phone: ${found}`);
    await page.screenshot({ path: join(artifacts, 'minutes-approved.png'), fullPage: true });
    await page.goto(`${minutesPath}/print`);
    assert.match(await page.locator('.minutes-record').innerText(), /Thermal imaging cameras: two quotes received\./);
    for (const found of await page.evaluate(phoneProblems)) assert.fail(`printable minutes on a phone: ${found}`);
    await page.screenshot({ path: join(artifacts, 'minutes-print.png'), fullPage: true });
  }, { expect: [[422, /^\/minutes\/[0-9a-f-]+\/motions$/]], context: phone });

  await withPage('minutes-member-reads', async (page) => {
    await signIn(page, 'min-milo', 'temporary meeting words');
    await page.getByLabel('Current password').fill('temporary meeting words');
    await page.getByLabel('New password').fill('reading the minutes 2026');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('heading', { level: 1, name: ORG_NAME }).waitFor();
    // In the library's Minutes folder, as a page to read.
    await page.goto('/documents');
    await page.getByRole('link', { name: 'Meeting Minutes' }).click();
    await page.getByRole('link', { name: /^Business meeting/ }).first().click();
    await page.locator('.minutes-record').waitFor();
    await page.locator('.minutes-record').getByText('To buy two thermal imaging cameras.', { exact: false }).waitFor();
    for (const found of await page.evaluate(phoneProblems)) assert.fail(`published minutes on a phone: ${found}`);
    await page.screenshot({ path: join(artifacts, 'minutes-in-library.png'), fullPage: true });
    // Their action item, marked done in two taps.
    await page.goto('/minutes/action-items');
    await page.getByText('Order the cameras', { exact: true }).waitFor();
    await page.getByLabel('Status of Order the cameras').selectOption('completed');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Action item updated.').waitFor();
    await page.getByText('Nothing open.').waitFor();
    await checkA11y(page, 'my action items');
    await page.screenshot({ path: join(artifacts, 'minutes-member-items.png'), fullPage: true });
  }, { context: phone });
});

test('papers on a phone: a pump manual attached on the item page and a certificate scan on a training record, each opened from there', async () => {
  const token = await apiLogin(ADMIN.username, ADMIN.password);
  const phone = { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true };
  const cat = await api('POST', '/api/v1/inventory/categories', token, { name: 'Pumps', item_type: 'equipment' });
  assert.equal(cat.status, 201, JSON.stringify(cat.body));
  const item = await api('POST', '/api/v1/inventory/items', token, { name: 'Portable pump', category_id: cat.body.id });
  assert.equal(item.status, 201, JSON.stringify(item.body));
  const pdf = Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n');
  await withPage('equipment-papers', async (page) => {
    await signIn(page, ADMIN.username, ADMIN.password);
    await page.goto(`/inventory/items/${item.body.id}`);
    await page.getByText('None attached.').waitFor();
    await page.getByLabel(/Attach a manual or paper/).setInputFiles({ name: 'Pump manual.pdf', mimeType: 'application/pdf', buffer: pdf });
    await page.getByRole('button', { name: 'Attach', exact: true }).click();
    await page.getByText('Attached: every member finds it here and in the library.').waitFor();
    const link = page.getByRole('link', { name: 'Pump manual' });
    await link.waitFor();
    const href = await link.getAttribute('href');
    const res = await page.request.get(href);
    assert.equal(res.status(), 200);
    assert.deepEqual(Buffer.from(await res.body()), pdf);
    await checkA11y(page, 'item with papers');
    for (const found of await page.evaluate(phoneProblems)) assert.fail(`item page on a phone: ${found}`);
    await page.screenshot({ path: join(artifacts, 'equipment-papers.png'), fullPage: true });
    // A certificate scan on a training record, from the record's papers page.
    const me = await api('GET', '/api/v1/auth/me', token);
    const made = await api('POST', '/api/v1/training/records', token, {
      user_ids: [me.body.id], course_name: 'Pump operator', hours: 16,
      training_type: 'certification', completion_date: '2026-10-01',
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const records = await api('GET', '/api/v1/training/records?q=Pump%20operator', token);
    const record = records.body.items[0].id;
    await page.goto(`/training/records/${record}/papers`);
    await page.getByText('No certificate or other paper attached yet.').waitFor();
    await page.getByLabel(/Attach a certificate scan/).setInputFiles({ name: 'Pump operator card.pdf', mimeType: 'application/pdf', buffer: pdf });
    await page.getByRole('button', { name: 'Attach', exact: true }).click();
    await page.getByText('Attached. It is kept in the member').waitFor();
    await page.getByRole('link', { name: 'Pump operator card' }).waitFor();
    await checkA11y(page, 'training record papers');
    for (const found of await page.evaluate(phoneProblems)) assert.fail(`record papers on a phone: ${found}`);
    await page.screenshot({ path: join(artifacts, 'training-record-papers.png'), fullPage: true });
  }, { context: phone });
});

test('password reset: without email it says who can help; with email the request answers the same for any address; a bad link says so', async () => {
  const token = await apiLogin(ADMIN.username, ADMIN.password);
  await withPage('password-reset', async (page) => {
    await page.goto('/login');
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await page.getByRole('heading', { level: 1, name: 'Reset your password' }).waitFor();
    // No department here has email yet: no promise of a link, and who can help instead.
    await page.getByText('Email is not set up on this Logbook yet').waitFor();
    await checkA11y(page, 'password reset (no email)');
    await page.screenshot({ path: join(artifacts, 'password-reset-no-email.png'), fullPage: true });
    const saved = await api('PUT', '/api/v1/settings/email', token, {
      host: '127.0.0.1', port: await freePort(), security: 'none', from_address: 'logbook@example.org',
    });
    assert.equal(saved.status, 200, JSON.stringify(saved.body));
    await page.goto('/password-reset');
    await checkA11y(page, 'password reset request');
    await page.getByLabel('E-mail').fill('nobody-here@example.org');
    await page.getByRole('button', { name: 'Send the link' }).click();
    const answer = await page.getByRole('status').innerText();
    assert.match(answer, /If that address belongs to an account/);
    await checkA11y(page, 'password reset (sent)');

    await page.goto('/password-reset');
    await page.getByLabel('E-mail').fill(`${ADMIN.username}@example.org`);
    await page.getByRole('button', { name: 'Send the link' }).click();
    assert.equal(await page.getByRole('status').innerText(), answer, 'the same answer');

    await page.goto('/password-reset/confirm?token=not-a-real-token');
    await page.getByRole('alert').filter({ hasText: /not valid or has expired/ }).waitFor();
    await checkA11y(page, 'password reset (bad link)');
  }, { allow: [[422, '/password-reset/confirm']] });
});

/// A real SMTP server on this machine that keeps what it receives: enough of RFC 5321 for
/// Logbook's sender (no STARTTLS offered, no authentication), each message's text decoded from
/// quoted-printable.
async function startSmtpSink() {
  const messages = [];
  const server = createNetServer((socket) => {
    let buffer = '';
    let inData = false;
    let data = '';
    socket.setEncoding('utf8');
    socket.write('220 sink.test ESMTP\r\n');
    socket.on('data', (chunk) => {
      buffer += chunk;
      for (;;) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end < 0) return;
          data += buffer.slice(0, end);
          buffer = buffer.slice(end + 5);
          inData = false;
          const decoded = data.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
          messages.push(decoded);
          data = '';
          socket.write('250 kept\r\n');
          continue;
        }
        const eol = buffer.indexOf('\r\n');
        if (eol < 0) return;
        const line = buffer.slice(0, eol);
        buffer = buffer.slice(eol + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO' || verb === 'HELO') socket.write('250 sink.test\r\n');
        else if (verb === 'DATA') { inData = true; socket.write('354 go on\r\n'); }
        else if (verb === 'QUIT') { socket.end('221 bye\r\n'); return; }
        else socket.write('250 ok\r\n');
      }
    });
    socket.on('error', () => {});
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    port: server.address().port,
    messages,
    /// The first message that matches `pattern`, waited for.
    async waitFor(pattern, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = messages.find((m) => pattern.test(m));
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no email matching ${pattern}; got ${messages.length}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    close: () => new Promise((ok) => server.close(ok)),
  };
}

/// A member chooses a password on /welcome, then signs in with it; ends on the dashboard.
async function welcomeAndSignIn(page, { code, typed, firstName, username, password }) {
  if (code) await page.goto(`/welcome?code=${encodeURIComponent(code)}`);
  else {
    await page.goto('/login');
    await page.getByRole('link', { name: 'Have a sign-in code? Choose your password' }).click();
    await page.getByLabel('Sign-in code').fill(typed);
  }
  if (code) await page.getByText(`Welcome, ${firstName}.`).waitFor();
  await page.getByLabel('New password', { exact: true }).fill(password);
  await page.getByLabel('New password again').fill(password);
  await page.getByRole('button', { name: 'Set my password' }).click();
  await page.getByText('Your password is set.').waitFor();
  assert.equal(await page.getByLabel('Username or e-mail').inputValue(), username);
  await checkA11y(page, 'sign in after welcome');
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // The member's own dashboard: the "You" panel names them.
  await page.getByRole('heading', { level: 2, name: 'You' }).waitFor();
  assert.equal(new URL(page.url()).pathname, '/');
}

test('invitations on a phone: one by email (a real SMTP server) and one by a printed code; each member signs in', async () => {
  const sink = await startSmtpSink();
  const token = await apiLogin(ADMIN.username, ADMIN.password);
  try {
    const saved = await api('PUT', '/api/v1/settings/email', token, {
      host: '127.0.0.1', port: sink.port, security: 'none', from_address: 'logbook@example.org',
    });
    assert.equal(saved.status, 200, JSON.stringify(saved.body));
    const printed = await api('POST', '/api/v1/members', token, {
      username: 'jwalsh', email: 'jordan.walsh@example.org', first_name: 'Jordan', last_name: 'Walsh',
    });
    assert.equal(printed.status, 201, JSON.stringify(printed.body));

    await withPage('invitations-phone', async (page, context) => {
      await signIn(page, ADMIN.username, ADMIN.password);
      // By email: added with "Email an invitation" ticked (the default when email is set up).
      await page.goto('/members/new');
      await page.getByLabel('Username').fill('crivera');
      await page.getByLabel('First name').fill('Casey');
      await page.getByLabel('Last name').fill('Rivera');
      await page.getByLabel('E-mail').fill('casey.rivera@example.org');
      assert.ok(await page.getByLabel('Email an invitation to choose a password').isChecked());
      await page.getByRole('button', { name: 'Create member' }).click();
      await page.getByText('Invitation emailed.').waitFor();
      await page.getByText(/A sign-in code was emailed on/).waitFor();
      await checkA11y(page, 'member profile (invited)');
      await page.screenshot({ path: join(artifacts, 'invitations-profile.png'), fullPage: true });
      const letter = await sink.waitFor(/casey\.rivera@example\.org/);
      const link = letter.match(/\/welcome\?code=([A-Z0-9-]+)/);
      assert.ok(link, `a link in the letter:\n${letter}`);

      // By a printed code: the members not signed in yet, on one sheet.
      await page.goto('/members');
      await page.getByLabel('Sign-in').selectOption('no');
      await page.getByRole('heading', { name: 'Getting them in' }).waitFor();
      await page.getByRole('row', { name: /Walsh, Jordan/ }).getByText('not signed in yet').waitFor();
      await checkA11y(page, 'members not signed in yet');
      await page.screenshot({ path: join(artifacts, 'invitations-not-signed-in.png'), fullPage: true });
      await page.getByRole('button', { name: 'Print sign-in codes' }).click();
      await page.getByRole('heading', { level: 1, name: 'Sign-in codes' }).waitFor();
      const slip = page.getByRole('listitem').filter({ hasText: 'Jordan Walsh' });
      const code = (await slip.locator('.code-value').innerText()).trim();
      assert.match(code, /^[A-Z0-9]{4}(-[A-Z0-9]{4}){3}$/);
      await checkA11y(page, 'sign-in codes sheet');
      await page.screenshot({ path: join(artifacts, 'invitations-codes.png'), fullPage: true });

      // Each member, on a phone, without the admin's session.
      await context.clearCookies();
      await welcomeAndSignIn(page, {
        code: link[1], firstName: 'Casey', username: 'crivera', password: 'engine company nine',
      });
      await context.clearCookies();
      // Typed from paper: small letters and spaces are the same code.
      await welcomeAndSignIn(page, {
        typed: code.toLowerCase().replaceAll('-', ' '), username: 'jwalsh', password: 'tanker water supply',
      });
      await page.screenshot({ path: join(artifacts, 'invitations-signed-in.png'), fullPage: true });
      // Used once: the same code again is refused beside the field.
      await context.clearCookies();
      await page.goto('/welcome');
      await page.getByLabel('Sign-in code').fill(code);
      await page.getByLabel('New password', { exact: true }).fill('a third password here');
      await page.getByLabel('New password again').fill('a third password here');
      await page.getByRole('button', { name: 'Set my password' }).click();
      await page.locator('#code-error').filter({ hasText: /has been used or has expired/ }).waitFor();
      await checkA11y(page, 'welcome (used code)');
    }, { expect: [[422, '/welcome']], context: { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true } });
  } finally {
    await sink.close();
  }
});

// --- the first-boot setup wizard, on its own server and database ------------------------------

/// A second server on an empty database: setup mode.
async function startFreshServer() {
  const name = `logbook_t_browser_setup_${randomBytes(4).toString('hex')}`;
  sql(`CREATE DATABASE \`${name}\``);
  const dir = mkdtempSync(join(tmpdir(), 'logbook-browser-setup-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let log = '';
  const child = spawn(bin, ['serve'], {
    env: {
      ...process.env,
      LOGBOOK_DATABASE_URL: `mysql://${dbUrl.username}:${dbUrl.password}@${db.host}:${db.port}/${name}`,
      LOGBOOK_LISTEN: `127.0.0.1:${port}`,
      LOGBOOK_DATA_DIR: dir,
      LOGBOOK_LOG: process.env.LOGBOOK_LOG || 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`setup server exited (${child.exitCode}):\n${log}`);
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`setup server not healthy:\n${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    token: () => readFileSync(join(dir, 'setup-token'), 'utf8').trim(),
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      sql(`DROP DATABASE IF EXISTS \`${name}\``);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('first-boot setup on a phone: the token, every step with a mistake or two, then signed in', async () => {
  const fresh = await startFreshServer();
  const phone = { baseURL: fresh.url, viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };
  let shot = 0;
  const snap = (page, what) =>
    page.screenshot({ path: join(artifacts, `setup-${String(++shot).padStart(2, '0')}-${what}.png`), fullPage: true });
  const step = (page, title) => page.getByRole('heading', { level: 1, name: title }).waitFor();
  try {
    await withPage('setup-wizard', async (page) => {
      // Any page leads to the wizard, which first asks for the token.
      await page.goto('/');
      await step(page, 'Set up Logbook');
      assert.equal(new URL(page.url()).pathname, '/setup');
      await checkA11y(page, 'setup: token');
      await snap(page, 'token');
      await page.getByLabel('Setup token').fill('not-the-token');
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.locator('#token-error').waitFor();
      await checkA11y(page, 'setup: wrong token');
      await page.getByLabel('Setup token').fill(fresh.token());
      await page.getByRole('button', { name: 'Continue' }).click();

      await step(page, 'Database check');
      assert.match(await page.locator('.checks').innerText(), /migrations applied/);
      await checkA11y(page, 'setup: database check');
      await snap(page, 'check');
      await page.getByRole('button', { name: 'Continue' }).click();

      await step(page, 'Department');
      await checkA11y(page, 'setup: department');
      await page.getByLabel('Time zone').fill('Somewhere/Else');
      await page.getByLabel('City (optional)').fill('Maple Grove');
      await page.getByRole('button', { name: 'Save and continue' }).click();
      await page.locator('#name-error').waitFor();
      await page.locator('#timezone-error').waitFor();
      assert.equal(await page.getByLabel('City (optional)').inputValue(), 'Maple Grove', 'answers kept');
      await checkA11y(page, 'setup: department (errors)');
      await snap(page, 'department-errors');
      await page.getByLabel('Department name').fill('Maple Grove Fire Department');
      await page.getByLabel('Time zone').fill('America/Chicago');
      await page.getByLabel('FDID or state id (optional)').fill('27-118');
      await page.getByRole('button', { name: 'Save and continue' }).click();

      await step(page, 'Administrator');
      await checkA11y(page, 'setup: administrator');
      await page.getByLabel('First name').fill('Pat');
      await page.getByLabel('Last name').fill('Olsen');
      await page.getByLabel('Username').fill('chief');
      await page.getByLabel('Email').fill('chief@example.org');
      await page.locator('#password').fill('short');
      await page.locator('#password_confirm').fill('short');
      await page.getByRole('button', { name: 'Save and continue' }).click();
      await page.locator('#password-error').waitFor();
      await snap(page, 'administrator-error');
      await page.locator('#password').fill(ADMIN.password);
      await page.locator('#password_confirm').fill(ADMIN.password);
      await page.getByRole('button', { name: 'Save and continue' }).click();

      await step(page, 'Stations and apparatus');
      await checkA11y(page, 'setup: stations');
      await page.getByLabel('Station name').fill('Station 1');
      await page.getByLabel('Street address (optional)').fill('100 Main St');
      await page.getByRole('button', { name: 'Add station' }).click();
      await page.locator('#station-list').getByText('Station 1').waitFor();
      await page.getByText('Add a vehicle').click();
      await page.getByLabel('Unit number').fill('E1');
      await page.locator('#apparatus_type').selectOption('engine');
      await page.locator('#station').selectOption('Station 1');
      await page.getByRole('button', { name: 'Add vehicle' }).click();
      await page.locator('#apparatus-list').getByText('E1').waitFor();
      await checkA11y(page, 'setup: stations (added)');
      await snap(page, 'stations');
      await page.getByRole('button', { name: 'Continue' }).click();

      await step(page, 'Email');
      await checkA11y(page, 'setup: email');
      await snap(page, 'email');
      await page.getByRole('button', { name: 'Skip: set up email later' }).click();

      await step(page, 'HTTPS');
      await checkA11y(page, 'setup: https');
      await snap(page, 'https');
      // Back goes to the previous step with its answer; forward again.
      await page.getByRole('link', { name: 'Back' }).click();
      await step(page, 'Email');
      await page.goto('/setup/https');
      await page.getByRole('button', { name: 'Continue' }).click();

      await step(page, 'Modules');
      await checkA11y(page, 'setup: modules');
      // Only what is built is offered.
      assert.deepEqual(await page.locator('.wizard .check label').allInnerTexts(), ['Training', 'Equipment', 'Events', 'Scheduling', 'Elections', 'Documents', 'Minutes']);
      await snap(page, 'modules');
      await page.getByRole('button', { name: 'Save and continue' }).click();

      await step(page, 'Review and finish');
      const summary = await page.locator('#summary').innerText();
      assert.match(summary, /Maple Grove Fire Department/);
      assert.match(summary, /1 station, 1 vehicle/);
      assert.match(summary, /Documents, Elections, Events, Equipment, Minutes, Scheduling, Training/);
      assert.doesNotMatch(summary, /Forms|Facilities/);
      await checkA11y(page, 'setup: finish');
      await snap(page, 'finish');
      await page.getByRole('button', { name: 'Finish setup' }).click();

      // Signed in as the administrator, on the department's dashboard.
      await page.getByRole('heading', { level: 1, name: 'Maple Grove Fire Department' }).waitFor();
      assert.equal(new URL(page.url()).pathname, '/');
      assert.match(await page.locator('#welcome').innerText(), /Add the members/);
      await checkA11y(page, 'dashboard after setup');
      await snap(page, 'done');
      // Setup is locked: the wizard is gone.
      await page.goto('/setup');
      assert.equal(new URL(page.url()).pathname, '/');
    }, {
      context: phone,
      expect: [[401, '/setup'], [422, '/setup/organization'], [422, '/setup/administrator']],
    });
    // The server knows it too: setup is no longer pending.
    const res = await fetch(`${fresh.url}/api/v1/setup/status`);
    assert.deepEqual(await res.json(), { pending: false });
  } finally {
    await fresh.stop();
  }
});

test('setup on a phone: restore from a backup instead of setting up afresh', async () => {
  const archive = await archiveFile();
  const fresh = await startFreshServer();
  const phone = { baseURL: fresh.url, viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };
  try {
    await withPage('setup-restore-phone', async (page) => {
      await page.goto('/setup');
      await page.getByLabel('Setup token').fill(fresh.token());
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByRole('heading', { level: 1, name: 'Database check' }).waitFor();
      await page.getByRole('link', { name: 'Restore from a backup' }).click();
      await page.getByRole('heading', { level: 1, name: 'Restore from a backup' }).waitFor();
      assert.equal(await scrollsSideways(page), false, 'fits a phone screen');
      await checkA11y(page, 'setup: restore');

      await page.getByRole('button', { name: 'Restore this backup' }).click();
      await page.locator('#archive-error').filter({ hasText: 'Choose a backup file first.' }).waitFor();
      await checkA11y(page, 'setup: restore (nothing chosen)');
      await page.screenshot({ path: join(artifacts, 'setup-restore-1-form.png'), fullPage: true });

      await page.getByLabel('Backup file (.lbk)').setInputFiles(archive);
      await page.getByRole('button', { name: 'Restore this backup' }).click();
      await page.waitForURL((u) => u.pathname === '/setup/restore/progress');
      await page.getByText(/The backup uploaded-\S+ was restored/).waitFor({ timeout: 120_000 });
      assert.equal(await scrollsSideways(page), false, 'the result fits a phone screen');
      await checkA11y(page, 'setup: restored');
      await page.screenshot({ path: join(artifacts, 'setup-restore-2-done.png'), fullPage: true });
      await page.getByRole('link', { name: 'Sign in' }).click();
      await page.getByText('The backup was restored.').waitFor();
      await page.getByLabel('Username or e-mail').fill(ADMIN.username);
      await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { level: 1, name: ORG_NAME }).waitFor();
      // Setup is over.
      await page.goto('/setup');
      assert.equal(new URL(page.url()).pathname, '/');
    }, { context: phone });
    const res = await fetch(`${fresh.url}/api/v1/setup/status`);
    assert.deepEqual(await res.json(), { pending: false });
  } finally {
    await fresh.stop();
  }
});
