// Harness of the browser tests (tests/browser/README.md): the real `earshot`
// binary as a child process, Debian's Chromium driven by playwright-core, and
// teardown that runs even when a test fails.
//
// Every wait has a deadline and fails with a message naming what was awaited
// and what the child printed; nothing sleeps.
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');

// The demo directory of these tests: two fake Mastodon instances, two trusts.
export const demoDir = join(here, 'demo');

// What the fixtures in demo/ hold (demo/make_fixtures.mjs writes them).
export const fixtures = {
  // RHQ (Sheffield Teaching Hospitals): answered from an account whose
  // instance accepts the reply.
  publishablePost: 'Waited nine hours in A&E at the Northern General',
  publishablePostId: '117700000000000102',
  // Its published reply's URL, below the fixture server's base URL.
  publishedPath: '/sheffield/@sth_nhs/117700000000009001',
  // RHQ, with non-ASCII text before the matched name.
  nonAsciiPost: 'Café crème at 3am 😴🏥 — élan gone.',
  nonAsciiMatch: 'Northern General',
  // RR8 (Leeds Teaching Hospitals): its account's instance refuses replies.
  refusedPost: "Leeds General Infirmary cancelled my mum's operation",
  refusalText: 'Validation failed: Text character limit of 500 exceeded',
  // RR8, markup typed as text.
  hostilePost: 'Leeds General Infirmary parking is a nightmare <script>alert(1)</script>',
  hostileImg: '<img src=x onerror=alert(1)>',
  hostileAuthor: 'Mel <b>bold</b>',
  orgs: { sheffield: 'RHQ', leeds: 'RR8' },
};

// The binary under test: $EARSHOT_BIN (CTest passes it), else the default
// build directory's.
export function earshotBinary() {
  const bin = process.env.EARSHOT_BIN || join(repo, 'build', 'bin', 'earshot');
  if (!existsSync(bin)) {
    throw new Error(`earshot binary not found at ${bin}: build it (bash .ci/build earshot) ` +
                    'or set EARSHOT_BIN');
  }
  return bin;
}

export const chromiumPath = process.env.EARSHOT_CHROMIUM || '/usr/bin/chromium';

// Without the background-networking flags Chromium keeps trying to reach
// Google's hosts, which this closed network refuses (many at a time).
// --no-sandbox: CI runs as root, where Chromium's sandbox will not start.
export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
];

// Where screenshots of failed tests go: $EARSHOT_BROWSER_ARTIFACTS (CTest
// sets build/browser-artifacts), else a temporary directory.
export function artifactsDir() {
  const dir = process.env.EARSHOT_BROWSER_ARTIFACTS || join(tmpdir(), 'earshot-browser-artifacts');
  mkdirSync(dir, { recursive: true });
  return dir;
}

// Child processes still running, killed when this process exits however a
// test ended (a failure, an uncaught error, node's own test timeout).
const live = new Set();
process.on('exit', () => {
  for (const child of live) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});
for (const [signal, number] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]]) {
  process.once(signal, () => process.exit(128 + number));
}

function childEnv(extra = {}) {
  const env = { ...process.env, ...extra };
  // A developer's own configuration never leaks into a test.
  delete env.EARSHOT_CONFIG;
  return env;
}

// A running `earshot` child whose stdout and stderr are kept, line by line.
class Child {
  constructor(args, { cwd, env }) {
    this.args = args;
    this.out = [];
    this.err = [];
    this.exit = null;
    // setpriv (util-linux) execs earshot in place, so signals reach it
    // directly, with a parent-death signal: if this process is killed
    // outright (SIGKILL from CTest's timeout leaves no chance to clean up),
    // the kernel kills earshot too.
    this.proc = spawn('setpriv', ['--pdeathsig', 'KILL', '--', earshotBinary(), ...args],
                      { cwd, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(this.proc);
    this.waiters = new Set();
    createInterface({ input: this.proc.stdout }).on('line', (line) => {
      this.out.push(line);
      this.notify();
    });
    createInterface({ input: this.proc.stderr }).on('line', (line) => {
      this.err.push(line);
    });
    this.exited = new Promise((resolveExit) => {
      this.proc.on('exit', (code, signal) => {
        live.delete(this.proc);
        this.exit = { code, signal };
        this.notify();
        resolveExit(this.exit);
      });
    });
  }

  notify() {
    for (const waiter of [...this.waiters]) waiter();
  }

  describe() {
    const tail = (lines) => lines.slice(-40).join('\n    ');
    return `earshot ${this.args.join(' ')}\n  exit: ${JSON.stringify(this.exit)}\n` +
           `  stdout:\n    ${tail(this.out)}\n  stderr:\n    ${tail(this.err)}`;
  }

  // Resolves with the first match of `pattern` in a stdout line; rejects when
  // the child exits first or `timeoutMs` passes.
  waitForLine(pattern, timeoutMs) {
    return new Promise((resolveLine, reject) => {
      const check = () => {
        for (const line of this.out) {
          const m = line.match(pattern);
          if (m) return done(() => resolveLine(m));
        }
        if (this.exit) {
          return done(() => reject(new Error(
              `earshot exited before printing a line matching ${pattern}\n${this.describe()}`)));
        }
        return undefined;
      };
      const timer = setTimeout(() => done(() => reject(new Error(
          `no line matching ${pattern} within ${timeoutMs} ms\n${this.describe()}`))), timeoutMs);
      const done = (settle) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        settle();
      };
      this.waiters.add(check);
      check();
    });
  }

  // SIGINT (earshot stops serving and exits), then SIGKILL after a grace
  // period. Resolves with the exit.
  async stop(graceMs = 5000) {
    if (this.exit) return this.exit;
    this.proc.kill('SIGINT');
    let timer;
    const killed = new Promise((resolveKill) => {
      timer = setTimeout(() => {
        this.proc.kill('SIGKILL');
        resolveKill();
      }, graceMs);
    });
    await Promise.race([this.exited, killed]);
    clearTimeout(timer);
    return this.exited;
  }
}

// Runs `earshot ARGS...` to completion (at most `timeoutMs`); resolves with
// {code, stdout, stderr} or rejects naming the command and its output.
export function runEarshot(args, { cwd, env, timeoutMs = 20000 } = {}) {
  return new Promise((resolveRun, reject) => {
    execFile(earshotBinary(), args, { cwd, env: childEnv(env), timeout: timeoutMs },
             (error, stdout, stderr) => {
               if (error) {
                 reject(new Error(`earshot ${args.join(' ')} failed (${error.message})\n` +
                                  `stdout: ${stdout}\nstderr: ${stderr}`));
               } else {
                 resolveRun({ stdout, stderr });
               }
             });
  });
}

// A temporary directory removed by cleanup().
function scratch(prefix) {
  return mkdtempSync(join(tmpdir(), `earshot-browser-${prefix}-`));
}

// `earshot demo` on the browser tests' demo directory, serving the API and the
// inbox on a free port of 127.0.0.1 with a fresh database. Resolves once it
// printed the inbox URL and the admin's token.
export async function startDemo({ startTimeoutMs = 30000 } = {}) {
  const dir = scratch('demo');
  const db = join(dir, 'demo.db');
  const child = new Child(['demo', '--no-open', '--demo-dir', demoDir, '--listen', '127.0.0.1:0', '--db', db],
                          { cwd: dir });
  try {
    const [, url] = await child.waitForLine(/^earshot: inbox at (http:\/\/\S+)$/, startTimeoutMs);
    const [, token] = await child.waitForLine(/^earshot: sign in with token (\S+)$/,
                                              startTimeoutMs);
    // Printed before the crawl, so long before the inbox line.
    const sourcesBase = child.out.map((line) => line.match(/sample sources served at (http:\/\/\S+)/))
        .find(Boolean)?.[1] ?? null;
    return new Server({ child, dir, db, url: url.endsWith('/') ? url : `${url}/`, token,
                        sourcesBase });
  } catch (e) {
    await child.stop();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

// `earshot serve` on an existing database (the harness's own smoke test, and
// for scenarios that need no crawl).
export async function startServe(db, { startTimeoutMs = 15000 } = {}) {
  const dir = scratch('serve');
  const child = new Child(['--db', db, 'serve', '--listen', '127.0.0.1:0'],
                          { cwd: dir });
  try {
    const [, url] = await child.waitForLine(/^earshot: serving the API on (http:\/\/\S+)$/,
                                            startTimeoutMs);
    return new Server({ child, dir, db, url: url.endsWith('/') ? url : `${url}/`, token: null });
  } catch (e) {
    await child.stop();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

export class Server {
  constructor({ child, dir, db, url, token, sourcesBase = null }) {
    Object.assign(this, { child, dir, db, url, token, sourcesBase });
    this.origin = new URL(url).origin;
  }

  // `earshot users add` on this server's database; resolves with the new
  // user's bearer token (the last line of its output).
  async addUser({ name, role, orgs = [], regions = [] }) {
    const args = ['--db', this.db, 'users', 'add', '--name', name, '--role', role];
    for (const org of orgs) args.push('--org', org);
    for (const region of regions) args.push('--region', region);
    const { stdout } = await runEarshot(args, { cwd: this.dir });
    const lines = stdout.trim().split('\n');
    const token = lines[lines.length - 1].trim();
    if (!/^[A-Za-z0-9_-]{20,}$/.test(token)) {
      throw new Error(`earshot users add printed no token as its last line:\n${stdout}`);
    }
    return token;
  }

  // The JSON API as `token` (default: the demo admin's): {status, body}.
  async api(path, { token = this.token, method = 'GET', body } = {}) {
    const response = await fetch(new URL(path, this.url), {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10000),
    });
    const text = await response.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      // not JSON: the caller sees text
    }
    return { status: response.status, headers: response.headers, body: json, text };
  }

  // The thread whose opening post's text starts with `prefix`, as the admin
  // sees it in GET /api/threads.
  async threadStartingWith(prefix) {
    const { status, body, text } = await this.api(`api/threads?q=${encodeURIComponent(
        prefix.split(' ').slice(0, 3).join(' '))}`);
    if (status !== 200) throw new Error(`GET /api/threads: ${status} ${text}`);
    const found = body.threads.find((t) => threadText(t).startsWith(prefix));
    if (!found) {
      throw new Error(`no thread opens with "${prefix}" in ${JSON.stringify(body.threads)}`);
    }
    return found;
  }

  async stop() {
    const exit = await this.child.stop();
    rmSync(this.dir, { recursive: true, force: true });
    return exit;
  }
}

// The opening post's text of a thread in GET /api/threads.
export function threadText(thread) {
  const post = thread.opening_post || thread.post || thread.root || {};
  return post.text || '';
}

// Debian's Chromium, headless, through playwright-core (never a browser of
// Playwright's own: it has none to download here). Playwright gives every
// launch a fresh, empty --user-data-dir of its own and removes it on close.
export async function launchBrowser() {
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (error) {
    throw new Error(`playwright-core is not installed (${error.message}): run bash .ci/setup ` +
                    '(npm ci --prefix tests/browser)');
  }
  if (!existsSync(chromiumPath)) {
    throw new Error(`${chromiumPath} not found: install Debian's chromium (bash .ci/setup)`);
  }
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: chromiumArgs,
    timeout: 30000,
  });
}

// Watches a page for what must never happen: a dialog (an alert from injected
// script), an uncaught page error, a console error (CSP violations are logged
// there), a request to another origin than `origin`. Each is recorded with
// what it said; dialogs are dismissed so the page does not hang on them.
export function watchPage(page, origin) {
  const seen = { dialogs: [], pageErrors: [], consoleErrors: [], foreignRequests: [] };
  page.on('dialog', (dialog) => {
    seen.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    dialog.dismiss().catch(() => {});
  });
  page.on('pageerror', (error) => seen.pageErrors.push(String(error)));
  page.on('console', (message) => {
    if (message.type() === 'error') seen.consoleErrors.push(message.text());
  });
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(origin) && !url.startsWith('data:') && url !== 'about:blank') {
      seen.foreignRequests.push(url);
    }
  });
  return seen;
}

// A browser page plus what watchPage() saw, for one test.
export async function openPage(browser, server, { viewport = { width: 1280, height: 900 } } = {}) {
  const context = await browser.newContext({ viewport });
  context.setDefaultTimeout(10000);
  context.setDefaultNavigationTimeout(15000);
  const page = await context.newPage();
  const seen = watchPage(page, server.origin);
  return { context, page, seen };
}

// Saves a screenshot of `page` named after the test when `fn` fails, then
// rethrows. Use: await onFailureScreenshot(page, t.name, async () => {...}).
export async function onFailureScreenshot(page, name, fn) {
  try {
    return await fn();
  } catch (error) {
    const file = join(artifactsDir(), `${basename(process.argv[1] || 'browser', '.mjs')}--${
        name.replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 80)}.png`);
    let note;
    try {
      await page.screenshot({ path: file, fullPage: true, timeout: 5000 });
      note = `screenshot: ${file}`;
    } catch (shotError) {
      note = `no screenshot: ${shotError.message}`;
    }
    // Node prints the stack, which holds the message as it was when thrown.
    error.message += `\n(${note})`;
    if (typeof error.stack === 'string') error.stack = `${note}\n${error.stack}`;
    throw error;
  }
}

// Signs in through the sign-in page with `token` and waits for the inbox.
export async function signIn(page, server, token = server.token) {
  await page.goto(`${server.url}#/signin`);
  await page.getByLabel('Access token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Inbox', level: 1 }).waitFor();
}

// The inbox's link to the thread opening with `text`.
export function threadLink(page, text) {
  return page.getByRole('link', { name: text });
}

export { repo };

// What a scenario must never see, whatever it does: a dialog, an uncaught
// script error, a console error other than the browser's own line for an
// API answer the test provoked (a refused token's 401), a request to another
// origin. Throws naming each.
export function assertClean(seen) {
  const problems = [];
  if (seen.dialogs.length) problems.push(`dialogs opened: ${seen.dialogs.join(' | ')}`);
  if (seen.pageErrors.length) problems.push(`page errors: ${seen.pageErrors.join(' | ')}`);
  const consoleErrors = seen.consoleErrors.filter(
      (text) => !/^Failed to load resource: the server responded with a status of 4\d\d/.test(text));
  if (consoleErrors.length) problems.push(`console errors: ${consoleErrors.join(' | ')}`);
  if (seen.foreignRequests.length) {
    problems.push(`requests to other origins: ${seen.foreignRequests.join(' | ')}`);
  }
  if (problems.length) throw new Error(problems.join('\n'));
}

// One file's shared state: one demo process and one browser, started before
// the file's first test and torn down after its last (even when tests fail;
// the child is also killed if this process dies).
// `setup(suite)`, when given, runs once both are up (node may run several
// top-level before() hooks at once, so a file's own setup goes here).
export function demoSuite(hooks, setup = null) {
  const suite = { server: null, browser: null };
  hooks.before(async () => {
    suite.server = await startDemo();
    suite.browser = await launchBrowser();
    if (setup) await setup(suite);
  });
  hooks.after(async () => {
    await suite.browser?.close();
    if (!suite.server) return;
    const exit = await suite.server.stop();
    // SIGINT ends the demo cleanly; anything else (a crash, SIGKILL after
    // the grace period) is a failure of the file.
    if (exit.code !== 0) {
      throw new Error(`earshot demo did not exit 0 on SIGINT\n${suite.server.child.describe()}`);
    }
  });
  return suite;
}

// A test body with its own browser context and page; a screenshot is saved
// when it fails, and assertClean() runs when it passes.
// fn({page, context, seen, server, browser, t}).
export function inPage(suite, fn, contextOptions = {}) {
  return async (t) => {
    const context = await suite.browser.newContext({ viewport: { width: 1280, height: 900 },
                                                     ...contextOptions });
    context.setDefaultTimeout(10000);
    context.setDefaultNavigationTimeout(15000);
    const page = await context.newPage();
    const seen = watchPage(page, suite.server.origin);
    try {
      await onFailureScreenshot(page, t.name, async () => {
        await fn({ page, context, seen, server: suite.server, browser: suite.browser, t });
        assertClean(seen);
      });
    } finally {
      await context.close();
    }
  };
}

// Picks organisation `code` in the select labelled `label`, whatever the
// option's text ("RHQ", "Sheffield Teaching Hospitals … (RHQ)"): the option
// whose value is the code, else whose text names it.
export async function selectOrg(page, label, code) {
  const select = page.getByLabel(label, { exact: true });
  await select.waitFor();
  const options = await select.locator('option').evaluateAll(
      (nodes) => nodes.map((o) => ({ value: o.value, text: o.textContent })));
  const option = options.find((o) => o.value === code) ||
                 options.find((o) => o.value.toUpperCase() === code) ||
                 options.find((o) => (o.text || '').includes(code));
  if (!option) {
    throw new Error(`no option for ${code} in "${label}": ${JSON.stringify(options)}`);
  }
  await select.selectOption(option.value);
}

// Opens the thread whose opening post starts with `text` from the inbox by
// clicking its link; resolves with the thread id read from the link.
export async function openThreadFromInbox(page, text) {
  const link = page.getByRole('link', { name: text });
  await link.first().waitFor();
  const href = await link.first().getAttribute('href');
  const id = (href || '').match(/#\/threads\/(\d+)/)?.[1];
  if (!id) throw new Error(`the link to "${text}" does not go to #/threads/ID: ${href}`);
  await link.first().click();
  await page.getByRole('heading', { level: 1, name: `Thread ${id}` }).waitFor();
  return id;
}

// The <li> of the inbox's results list holding the link to `text`.
export function inboxItem(page, text) {
  return page.getByRole('listitem').filter({ has: page.getByRole('link', { name: text }) });
}

// Waits until every `shown` thread is listed and every `hidden` one is not
// (the list is redrawn after the API answers).
export async function expectListed(page, shown, hidden) {
  for (const text of shown) {
    await waitOrSay(page.getByRole('link', { name: text }).first(), 'visible',
                    `"${text}" should be listed`);
  }
  for (const text of hidden) {
    await waitOrSay(page.getByRole('link', { name: text }).first(), 'hidden',
                    `"${text}" should not be listed`);
  }
}

async function waitOrSay(locator, state, message) {
  try {
    await locator.waitFor({ state, timeout: 5000 });
  } catch (error) {
    throw new Error(`${message}: ${error.message.split('\n')[0]}`);
  }
}
