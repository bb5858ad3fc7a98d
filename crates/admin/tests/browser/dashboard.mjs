// The dashboard in a real browser (Debian's Chromium, headless, driven by
// playwright-core), against a running locus admin listener. Run by
// crates/admin/tests/dashboard_browser.rs, which starts the server and
// speaks to this script over its stdin and stdout, one line each way:
//
//   script -> test: READY        the dashboard is shown and its live feed open
//   test -> script: REGISTERED   a REGISTER was answered 200 by the server
//   script -> test: DONE         every check passed (exit status 0)
//
// Between those it checks the login page (401, a wrong token refused),
// the registration shown live as text, the filter, removing it with the
// row's button, and logging out.
//
// Any failure is printed to stderr as "dashboard.mjs: ..." and exits
// non-zero. Every wait has a deadline; the whole run has one too.
//
// Environment:
//   LOCUS_ADMIN_URL     base URL of the admin listener (http://127.0.0.1:PORT)
//   LOCUS_ADMIN_TOKEN   the admin token
//   LOCUS_CONTACT       contact URI the test registers
//   LOCUS_USER_AGENT    its User-Agent (HTML, to be shown as text)
//   LOCUS_SCREENSHOT    where to write the screenshot of that state
//   LOCUS_DOCS_SCREENSHOT, LOCUS_DOCS_WAIT_MS (optional): also write a
//                       screenshot for the docs after waiting that long
//   LOCUS_CHROMIUM      the browser (default /usr/bin/chromium)
//   LOCUS_DEADLINE_MS   the whole run's deadline (default 90000)

import fs from 'node:fs';
import readline from 'node:readline';

const WAIT_MS = 15000; // a hang guard for each wait, not a speed threshold
const deadlineMs = Number(process.env.LOCUS_DEADLINE_MS || 90000);

function fail(message) {
  process.stderr.write('dashboard.mjs: ' + message + '\n');
  process.exit(1);
}

function env(name) {
  const v = process.env[name];
  if (!v) fail(name + ' is not set');
  return v;
}

const watchdog = setTimeout(() => fail('the run took longer than ' + deadlineMs + ' ms'), deadlineMs);
watchdog.unref();

const base = env('LOCUS_ADMIN_URL').replace(/\/$/, '');
const token = env('LOCUS_ADMIN_TOKEN');
const contact = env('LOCUS_CONTACT');
const userAgent = env('LOCUS_USER_AGENT');
const screenshot = env('LOCUS_SCREENSHOT');
const chromiumPath = process.env.LOCUS_CHROMIUM || '/usr/bin/chromium';

let chromium;
try {
  ({ chromium } = (await import('playwright-core')).default);
} catch (e) {
  fail('playwright-core is not installed (' + e.message + '); run scripts/test, which installs it');
}
if (!fs.existsSync(chromiumPath)) {
  fail(chromiumPath + ' is missing; run scripts/test, which installs Chromium');
}

// Lines from the test, read one at a time.
const lines = readline.createInterface({ input: process.stdin });
const queued = [];
const waiting = [];
lines.on('line', (line) => {
  const w = waiting.shift();
  if (w) w(line.trim());
  else queued.push(line.trim());
});

function nextLine(timeoutMs) {
  if (queued.length > 0) return Promise.resolve(queued.shift());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no line from the test within ' + timeoutMs + ' ms')), timeoutMs);
    waiting.push((line) => {
      clearTimeout(timer);
      resolve(line);
    });
  });
}

function say(line) {
  process.stdout.write(line + '\n');
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  args: ['--no-sandbox'],
  timeout: WAIT_MS,
});

// What the page must never do: run script from data, break the CSP, throw.
const problems = [];
let expectConfirm = null;

try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + e.blockedURI);
    });
  });
  page.on('console', (msg) => {
    if (msg.type() !== 'error' && msg.type() !== 'warning') return;
    const text = msg.text();
    // The login page is served with 401 and a wrong token gets 401: the
    // browser reports those loads; they are the contract, not a fault.
    if (/status of 401/.test(text)) return;
    if (msg.type() === 'error' || /Content Security Policy|CSP/.test(text)) problems.push('console: ' + text);
  });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('dialog', async (dialog) => {
    if (dialog.type() === 'confirm' && expectConfirm && expectConfirm(dialog.message())) {
      expectConfirm = null;
      await dialog.accept();
    } else {
      problems.push('unexpected dialog (' + dialog.type() + '): ' + dialog.message());
      await dialog.dismiss();
    }
  });

  // The login page, served with 401.
  const first = await page.goto(base + '/');
  check(first && first.status() === 401, 'GET / without a session answered ' + (first && first.status()) + ', not 401');
  await page.locator('#login-form').waitFor({ state: 'visible' });
  check(await page.getByLabel('Admin token').isVisible(), 'the login form has no "Admin token" field');

  // A wrong token is refused on the page.
  await page.getByLabel('Admin token').fill('0'.repeat(64));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#login-error').filter({ hasText: 'wrong token' }).waitFor({ state: 'visible' });

  // The right one opens the dashboard.
  await page.getByLabel('Admin token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#bindings-table').waitFor({ state: 'visible' });
  await page.locator('#badge-live').filter({ hasText: /^live$/ }).waitFor();
  await page.locator('#bindings-count').filter({ hasText: /registered/ }).waitFor();
  await page.locator('#stat-uptime').filter({ hasText: /\d/ }).waitFor();
  check((await page.locator('#login-form').count()) === 0, 'the login form is still shown');

  // From now on the page must not navigate: changes arrive by the feed.
  let navigations = 0;
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) navigations++;
  });

  say('READY');
  const line = await nextLine(WAIT_MS);
  check(line === 'REGISTERED', 'the test said "' + line + '", not REGISTERED');

  // The registration appears without a reload, its User-Agent as text.
  const row = page.locator('#bindings-rows tr').filter({ hasText: contact });
  await row.waitFor({ state: 'visible' });
  check(navigations === 0, 'the page reloaded to show the registration');
  const uaCell = row.locator('td.ua');
  const shown = await uaCell.textContent();
  check(shown === userAgent, 'the User-Agent cell shows ' + JSON.stringify(shown) + ', not ' + JSON.stringify(userAgent));
  check((await uaCell.locator('*').count()) === 0, 'the User-Agent cell holds elements: the text was parsed as HTML');
  check((await page.locator('img').count()) === 0, 'the page has an <img> element: data was parsed as HTML');
  const inDom = await page.evaluate(() => document.querySelectorAll('[onerror]').length);
  check(inDom === 0, 'an element with an onerror attribute exists');

  await page.screenshot({ path: screenshot, fullPage: true });

  // The filter matches the User-Agent, and hides rows that do not match.
  const search = page.getByLabel('Filter by AOR, contact or user agent');
  await search.fill('onerror=ALERT');
  await row.waitFor({ state: 'visible' });
  await search.fill('no such registration, surely');
  await row.waitFor({ state: 'hidden' });
  await page.locator('#bindings-empty').filter({ hasText: 'No registration matches.' }).waitFor();
  await search.fill('');
  await row.waitFor({ state: 'visible' });

  // Remove it with the row's button (confirming), and see it go.
  expectConfirm = (message) => message.includes(contact);
  await row.getByRole('button', { name: /^Remove / }).click();
  await row.waitFor({ state: 'detached' });
  check(expectConfirm === null, 'no confirmation was asked before removing');
  await page.locator('#notice').filter({ hasText: 'Removed' }).waitFor({ state: 'visible' });
  check(navigations === 0, 'the page reloaded when removing');

  // Optionally, the picture for the docs, once the server has some history.
  const docs = process.env.LOCUS_DOCS_SCREENSHOT;
  if (docs) {
    await page.waitForTimeout(Number(process.env.LOCUS_DOCS_WAIT_MS || 0));
    await page.locator('#search').fill('');
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    await page.mouse.move(0, 0);
    await page.screenshot({ path: docs, fullPage: true });
  }

  // Logging out ends the session: the login page again.
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.locator('#login-form').waitFor({ state: 'visible' });
  const after = await page.request.get(base + '/api/v1/session');
  check(after.status() === 401, 'GET /api/v1/session after logging out answered ' + after.status());

  check(problems.length === 0, 'the page reported problems:\n  ' + problems.join('\n  '));
  say('DONE');
} catch (e) {
  const extra = problems.length > 0 ? '\n  also: ' + problems.join('\n  also: ') : '';
  await browser.close().catch(() => {});
  fail((e && e.message ? e.message : String(e)) + extra);
}
await browser.close();
process.exit(0);
