// The page stays responsive while it trains: training runs on the page's event loop one step at a time
// and yields between steps, so no task should block the page for long, and Pause takes effect after the
// steps already queued. Measured with the browser's long-task timing, tiny model. On the CPU fallback it
// holds (no task over a second; the longest measured 0.46–0.62 s). On WebGPU it does not yet: the first steps block the page for seconds
// (8.6 s on SwiftShader; kernels are generated and compiled on the main thread), which is what moving
// training into a Web Worker will fix (issue #6); that case runs as a `todo`, reported but not failing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, setField, loadTinyBloom, withBrowser } from './browser.mjs';

let server;
before(async () => { server = await startServer(); });
after(() => server.stop());

// SwiftShader runs WebGPU on the CPU, so there a step takes seconds (of GPU-process time: the page waits
// for it without blocking) and Pause lands after the steps already queued.
for (const { name, webgpu, points, pauseMs, todo } of [
  { name: 'webgpu', webgpu: true, points: 8, pauseMs: 60_000, todo: 'kernel compilation blocks the page until training runs in a Web Worker' },
  { name: 'cpu-fallback', webgpu: false, points: 40, pauseMs: 2_000 },
]) {
  test(`training keeps the page responsive on ${name}`, { timeout: 300_000, todo }, async () => {
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
      assert.ok(longest < 1000, `a ${longest.toFixed(0)} ms task blocked the page (${tasks.length} long tasks)`);
    });
  });
}
