// Writing and publishing replies to the fake Mastodon instances of
// tests/browser/demo: tone hints before publishing; Sheffield's account is
// answered with the new status (the reply shows "Published" and a link to
// it on the fake server) and Leeds's with a 422 (the reply shows "Failed"
// and Mastodon's words). The API's thread record confirms one publish
// attempt (one `publishing` audit entry: the one POST to the platform).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { demoSuite, inPage, signIn, openThreadFromInbox, selectOrg, fixtures } from './harness.mjs';

const suite = demoSuite({ before, after });

// Saves a draft as `org` and resolves with the reply's list item.
async function saveDraft(page, org, body) {
  await selectOrg(page, 'Reply as', org);
  await page.getByLabel('Your reply').fill(body);
  const saved = page.waitForResponse(
      (r) => r.request().method() === 'POST' && /\/api\/threads\/\d+\/replies$/.test(r.url()));
  await page.getByRole('button', { name: 'Save draft' }).click();
  const response = await saved;
  assert.equal(response.status(), 201, `POST replies: ${await response.text()}`);
  const reply = (await response.json()).reply;
  return { reply, item: replyItem(page, body) };
}

// The element of the "Replies" section holding a reply's body.
function replyItem(page, body) {
  return page.getByRole('listitem').filter({ hasText: body }).filter({
    has: page.getByText(/^(Draft|Approved|Publishing|Published|Failed|Answer on the platform)$/),
  });
}

// Where the fake Sheffield instance says the reply was published.
function publishedUrl(server) {
  assert.ok(server.sourcesBase, 'earshot demo printed the fixture server\'s base URL');
  return `${server.sourcesBase}${fixtures.publishedPath}`;
}

function publishRequests(page) {
  const sent = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && /\/api\/replies\/\d+\/publish$/.test(r.url())) sent.push(r.url());
  });
  return sent;
}

test('a reply is drafted with tone hints, published, and links to the published status',
     inPage(suite, async ({ page, server }) => {
       const publishes = publishRequests(page);
       await signIn(page, server);
       const id = await openThreadFromInbox(page, fixtures.publishablePost);
       const body = 'Thank you for telling us. Please contact our PALS team so we can look into ' +
                    'the wait your dad had.';
       const { reply, item } = await saveDraft(page, fixtures.orgs.sheffield, body);

       const hints = page.getByRole('heading', { name: 'Before you publish' });
       await hints.waitFor();
       const hintItems = hints.locator('xpath=following::ul[1]/li');
       assert.ok(await hintItems.count() >= 1, 'at least one tone hint (PALS boilerplate)');
       assert.match((await hintItems.allTextContents()).join(' '), /PALS|boilerplate|generic/i);

       await item.getByText('Draft', { exact: true }).waitFor();
       // A double click (people do) must still publish once.
       await item.getByRole('button', { name: 'Publish' }).dblclick();
       await item.getByText('Published', { exact: true }).waitFor();
       const link = item.getByRole('link', { name: 'View published reply' });
       await link.waitFor();
       assert.equal(await link.getAttribute('href'), publishedUrl(server));
       assert.equal(await item.getByRole('button', { name: 'Publish' }).count(), 0,
                    'a published reply offers no Publish button');
       assert.equal(publishes.length, 1, `publish requests from the page: ${publishes}`);

       const { status, body: detail } = await server.api(`api/threads/${id}`);
       assert.equal(status, 200);
       const replies = detail.thread.replies;
       assert.equal(replies.length, 1, JSON.stringify(replies));
       assert.equal(replies[0].id, reply.id);
       assert.equal(replies[0].state, 'published');
       assert.equal(replies[0].url, publishedUrl(server));
       const attempts = detail.thread.audit.filter((a) => a.action === 'publishing');
       assert.equal(attempts.length, 1, `one send to the platform: ${JSON.stringify(attempts)}`);
       const org = detail.thread.orgs.find((o) => o.org === fixtures.orgs.sheffield);
       assert.equal(org.state, 'responded');
     }));

test('a refused reply is shown as failed with the platform\'s words',
     inPage(suite, async ({ page, server }) => {
       await signIn(page, server);
       const id = await openThreadFromInbox(page, fixtures.refusedPost);
       const body = 'We are sorry your mum\'s operation was cancelled. Our team will ring her today.';
       const { item } = await saveDraft(page, fixtures.orgs.leeds, body);
       await item.getByRole('button', { name: 'Publish' }).click();
       await item.getByText('Failed', { exact: true }).waitFor();
       await item.getByText(fixtures.refusalText).waitFor();
       assert.equal(await item.getByText('Published', { exact: true }).count(), 0);
       assert.equal(await item.getByRole('link', { name: 'View published reply' }).count(), 0);

       const { body: detail } = await server.api(`api/threads/${id}`);
       const [reply] = detail.thread.replies;
       assert.equal(reply.state, 'failed');
       assert.match(reply.platform_error, /Text character limit of 500 exceeded/);
       assert.equal(reply.url, null);
       const org = detail.thread.orgs.find((o) => o.org === fixtures.orgs.leeds);
       assert.notEqual(org.state, 'responded', 'a failed reply does not answer the thread');
     }));

// Runs after the two above (tests in a file run in order): one RHQ thread of
// two answered, none of RR8's (a failed reply answers nothing).
test('the listening page counts the published reply and not the failed one',
     inPage(suite, async ({ page, server }) => {
       await signIn(page, server);
       await page.getByRole('link', { name: 'Listening', exact: true }).click();
       await page.getByRole('heading', { name: 'Listening', level: 1 }).waitFor();
       const row = async (code) => {
         const r = page.getByRole('row').filter({
           has: page.getByRole('rowheader', { name: new RegExp(`\\(${code}\\)|^${code}$`) }),
         });
         await r.first().waitFor();
         return r.first().getByRole('cell').allTextContents();
       };
       // Threads, Answered, Share answered, Median time to first response, Open.
       const sheffield = await row(fixtures.orgs.sheffield);
       assert.deepEqual(sheffield.slice(0, 3), ['2', '1', '50%'], `RHQ: ${sheffield}`);
       assert.notEqual(sheffield[3], '–', 'RHQ has a time to first response');
       const leeds = await row(fixtures.orgs.leeds);
       assert.deepEqual(leeds.slice(0, 3), ['2', '0', '0%'], `RR8: ${leeds}`);
     }));
