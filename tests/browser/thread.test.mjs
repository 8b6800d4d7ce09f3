// Opening a thread: the conversation with author, time and text, every
// section the contract names, and the routing decision's matched words in
// <mark> — at the right place in a post whose text has accents and emoji
// before the match (the API's offsets are not JavaScript string indices).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { demoSuite, inPage, signIn, openThreadFromInbox, fixtures } from './harness.mjs';

// Someone to assign Leeds's threads to (assignees must be users).
const suite = demoSuite({ before, after }, async ({ server }) => {
  await server.addUser({ name: 'Lee Leeds', role: 'responder', orgs: ['RR8'] });
});

const sections = ['Conversation', 'Why this is here', 'Listening', 'Notes', 'Replies',
                  'Write a reply', 'Audit'];

test('a thread opened from the inbox shows the conversation and every section',
     inPage(suite, async ({ page, server }) => {
       await signIn(page, server);
       const id = await openThreadFromInbox(page, fixtures.publishablePost);
       assert.match(page.url(), new RegExp(`#/threads/${id}$`));
       for (const name of sections) {
         await page.getByRole('heading', { level: 2, name, exact: true }).waitFor();
       }
       await page.getByText(fixtures.publishablePost).first().waitFor();
       await page.getByText('dad_carer_dave').first().waitFor();
       // The post's time is shown (in some form): a <time> element with the
       // instant it was written.
       const times = await page.locator('time').evaluateAll(
           (nodes) => nodes.map((n) => n.getAttribute('datetime') || n.textContent));
       assert.ok(times.some((t) => t && t.startsWith('2026-11-22')),
                 `a <time> of the post (2026-11-22): ${JSON.stringify(times)}`);
       // The organisation's controls.
       await page.getByRole('button', { name: 'Close', exact: true }).first().waitFor();
       await page.getByRole('button', { name: 'Dismiss', exact: true }).first().waitFor();
       await page.getByRole('button', { name: 'Assign', exact: true }).first().waitFor();
       await page.getByLabel('Your reply').waitFor();
     }));

test('matched words are marked, also after accents and emoji',
     inPage(suite, async ({ page, server }) => {
       await signIn(page, server);
       const thread = await server.threadStartingWith(fixtures.nonAsciiPost);
       await page.goto(`${server.url}#/threads/${thread.id}`);
       await page.getByRole('heading', { level: 1, name: `Thread ${thread.id}` }).waitFor();
       await page.getByText(fixtures.nonAsciiPost).first().waitFor();
       const marks = page.locator('mark');
       await marks.first().waitFor();
       const texts = await marks.allTextContents();
       assert.ok(texts.includes(fixtures.nonAsciiMatch),
                 `a <mark> holding exactly "${fixtures.nonAsciiMatch}": ${JSON.stringify(texts)}`);
       for (const text of texts) {
         assert.ok(!/[�]/.test(text), `no broken character in a mark: ${JSON.stringify(text)}`);
       }
       // The mark sits inside the post's text, which reads as it was written.
       const postText = await page.locator('mark', { hasText: fixtures.nonAsciiMatch }).first()
           .evaluate((mark) => mark.parentElement.textContent);
       assert.ok(postText.includes(`${fixtures.nonAsciiPost} Waiting room at the Northern General`),
                 `the marked post's text, unbroken: ${JSON.stringify(postText)}`);
     }));

test('the post with the ASCII match is marked too', inPage(suite, async ({ page, server }) => {
  await signIn(page, server);
  await openThreadFromInbox(page, fixtures.publishablePost);
  const texts = await page.locator('mark').allTextContents();
  assert.ok(texts.includes('Northern General'), `marks: ${JSON.stringify(texts)}`);
}));

test('assign, note, close, reopen and dismiss with a reason',
     inPage(suite, async ({ page, server }) => {
       await signIn(page, server);
       const id = await openThreadFromInbox(page, fixtures.refusedPost);
       const org = page.getByRole('region', { name: /RR8|Leeds/ });
       await org.waitFor();

       await org.getByLabel('Assign to').fill('Lee Leeds');
       await org.getByRole('button', { name: 'Assign', exact: true }).click();
       await org.getByText('Lee Leeds', { exact: true }).waitFor();
       await org.getByText('Assigned', { exact: true }).waitFor();

       await page.getByLabel('Add a note').fill('Rang the family back: rebooked for Monday.');
       await page.getByRole('button', { name: 'Add note', exact: true }).click();
       await page.getByText('Rang the family back: rebooked for Monday.').waitFor();

       await org.getByRole('button', { name: 'Close', exact: true }).click();
       await org.getByRole('button', { name: 'Reopen', exact: true }).waitFor();
       await org.getByText('Closed', { exact: true }).waitFor();
       await org.getByRole('button', { name: 'Reopen', exact: true }).click();
       await org.getByRole('button', { name: 'Close', exact: true }).waitFor();

       await org.getByLabel('Reason').selectOption('spam');
       await org.getByRole('button', { name: 'Dismiss', exact: true }).click();
       await org.getByText('Dismissed', { exact: true }).waitFor();
       await org.getByText('spam', { exact: true }).waitFor();
       await org.getByRole('button', { name: 'Reopen', exact: true }).waitFor();

       const { body } = await server.api(`api/threads/${id}`);
       const rr8 = body.thread.orgs.find((o) => o.org === 'RR8');
       assert.equal(rr8.state, 'dismissed');
       assert.equal(rr8.dismiss_reason, 'spam');
       assert.equal(rr8.assignee, 'Lee Leeds');
       assert.equal(body.thread.notes.length, 1);
       const actions = body.thread.audit.map((a) => a.action);
       for (const action of ['assign', 'note']) {
         assert.ok(actions.includes(action), `audited "${action}": ${actions}`);
       }
       // The audit section shows what was done.
       const audit = page.locator('section', {
         has: page.getByRole('heading', { level: 2, name: 'Audit', exact: true }),
       }).last();
       await audit.getByText(/note/i).first().waitFor();
     }));
