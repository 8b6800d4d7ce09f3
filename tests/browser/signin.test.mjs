// Sign in: a good token opens the inbox with the user's name in the header;
// a refused token says so and opens nothing; signing out ends the session.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { demoSuite, inPage, signIn } from './harness.mjs';

const suite = demoSuite({ before, after });

test('the demo admin signs in with the printed token', inPage(suite, async ({ page, server }) => {
  const me = await server.api('api/me');
  assert.equal(me.status, 200, `GET /api/me with the printed token: ${me.text}`);
  const name = me.body.user.name;

  await page.goto(server.url);
  // Not signed in: the app shows the sign-in page.
  await page.getByRole('heading', { name: 'Sign in', level: 1 }).waitFor();
  await signIn(page, server);
  await page.getByText(name, { exact: true }).first().waitFor();
  await page.getByRole('link', { name: 'Inbox', exact: true }).waitFor();
  await page.getByRole('link', { name: 'Listening', exact: true }).waitFor();
  assert.match(page.url(), /#\/inbox/);
}));

test('a responder signs in and sees their own name', inPage(suite, async ({ page, server }) => {
  const token = await server.addUser({ name: 'Rosa Responder', role: 'responder', orgs: ['RHQ'] });
  await signIn(page, server, token);
  await page.getByText('Rosa Responder', { exact: true }).first().waitFor();
}));

test('a refused token is named as such and opens nothing', inPage(suite, async ({ page, server }) => {
  await page.goto(`${server.url}#/signin`);
  await page.getByLabel('Access token').fill('not-a-real-token-0000000000000000000000000');
  const answer = page.waitForResponse((r) => r.url().includes('/api/'));
  await page.getByRole('button', { name: 'Sign in' }).click();
  assert.equal((await answer).status(), 401, 'the API refuses the token');
  const alert = page.getByRole('alert');
  await alert.filter({ hasText: 'That token was not accepted' }).waitFor();
  assert.equal(await page.getByRole('heading', { name: 'Inbox', level: 1 }).count(), 0);
  assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0);
  const stored = await page.evaluate(() => JSON.stringify(sessionStorage));
  assert.ok(!stored.includes('not-a-real-token'), `a refused token is not kept: ${stored}`);
}));

test('signing out returns to the sign-in page and forgets the token',
     inPage(suite, async ({ page, server }) => {
       await signIn(page, server);
       await page.getByRole('button', { name: 'Sign out' }).click();
       await page.getByRole('heading', { name: 'Sign in', level: 1 }).waitFor();
       const stored = await page.evaluate(() => JSON.stringify(sessionStorage));
       assert.ok(!stored.includes(server.token), `the token is gone from sessionStorage: ${stored}`);
       // The inbox asks for a sign-in again.
       await page.goto(`${server.url}#/inbox`);
       await page.getByRole('heading', { name: 'Sign in', level: 1 }).waitFor();
     }));
