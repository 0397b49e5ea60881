// The page stays responsive while it trains because the model, the training steps and evaluation run in
// the training worker (src/worker), never on the page's thread. Checked without a clock, so a busy machine
// cannot fail it: the page's thread is frozen (the DevTools protocol's Debugger.pause) while the worker keeps
// training — it sets a performance mark at each report of steps, and their count must keep growing — and
// Pause still lands once the page runs again. The long tasks seen on the page are printed, not asserted
// (before the worker, WebGPU's first steps blocked the page for 8.6–10 s on SwiftShader; with it the longest
// task measured 0.24 s on a quiet machine). And at phone width, the page (results and transfer map open) fits
// the screen: nothing scrolls sideways but the wide results table inside its card.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startServer, shots, setField, loadTinyBloom, seedEvaluatedRun, fullResults, withBrowser } from './browser.mjs';

let server;
before(async () => { server = await startServer(); });
after(() => server.stop());

for (const { name, webgpu } of [{ name: 'webgpu', webgpu: true }, { name: 'cpu-fallback', webgpu: false }]) {
  test(`training runs in the worker while the page's thread is frozen (${name})`, { timeout: 400_000 }, async () => {
    await withBrowser({ webgpu, failure: `responsive-${name}-failure.png` }, async ({ page }) => {
      await page.goto(server.url);
      await loadTinyBloom(page, server);
      await page.waitForFunction(() => document.querySelector('[data-testid=engine-check]')?.dataset.status !== 'running',
        null, { timeout: 200_000 });
      await setField(page, 'setting-epochs', 60);
      await setField(page, 'setting-length', 4);
      await page.evaluate(() => {
        window.longTasks = [];
        new PerformanceObserver((list) => window.longTasks.push(...list.getEntries().map((e) => e.duration)))
          .observe({ type: 'longtask' });
      });
      await page.getByTestId('train-start').click();
      await page.waitForFunction(() => Number(document.querySelector('[data-testid=loss-chart]')?.dataset.points) >= 1,
        null, { timeout: 200_000 });

      const worker = page.workers().find((w) => w.url().includes('polyprompt-worker'));
      assert.ok(worker, `no training worker among ${page.workers().map((w) => w.url()).join(', ')}`);
      const reports = () => worker.evaluate(() => performance.getEntriesByName('polyprompt-steps').length);
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('Debugger.enable');
      const paused = new Promise((resolve) => cdp.once('Debugger.paused', resolve));
      await cdp.send('Debugger.pause');
      // The page pauses at its next script (the worker's next message); nothing may read the page until
      // it resumes.
      await paused;
      const start = await reports();
      while ((await reports()) < start + 3) await new Promise((r) => setTimeout(r, 200));
      await cdp.send('Debugger.resume');

      // The page takes the queued reports in and still pauses the run.
      await page.getByTestId('train-pause').click();
      await page.locator('[data-testid=train-status][data-phase=paused]').waitFor({ timeout: 120_000 });
      const tasks = await page.evaluate(() => window.longTasks);
      console.log(`${name}: ${tasks.length} long tasks on the page's thread, longest ${Math.max(0, ...tasks).toFixed(0)} ms`);
    });
  });
}

for (const { name, webgpu } of [{ name: 'webgpu', webgpu: true }, { name: 'cpu-fallback', webgpu: false }]) {
  test(`the page at phone width fits the screen, with results and the map (${name})`, { timeout: 120_000 }, async () => {
    await withBrowser({ webgpu, failure: `phone-${name}-failure.png` }, async ({ page }) => {
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto(server.url);
      await page.screenshot({ path: path.join(shots, `phone-${name}-start.png`), fullPage: true });
      await seedEvaluatedRun(page, 5, fullResults());
      await page.getByTestId('saved-run').filter({ hasText: 'evaluated' }).getByTestId('saved-run-open').click();
      await page.getByTestId('transfer-map').waitFor();
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390),
        `the page is ${await page.evaluate(() => document.documentElement.scrollWidth)} px wide on a 390 px screen`);
      for (const id of ['accuracy-chart', 'transfer-map', 'train-start', 'model-id']) {
        const box = await page.getByTestId(id).boundingBox();
        assert.ok(box.x >= 0 && box.x + box.width <= 390, `${id} spans ${box.x}–${box.x + box.width}`);
      }
      // The steps stack in one column, each card the screen's width (not side by side, squeezed).
      const cards = await page.locator('main > .column').evaluateAll((columns) => columns.map((c) => c.getBoundingClientRect().width));
      assert.ok(cards.every((width) => width > 330), `columns ${cards.join(', ')} px wide on a 390 px screen`);
      await page.screenshot({ path: path.join(shots, `phone-${name}-results.png`), fullPage: true });
    });
  });
}
