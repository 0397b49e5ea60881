// The app mounts, reports its compute backend, and runs a real training step on it:
// once on Chromium's software WebGPU adapter and once with no WebGPU at all (CPU fallback).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startServer, shots, cspViolations, withBrowser } from './browser.mjs';

let server;
before(async () => { server = await startServer(); });
after(() => server.stop());

for (const { name, webgpu, backend } of [
  { name: 'webgpu', webgpu: true, backend: 'webgpu' },
  { name: 'cpu-fallback', webgpu: false, backend: 'cpu' },
]) {
  test(`app mounts and trains a step on ${name}`, { timeout: 240_000 }, async () => {
    await withBrowser({ webgpu, failure: `app-${name}-failure.png` }, async (browser) => {
      const { page } = browser;
      await page.goto(server.url);
      await page.getByTestId('app-main').waitFor();
      const check = page.getByTestId('engine-check');
      await page.waitForFunction(
        () => document.querySelector('[data-testid=engine-check]')?.dataset.status !== 'running',
        null, { timeout: 200_000 });
      const badge = page.getByTestId('backend-badge');
      assert.equal(await badge.getAttribute('data-backend'), backend, await badge.innerText());
      const label = await badge.innerText();
      // Headless Chromium's software adapter describes itself as SwiftShader.
      if (backend === 'webgpu') assert.match(label, /WebGPU · .*swiftshader/i);
      else assert.match(label, /CPU \(wasm\)[\s\S]*no WebGPU adapter/);
      assert.equal(await check.getAttribute('data-status'), 'passed', await check.innerText());
      const before = Number(await check.getAttribute('data-loss-before'));
      const after = Number(await check.getAttribute('data-loss-after'));
      assert.ok(after < before, `loss ${before} -> ${after}`);
      assert.deepEqual(cspViolations(browser.log), [], 'the Content-Security-Policy blocked something');
      await page.screenshot({ path: path.join(shots, `app-${name}.png`), fullPage: true });
    });
  });
}

// A deployment that lacks the worker's files (or a browser that cannot start it): the header and the
// engine check say so, and a model picked then is refused with the reason rather than waiting forever.
test('a training worker that cannot start is reported', { timeout: 120_000 }, async () => {
  await withBrowser({ webgpu: false, failure: 'app-no-worker-failure.png' }, async ({ page }) => {
    await page.route('**/polyprompt-worker_loader.js', (route) => route.fulfill({ status: 404, body: 'missing' }));
    await page.goto(server.url);
    const check = page.locator('[data-testid=engine-check][data-status=error]');
    await check.waitFor({ timeout: 60_000 });
    assert.match(await check.innerText(),
      /the training worker stopped \(its script \.\/polyprompt-worker_loader\.js could not be loaded\): reload the page/);
    assert.equal(await page.getByTestId('backend-badge').getAttribute('data-backend'), 'none');
    await page.getByTestId('model-id').fill(`${server.url}polyprompt-test/tiny-bloom`);
    await page.getByTestId('model-download').click();
    await page.getByTestId('model-loaded').filter({ hasText: /could not be loaded: the training worker stopped/ }).waitFor();
    await page.screenshot({ path: path.join(shots, 'app-no-worker.png'), fullPage: true });
  });
});
