// A post whose text holds markup (<script>, <img onerror>) and an author
// whose name holds markup are shown as text: visible literally, no dialog
// fires, and no element is made from them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { demoSuite, inPage, signIn, openThreadFromInbox, fixtures } from './harness.mjs';

const suite = demoSuite({ before, after });

// Elements a page must not hold if user content were parsed as HTML.
async function injectedElements(page) {
  return page.evaluate(() => {
    const found = [];
    for (const s of document.querySelectorAll('script')) {
      if (!s.src || s.textContent.includes('alert')) found.push(`script: ${s.outerHTML}`);
    }
    for (const img of document.querySelectorAll('img')) {
      if (img.getAttribute('src') === 'x' || img.hasAttribute('onerror')) {
        found.push(`img: ${img.outerHTML}`);
      }
    }
    for (const el of document.querySelectorAll('[onerror], [onload], [onclick]')) {
      found.push(`handler attribute: ${el.outerHTML.slice(0, 200)}`);
    }
    for (const b of document.querySelectorAll('b')) {
      if (b.textContent === 'bold') found.push(`b: ${b.outerHTML}`);
    }
    return found;
  });
}

test('in the inbox the markup is text', inPage(suite, async ({ page, server, seen }) => {
  await signIn(page, server);
  const link = page.getByRole('link', { name: fixtures.hostilePost });
  await link.first().waitFor();
  const text = await link.first().textContent();
  assert.ok(text.includes('<script>alert(1)</script>'), `the link's text: ${text}`);
  assert.deepEqual(await injectedElements(page), []);
  assert.deepEqual(seen.dialogs, []);
}));

test('in the thread the markup is text', inPage(suite, async ({ page, server, seen }) => {
  await signIn(page, server);
  await openThreadFromInbox(page, fixtures.hostilePost);
  const post = page.getByText(fixtures.hostilePost).first();
  await post.waitFor();
  const text = await post.textContent();
  assert.ok(text.includes(fixtures.hostileImg), `the <img> is text too: ${text}`);
  // Render and settle: an injected <img src=x> would have failed to load by
  // the time the page's own requests are done.
  await page.waitForLoadState('networkidle');
  assert.deepEqual(await injectedElements(page), []);
  assert.deepEqual(seen.dialogs, []);
  // The raw markup is in the page's text, not its structure.
  const body = await page.evaluate(() => document.body.innerText);
  assert.ok(body.includes('<script>alert(1)</script>'), 'the script tag is visible as text');
}));

test('a draft with markup stays text too', inPage(suite, async ({ page, server, seen }) => {
  await signIn(page, server);
  await openThreadFromInbox(page, fixtures.hostilePost);
  const body = 'Sorry about the parking <script>alert(2)</script><img src=x onerror=alert(3)>';
  await page.getByLabel('Your reply').fill(body);
  await page.getByRole('button', { name: 'Save draft' }).click();
  await page.getByText(body).first().waitFor();
  await page.waitForLoadState('networkidle');
  assert.deepEqual(await injectedElements(page), []);
  assert.deepEqual(seen.dialogs, []);
}));
