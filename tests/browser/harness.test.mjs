// The harness itself, against what every build has: `earshot serve` on a
// database holding one user, and Debian's Chromium fetching the JSON API
// with and without the user's bearer token. When this fails, every other
// browser test would too: the message says which part is missing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runEarshot, startServe, launchBrowser, openPage } from './harness.mjs';

let dir;
let server;
let browser;
let token;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'earshot-browser-harness-'));
  const db = join(dir, 'serve.db');
  const { stdout } = await runEarshot(['--db', db, 'users', 'add', '--name', 'Harness Admin',
                                       '--role', 'admin'], { cwd: dir });
  token = stdout.trim().split('\n').pop();
  server = await startServe(db);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('chromium reaches the API served by earshot serve', async () => {
  const { context, page, seen } = await openPage(browser, server);
  try {
    const refused = await page.goto(`${server.url}api/threads`);
    assert.equal(refused.status(), 401, 'GET /api/threads without a token');

    await context.setExtraHTTPHeaders({ Authorization: `Bearer ${token}` });
    const answered = await page.goto(`${server.url}api/threads`);
    assert.equal(answered.status(), 200, 'GET /api/threads with the admin token');
    assert.deepEqual(JSON.parse(await answered.text()), { threads: [], next: null });
    assert.deepEqual(seen.foreignRequests, [], 'requests to other origins');
    assert.deepEqual(seen.dialogs, []);
  } finally {
    await context.close();
  }
});

test('the serve process stops on SIGINT', async () => {
  const exit = await server.stop();
  server = null;
  assert.equal(exit.code, 0, `earshot serve exit: ${JSON.stringify(exit)}`);
});
