// Signing out forgets everything of the person who signed out: on a shared
// browser tab, the next person to sign in sees nothing the page remembered
// for the first (the tone hints quoting their draft, a publish notice).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { demoSuite, inPage, signIn, fixtures, selectOrg, threadLink } from './harness.mjs';

let rosa;  // RHQ responder
let rhys;  // another RHQ responder, signing in after her on the same tab
const suite = demoSuite({ before, after }, async ({ server }) => {
  rosa = await server.addUser({ name: 'Rosa Sheffield', role: 'responder', orgs: ['RHQ'] });
  rhys = await server.addUser({ name: 'Rhys Sheffield', role: 'responder', orgs: ['RHQ'] });
});

test('the next person on the tab does not see the last one\'s tone hints',
     inPage(suite, async ({ page, server }) => {
       await signIn(page, server, rosa);
       await threadLink(page, fixtures.nonAsciiPost).click();
       await selectOrg(page, 'Reply as', fixtures.orgs.sheffield);
       await page.getByLabel('Your reply').fill('Call me on 07700 900123 about it.');
       await page.getByRole('button', { name: 'Save draft' }).click();
       const hints = page.getByRole('heading', { name: 'Before you publish' });
       await hints.waitFor();
       const address = page.url();

       await page.getByRole('button', { name: 'Sign out' }).click();
       await page.getByRole('heading', { name: 'Sign in', level: 1 }).waitFor();
       // The same document: the page's modules and their memory live on.
       await page.getByLabel('Access token').fill(rhys);
       await page.getByRole('button', { name: 'Sign in' }).click();
       await page.getByRole('heading', { name: 'Inbox', level: 1 }).waitFor();
       await page.evaluate((url) => { location.hash = new URL(url).hash; }, address);
       await page.getByRole('heading', { name: 'Write a reply' }).waitFor();
       assert.equal(await hints.count(), 0, 'Rosa\'s tone hints are shown to Rhys');
     }));
