// axe-core on the sign-in page, the inbox and a thread (with a draft and its
// tone hints shown): no violation of the WCAG 2.0, 2.1 and 2.2 A and AA rules.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { demoSuite, inPage, signIn, openThreadFromInbox, fixtures, selectOrg } from './harness.mjs';

const suite = demoSuite({ before, after });
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'),
                               'utf8');
const tags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

// Runs axe in the page (evaluated through the DevTools protocol, which the
// page's Content-Security-Policy does not govern) and fails listing each
// violation with the elements it names.
async function expectNoViolations(page, where) {
  await page.waitForLoadState('networkidle');
  const checked = await page.evaluate(async ({ source, runOnly }) => {
    if (!window.axe) (0, eval)(source);
    const result = await window.axe.run(document, {
      runOnly: { type: 'tag', values: runOnly },
      resultTypes: ['violations'],
    });
    return { passes: result.passes.length, violations: result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')}: ${n.failureSummary}`),
    })) };
  }, { source: axeSource, runOnly: tags });
  const { passes, violations } = checked;
  assert.ok(passes >= 10, `axe ran its rules on ${where} (${passes} passed)`);
  assert.deepEqual(violations, [], `axe violations on ${where}:\n${
      violations.map((v) => `- ${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.join('\n    ')}`)
          .join('\n')}`);
}

test('sign-in page', inPage(suite, async ({ page, server }) => {
  await page.goto(`${server.url}#/signin`);
  await page.getByRole('heading', { name: 'Sign in', level: 1 }).waitFor();
  await expectNoViolations(page, 'the sign-in page');
  // And with the error summary of a refused token.
  await page.getByLabel('Access token').fill('refused-token-000000000000000000000');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'That token was not accepted' }).waitFor();
  await expectNoViolations(page, 'the sign-in page with an error');
}));

test('inbox', inPage(suite, async ({ page, server }) => {
  await signIn(page, server);
  await page.getByRole('link', { name: fixtures.publishablePost }).first().waitFor();
  await expectNoViolations(page, 'the inbox');
  await page.getByLabel('Search', { exact: true }).fill('zebracrossingxylophone');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await page.getByText('No threads match these filters').waitFor();
  await expectNoViolations(page, 'the empty inbox');
}));

test('thread with a draft and its tone hints', inPage(suite, async ({ page, server }) => {
  await signIn(page, server);
  await openThreadFromInbox(page, fixtures.nonAsciiPost);
  await page.locator('mark').first().waitFor();
  await expectNoViolations(page, 'the thread page');
  await selectOrg(page, 'Reply as', fixtures.orgs.sheffield);
  await page.getByLabel('Your reply').fill('Please contact our PALS team about the waiting room.');
  await page.getByRole('button', { name: 'Save draft' }).click();
  await page.getByRole('heading', { name: 'Before you publish' }).waitFor();
  await expectNoViolations(page, 'the thread page with a draft');
}));

test('listening page', inPage(suite, async ({ page, server }) => {
  await signIn(page, server);
  await page.getByRole('link', { name: 'Listening', exact: true }).click();
  await page.getByRole('heading', { name: 'Listening', level: 1 }).waitFor();
  await page.getByRole('columnheader', { name: 'Share answered' }).waitFor();
  await expectNoViolations(page, 'the listening page');
}));
