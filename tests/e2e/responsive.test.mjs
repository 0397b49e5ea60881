// The page stays responsive while it trains: the model, the training steps and evaluation run in the
// training worker (src/worker), so no task on the page's thread should block it for long, and Pause lands
// after the step in progress. Measured with the browser's long-task timing, tiny model. Before the worker,
// WebGPU's first steps blocked the page for 8.6–10 s on SwiftShader (kernels compiled on the page's
// thread) and Pause took 18 s; with it the longest task measured 0.24 s on either backend and Pause took
// 3.4 s (one SwiftShader step) and 0.07 s.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, setField, loadTinyBloom, withBrowser } from './browser.mjs';

let server;
before(async () => { server = await startServer(); });
after(() => server.stop());

// SwiftShader runs WebGPU on the CPU, so there a step takes seconds and Pause waits for the one under way.
for (const { name, webgpu, points, pauseMs } of [
  { name: 'webgpu', webgpu: true, points: 8, pauseMs: 15_000 },
  { name: 'cpu-fallback', webgpu: false, points: 40, pauseMs: 2_000 },
]) {
  test(`training keeps the page responsive on ${name}`, { timeout: 300_000 }, async () => {
    await withBrowser({ webgpu, failure: `responsive-${name}-failure.png` }, async ({ page }) => {
      await page.goto(server.url);
      await loadTinyBloom(page, server);
      // The engine check (a training step run when the page opens) is over first.
      await page.waitForFunction(() => document.querySelector('[data-testid=engine-check]')?.dataset.status !== 'running',
        null, { timeout: 200_000 });
      await setField(page, 'setting-epochs', 60);
      await setField(page, 'setting-length', 4);
      // Long tasks (over 50 ms on the main thread) from the moment training starts.
      await page.evaluate(() => {
        window.longTasks = [];
        new PerformanceObserver((list) => window.longTasks.push(...list.getEntries().map((e) => e.duration)))
          .observe({ type: 'longtask' });
      });
      await page.getByTestId('train-start').click();
      await page.waitForFunction((n) => Number(document.querySelector('[data-testid=loss-chart]')?.dataset.points) >= n,
        points, { timeout: 200_000 });
      const clicked = Date.now();
      await page.getByTestId('train-pause').click();
      await page.locator('[data-testid=train-status][data-phase=paused]').waitFor({ timeout: pauseMs });
      const pausedAfter = Date.now() - clicked;
      const tasks = await page.evaluate(() => window.longTasks);
      const longest = Math.max(0, ...tasks);
      console.log(`${name}: ${tasks.length} long tasks, longest ${longest.toFixed(0)} ms; pause took ${pausedAfter} ms`);
      assert.ok(longest < 500, `a ${longest.toFixed(0)} ms task blocked the page (${tasks.length} long tasks)`);
    });
  });
}
