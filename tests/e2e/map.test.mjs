// The transfer map beside step 3's chart: with a saved run's results for the 52 languages opened, one point
// per language where it is spoken, coloured from chance (darkest) to the best language (lightest) as the
// legend says; hovering or focusing a point tells its language, family, script and accuracy. Drawn by the
// app from data bundled at build time: nothing is fetched for it and the CSP blocks nothing. No task on the
// page's thread over 0.5 s while the map is used (opening the run is measured and printed). On the CPU fallback and on
// WebGPU, with screenshots at 1280×800 and at phone width (390×844).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startServer, shots, seedEvaluatedRun, fullResults, cspViolations, withBrowser } from './browser.mjs';

let server;
before(async () => { server = await startServer(); });
after(() => server.stop());

/** Relative luminance of `#rrggbb` (sRGB weights; enough to order the scale's colours). */
const luminance = (hex) => {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};

/** Starts counting the page thread's long tasks (over 50 ms); `longest(page)` reads the longest since. */
const watchLongTasks = (page) => page.evaluate(() => {
  window.longTasks = [];
  new PerformanceObserver((list) => window.longTasks.push(...list.getEntries().map((e) => e.duration)))
    .observe({ type: 'longtask' });
});
const longest = (page) => page.evaluate(() => Math.max(0, ...window.longTasks));

for (const webgpu of [false, true]) {
  const name = webgpu ? 'webgpu' : 'cpu';
  test(`transfer map: 52 languages where they are spoken, coloured by accuracy (${name})`, { timeout: 180_000 }, async () => {
    await withBrowser({ webgpu, failure: `map-${name}-failure.png` }, async ({ page, log }) => {
      const results = fullResults();
      await page.goto(server.url);
      await seedEvaluatedRun(page, 3, results);
      const map = page.getByTestId('transfer-map');
      assert.equal(await map.isVisible(), false, 'a map before any results');
      // The page's start (the engine check) is over, so that what is measured below is the run opening.
      await page.waitForFunction(() => !['running', undefined].includes(document.querySelector('[data-testid=engine-check]')?.dataset.status),
        null, { timeout: 120_000 });
      await watchLongTasks(page);
      const requested = [];
      page.on('request', (request) => requested.push(request.url()));
      await page.getByTestId('saved-run').filter({ hasText: 'evaluated' }).getByTestId('saved-run-open').click();
      await map.waitFor();

      // One point per language, each with that language's result.
      const points = page.getByTestId('map-point');
      assert.equal(await points.count(), 52);
      const shown = await points.evaluateAll((circles) => circles.map((c) => ({
        code: c.dataset.code, accuracy: Number(c.dataset.accuracy), fill: c.getAttribute('fill'),
        label: c.getAttribute('aria-label'), title: c.querySelector('title')?.textContent, tabindex: c.getAttribute('tabindex'),
        x: Number(c.getAttribute('cx')), y: Number(c.getAttribute('cy')),
      })));
      assert.deepEqual(shown.map((p) => p.code).sort(), results.map((r) => r.code).sort());
      for (const point of shown) {
        const result = results.find((r) => r.code === point.code);
        assert.ok(Math.abs(point.accuracy - result.accuracy) < 1e-12, point.code);
        assert.equal(point.tabindex, '0', `${point.code} cannot be focused`);
        assert.equal(point.title, point.label);
        for (const part of [result.name, result.family, result.script, `${(100 * result.accuracy).toFixed(1)}%`]) {
          assert.ok(point.label.includes(part), `${point.code}'s label "${point.label}" lacks ${part}`);
        }
      }
      // Where they are spoken: west to east and north to south (SVG's y grows downwards).
      const at = (code) => shown.find((p) => p.code === code);
      assert.ok(at('quy_Latn').x < at('eng_Latn').x && at('eng_Latn').x < at('hin_Deva').x && at('hin_Deva').x < at('jpn_Jpan').x);
      assert.ok(at('fin_Latn').y < at('ita_Latn').y && at('ita_Latn').y < at('yor_Latn').y && at('yor_Latn').y < at('zul_Latn').y);

      // Colours from chance (darkest) to best (lightest): ordered as the accuracies are.
      const chance = 1 / 7;
      const byAccuracy = [...shown].sort((a, b) => a.accuracy - b.accuracy);
      for (let i = 1; i < byAccuracy.length; i += 1) {
        const [lower, higher] = [byAccuracy[i - 1], byAccuracy[i]];
        if (higher.accuracy > lower.accuracy && higher.accuracy > chance) {
          assert.ok(luminance(higher.fill) > luminance(lower.fill),
            `${higher.code} (${higher.accuracy.toFixed(3)}, ${higher.fill}) is not lighter than ${lower.code} (${lower.accuracy.toFixed(3)}, ${lower.fill})`);
        } else {
          assert.equal(higher.fill, lower.fill, `${higher.code} and ${lower.code}`);
        }
      }
      assert.equal(at('eng_Latn').fill, '#fde725', 'the best language is not at the top of the scale');
      for (const p of shown.filter((s) => s.accuracy <= chance)) assert.equal(p.fill, '#440154', `${p.code} is at or below chance`);
      assert.equal(await page.getByTestId('map-legend-low').textContent(), 'chance 14%');
      assert.equal(await page.getByTestId('map-legend-high').textContent(), 'best 86% (English)');

      await page.waitForTimeout(500);
      const opening = await longest(page);
      await watchLongTasks(page);

      // Focusing a point, or hovering one, tells its language.
      const details = page.getByTestId('map-details');
      await page.locator('[data-testid=map-point][data-code=swh_Latn]').focus();
      await details.filter({ hasText: 'Swahili (swh_Latn): Niger-Congo, Bantu · Latin script · accuracy 39.7%' }).waitFor();
      await page.keyboard.press('Tab');
      const next = await page.evaluate(() => document.activeElement?.dataset.code);
      assert.ok(next && next !== 'swh_Latn', `Tab from a point went to ${next}`);
      await details.filter({ hasText: results.find((r) => r.code === next).name }).waitFor();
      await page.locator('[data-testid=map-point][data-code=tel_Telu]').hover();
      await details.filter({ hasText: 'Telugu (tel_Telu): Dravidian · Telugu script' }).waitFor();

      // Bundled: opening the run and drawing the map fetched nothing, and nothing was blocked.
      assert.deepEqual(requested.filter((url) => !url.startsWith(server.url)), [], 'fetched from elsewhere');
      assert.deepEqual(requested.filter((url) => /tile|atlas|topo|geo|\.json/i.test(url)), [], 'fetched map data');
      assert.deepEqual(cspViolations(log), [], 'the Content-Security-Policy blocked something');
      // Using the map (focus, Tab, hover) never blocks the page's thread for long; opening the run (the chart,
      // the table, the scatter and the map drawn at once, and the run saved) is printed, not asserted: a busy
      // machine stretches it (tests/e2e/responsive.test.mjs says why this suite keeps clocks out of asserts).
      const using = await longest(page);
      assert.ok(using <= 500, `a task of ${using} ms on the page's thread while using the map`);
      console.log(`${name}: longest task on the page's thread: ${opening.toFixed(0)} ms opening the run, ${using.toFixed(0)} ms using the map`);

      // At 1280×800 the chart and the map sit side by side; at phone width the map fits the screen.
      await map.scrollIntoViewIfNeeded();
      await page.screenshot({ path: path.join(shots, `map-${name}-1280.png`) });
      const chart = await page.getByTestId('accuracy-chart').boundingBox();
      const box = await map.boundingBox();
      assert.ok(box.x > chart.x + chart.width / 2 && Math.abs(box.y - chart.y) < 80, 'the map is not beside the chart');
      await page.setViewportSize({ width: 390, height: 844 });
      await map.scrollIntoViewIfNeeded();
      const phone = await map.boundingBox();
      assert.ok(phone.x >= 0 && phone.x + phone.width <= 390, `the map spans ${phone.x}–${phone.x + phone.width} on a 390 px screen`);
      await page.locator('[data-testid=map-point][data-code=yor_Latn]').click();
      await details.filter({ hasText: 'Yoruba' }).waitFor();
      await page.screenshot({ path: path.join(shots, `map-${name}-phone.png`) });
    });
  });
}
