// Filters and search in the inbox: the list changes to what matches, the
// filters live in the address (a reload keeps them), and an empty result
// says "No threads match these filters".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { demoSuite, inPage, signIn, selectOrg, fixtures, expectListed } from './harness.mjs';

const suite = demoSuite({ before, after });

const sheffield = [fixtures.publishablePost, fixtures.nonAsciiPost];
const leeds = [fixtures.refusedPost, 'Leeds General Infirmary parking is a nightmare'];

async function visible(page, text) {
  return page.getByRole('link', { name: text }).count();
}

test('the inbox lists every routed thread, and no unrouted post',
     inPage(suite, async ({ page, server }) => {
       await signIn(page, server);
       await expectListed(page, [...sheffield, ...leeds], []);
       assert.equal(await visible(page, 'Lovely frosty walk'), 0, 'a post routed nowhere');
     }));

test('filtering by organisation shows that organisation\'s threads only',
     inPage(suite, async ({ page, server }) => {
       await signIn(page, server);
       await expectListed(page, [...sheffield, ...leeds], []);
       await selectOrg(page, 'Organisation', fixtures.orgs.leeds);
       await page.getByRole('button', { name: 'Apply filters' }).click();
       await page.waitForFunction(() => decodeURIComponent(location.hash).includes('RR8'));
       await expectListed(page, leeds, sheffield);

       await selectOrg(page, 'Organisation', fixtures.orgs.sheffield);
       await page.getByRole('button', { name: 'Apply filters' }).click();
       await expectListed(page, sheffield, leeds);

       await page.getByRole('button', { name: 'Clear filters' }).click();
       await expectListed(page, [...sheffield, ...leeds], []);
     }));

test('search narrows the list, and a reload keeps the filter',
     inPage(suite, async ({ page, server }) => {
       await signIn(page, server);
       await page.getByLabel('Search', { exact: true }).fill('freezing');
       await page.getByRole('button', { name: 'Apply filters' }).click();
       await expectListed(page, [fixtures.nonAsciiPost],
                        [fixtures.publishablePost, ...leeds]);
       assert.match(decodeURIComponent(page.url()), /#\/inbox\?.*freezing/);

       await page.reload();
       await expectListed(page, [fixtures.nonAsciiPost], [fixtures.publishablePost, ...leeds]);
       assert.equal(await page.getByLabel('Search', { exact: true }).inputValue(), 'freezing');
     }));

test('nothing matching says so', inPage(suite, async ({ page, server }) => {
  await signIn(page, server);
  await page.getByLabel('Search', { exact: true }).fill('zebracrossingxylophone');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await page.getByText('No threads match these filters').waitFor();
  await expectListed(page, [], [...sheffield, ...leeds]);
}));

test('organisation and search together', inPage(suite, async ({ page, server }) => {
  await signIn(page, server);
  await selectOrg(page, 'Organisation', fixtures.orgs.sheffield);
  await page.getByLabel('Search', { exact: true }).fill('operation');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  // "operation" is only in a Leeds post.
  await page.getByText('No threads match these filters').waitFor();
}));

test('"Load more" pages through the threads', inPage(suite, async ({ page, server }) => {
  await signIn(page, server);
  // A page size of 3 (in the address) for four threads: one more to load.
  await page.goto(`${server.url}#/inbox?limit=3`);
  await page.getByRole('heading', { name: 'Inbox', level: 1 }).waitFor();
  const links = page.getByRole('link', { name: /Northern General|Leeds General Infirmary/ });
  await page.getByRole('button', { name: 'Load more' }).waitFor();
  await links.nth(2).waitFor();
  assert.equal(await links.count(), 3, 'the first page');
  await page.getByRole('button', { name: 'Load more' }).click();
  await expectListed(page, [...sheffield, ...leeds], []);
  assert.equal(await links.count(), 4, 'both pages, no thread twice');
  await page.getByRole('button', { name: 'Load more' }).waitFor({ state: 'hidden' });
}));
