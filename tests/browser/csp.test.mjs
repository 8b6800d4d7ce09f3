// The Content-Security-Policy and the other security headers of the app
// shell and its assets; no inline script or style; and no CSP violation
// while signing in, opening a thread and drafting a reply.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { demoSuite, inPage, signIn, openThreadFromInbox, fixtures, selectOrg } from './harness.mjs';

const suite = demoSuite({ before, after });

const policy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
               "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; " +
               "base-uri 'none'";

function directives(header) {
  return (header || '').split(';').map((d) => d.trim().replace(/\s+/g, ' ')).filter(Boolean)
      .sort();
}

function checkHeaders(headers, what) {
  assert.deepEqual(directives(headers.get('content-security-policy')), directives(policy),
                   `${what}: Content-Security-Policy`);
  assert.equal(headers.get('x-content-type-options'), 'nosniff', `${what}: X-Content-Type-Options`);
  assert.equal(headers.get('referrer-policy'), 'no-referrer', `${what}: Referrer-Policy`);
}

test('/ and its assets carry the policy; unknown assets are 404',
     inPage(suite, async ({ page, server }) => {
       const shell = await fetch(server.url, { signal: AbortSignal.timeout(10000) });
       assert.equal(shell.status, 200);
       assert.match(shell.headers.get('content-type') || '', /^text\/html/);
       checkHeaders(shell.headers, 'GET /');
       // The shell's own markup: no inline script, style element or style or
       // event-handler attribute (the policy would block each).
       const html = await shell.text();
       assert.doesNotMatch(html, /<script(?![^>]*\ssrc=)[^>]*>/i, 'an inline <script>');
       assert.doesNotMatch(html, /<style[\s>]/i, 'a <style> element');
       assert.doesNotMatch(html, /\sstyle\s*=/i, 'a style attribute');
       assert.doesNotMatch(html, /\son[a-z]+\s*=/i, 'an event-handler attribute');

       await page.goto(server.url);
       await page.getByRole('heading', { name: 'Sign in', level: 1 }).waitFor();
       const assets = await page.evaluate(() => [
         ...[...document.querySelectorAll('script')].map((s) => s.src),
         ...[...document.querySelectorAll('link[rel=stylesheet]')].map((l) => l.href),
       ]);
       assert.ok(assets.length >= 2, `the shell loads scripts and styles: ${assets}`);
       for (const asset of assets) {
         assert.ok(asset.startsWith(`${server.origin}/assets/`), `served by earshot: ${asset}`);
         const response = await fetch(asset, { signal: AbortSignal.timeout(10000) });
         assert.equal(response.status, 200, asset);
         checkHeaders(response.headers, asset);
       }
       const missing = await fetch(`${server.url}assets/no-such-file.js`,
                                   { signal: AbortSignal.timeout(10000) });
       assert.equal(missing.status, 404);
     }));

test('no inline script or style, and no CSP violation while working',
     inPage(suite, async ({ page, context, server, seen }) => {
       // Injected by the browser itself (not subject to the page's policy):
       // records every violation the page reports.
       await context.addInitScript(() => {
         window.__cspViolations = [];
         document.addEventListener('securitypolicyviolation', (e) => {
           window.__cspViolations.push(`${e.violatedDirective}: ${e.blockedURI} ${e.sourceFile}:${
               e.lineNumber}`);
         });
       });
       await signIn(page, server);
       await openThreadFromInbox(page, fixtures.publishablePost);
       await selectOrg(page, 'Reply as', fixtures.orgs.sheffield);
       await page.getByLabel('Your reply').fill('Thank you, we are sorry about the wait.');
       await page.getByRole('button', { name: 'Save draft' }).click();
       await page.getByText('Draft', { exact: true }).first().waitFor();
       await page.getByRole('link', { name: 'Listening', exact: true }).click();
       await page.getByRole('heading', { name: 'Listening', level: 1 }).waitFor();
       await page.waitForLoadState('networkidle');

       const inline = await page.evaluate(() => ({
         scripts: [...document.querySelectorAll('script:not([src])')].map((s) => s.outerHTML),
         styles: [...document.querySelectorAll('style')].map((s) => s.outerHTML.slice(0, 120)),
         handlers: [...document.querySelectorAll('*')].filter(
             (e) => [...e.attributes].some((a) => a.name.startsWith('on'))).map(
             (e) => e.outerHTML.slice(0, 120)),
       }));
       assert.deepEqual(inline, { scripts: [], styles: [], handlers: [] });
       assert.deepEqual(await page.evaluate(() => window.__cspViolations), []);
       const logged = seen.consoleErrors.filter((m) => /Content Security Policy/i.test(m));
       assert.deepEqual(logged, [], 'CSP violations in the console');
     }));
