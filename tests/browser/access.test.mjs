// Access in the inbox: a responder of Sheffield Teaching Hospitals (RHQ) sees
// RHQ's threads, never Leeds Teaching Hospitals' (RR8): not in the list, not
// by typing its address, and can reply only as RHQ.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  demoSuite, inPage, signIn, fixtures, expectListed, selectOrg,
} from './harness.mjs';

let rosa;  // RHQ responder's token
const suite = demoSuite({ before, after }, async ({ server }) => {
  rosa = await server.addUser({ name: 'Rosa Sheffield', role: 'responder', orgs: ['RHQ'] });
});

const leeds = [fixtures.refusedPost, 'Leeds General Infirmary parking is a nightmare'];
const sheffield = [fixtures.publishablePost, fixtures.nonAsciiPost];

test('a Sheffield responder\'s inbox holds Sheffield\'s threads only',
     inPage(suite, async ({ page, server }) => {
       await signIn(page, server, rosa);
       await expectListed(page, sheffield, leeds);
       // Even when asking for Leeds's threads by address.
       await page.goto(`${server.url}#/inbox?org=RR8`);
       await page.getByRole('heading', { name: 'Inbox', level: 1 }).waitFor();
       await expectListed(page, [], [...leeds]);
     }));

test('a Leeds thread by its address is not found', inPage(suite, async ({ page, server }) => {
  const thread = await server.threadStartingWith(fixtures.refusedPost);
  const api = await server.api(`api/threads/${thread.id}`, { token: rosa });
  assert.equal(api.status, 404, `the API hides it: ${api.text}`);

  await signIn(page, server, rosa);
  await page.goto(`${server.url}#/threads/${thread.id}`);
  // Shown as the page's heading ("Thread not found") or in an error summary.
  await page.getByRole('main').getByText(/not found/i).first().waitFor();
  const text = await page.evaluate(() => document.body.innerText);
  assert.ok(!text.includes('cancelled my mum'), 'nothing of the post is shown');
  assert.equal(await page.getByLabel('Your reply').count(), 0, 'no composer');
}));

test('on a Sheffield thread the responder replies as Sheffield only',
     inPage(suite, async ({ page, server }) => {
       const thread = await server.threadStartingWith(fixtures.nonAsciiPost);
       await signIn(page, server, rosa);
       await page.goto(`${server.url}#/threads/${thread.id}`);
       await page.getByRole('heading', { level: 1, name: `Thread ${thread.id}` }).waitFor();
       const options = await page.getByLabel('Reply as').locator('option').evaluateAll(
           (nodes) => nodes.map((o) => o.value).filter((v) => v));
       assert.deepEqual(options.map((v) => v.toUpperCase()), ['RHQ']);
       await selectOrg(page, 'Reply as', 'RHQ');
     }));

test('a viewer reads but is offered no actions', inPage(suite, async ({ page, server }) => {
  const token = await server.addUser({ name: 'Val Viewer', role: 'viewer', orgs: ['RHQ'] });
  const thread = await server.threadStartingWith(fixtures.nonAsciiPost);
  await signIn(page, server, token);
  await expectListed(page, sheffield, leeds);
  await page.goto(`${server.url}#/threads/${thread.id}`);
  await page.getByRole('heading', { level: 1, name: `Thread ${thread.id}` }).waitFor();
  await page.getByText(fixtures.nonAsciiPost).first().waitFor();
  for (const name of ['Save draft', 'Assign', 'Close', 'Dismiss', 'Add note']) {
    assert.equal(await page.getByRole('button', { name, exact: true }).count(), 0,
                 `a viewer is offered "${name}"`);
  }
}));
