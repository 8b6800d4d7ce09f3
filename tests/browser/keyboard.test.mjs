// Keyboard only: from a fresh page, Tab to the token field, type, submit
// with Enter, Tab to a thread's link and open it with Enter; focus is always
// visible on the element that has it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { demoSuite, inPage, fixtures } from './harness.mjs';

const suite = demoSuite({ before, after });

// Presses Tab until the focused element satisfies `describe(el) === want`, at
// most `max` times; fails listing what focus went through.
async function tabTo(page, what, predicate, max = 60) {
  const path = [];
  for (let i = 0; i < max; ++i) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body) return null;
      const label = el.labels?.[0]?.textContent?.trim() || el.getAttribute('aria-label') || '';
      return { tag: el.tagName.toLowerCase(), label, text: (el.textContent || '').trim().slice(0, 80),
               href: el.getAttribute('href') || '', id: el.id };
    });
    path.push(focused ? `${focused.tag}[${focused.label || focused.text}]` : 'body');
    if (focused && predicate(focused)) return focused;
  }
  throw new Error(`Tab never reached ${what} in ${max} presses; focus went: ${path.join(' → ')}`);
}

async function focusIsVisible(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    const style = getComputedStyle(el);
    const outlined = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
    const shadowed = style.boxShadow && style.boxShadow !== 'none';
    return outlined || shadowed || style.backgroundColor !== 'rgba(0, 0, 0, 0)';
  });
}

test('sign in and open a thread with the keyboard only', inPage(suite, async ({ page, server }) => {
  await page.goto(`${server.url}#/signin`);
  await page.getByRole('heading', { name: 'Sign in', level: 1 }).waitFor();

  await tabTo(page, 'the "Access token" field', (f) => f.tag === 'input' && /Access token/.test(f.label));
  assert.ok(await focusIsVisible(page), 'the focused token field shows it has focus');
  await page.keyboard.type(server.token);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Inbox', level: 1 }).waitFor();
  await page.getByRole('link', { name: fixtures.publishablePost }).first().waitFor();

  const link = await tabTo(page, 'the thread\'s link',
                           (f) => f.tag === 'a' && f.text.startsWith(fixtures.publishablePost));
  assert.ok(await focusIsVisible(page), 'the focused link shows it has focus');
  const id = link.href.match(/#\/threads\/(\d+)/)?.[1];
  assert.ok(id, `the link goes to a thread: ${link.href}`);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: `Thread ${id}` }).waitFor();
  await page.getByText(fixtures.publishablePost).first().waitFor();

  // The composer is reachable too.
  await tabTo(page, 'the "Your reply" field', (f) => f.tag === 'textarea' && /Your reply/.test(f.label),
              120);
}));
