// The presenter view, for a projector: with results open, "Present" shows step 3's title, the transfer map
// and the chart full width in large type and hides every other panel; the address says so (`?present`), so a
// reload keeps it; "Back" or Escape brings the page back as it was. No task over 0.5 s on the page's thread
// while switching. On the CPU fallback and on WebGPU, with screenshots at 1280×800 and at phone width.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startServer, shots, seedEvaluatedRun, fullResults, cspViolations, withBrowser } from './browser.mjs';

let server;
before(async () => { server = await startServer(); });
after(() => server.stop());

/** The panels the presenter view hides, by a test id inside each. */
const OTHERS = ['model-id', 'train-start', 'saved-runs', 'try-input', 'results-table', 'eval-start', 'share-scatter'];

async function visible(page, testids) {
  return Object.fromEntries(await Promise.all(testids.map(async (id) => [id, await page.getByTestId(id).first().isVisible()])));
}

const presenting = (page) => page.evaluate(() => document.documentElement.hasAttribute('data-presenting'));

for (const webgpu of [false, true]) {
  const name = webgpu ? 'webgpu' : 'cpu';
  test(`presenter view: results and the map full width, one click back (${name})`, { timeout: 180_000 }, async () => {
    await withBrowser({ webgpu, failure: `presenter-${name}-failure.png` }, async ({ page, log }) => {
      await page.goto(server.url);
      const open = page.getByTestId('presenter-open');
      const back = page.getByTestId('presenter-close');
      await seedEvaluatedRun(page, 4, fullResults());
      assert.equal(await open.isVisible(), false, 'Present offered with no results');
      await page.getByTestId('saved-run').filter({ hasText: 'evaluated' }).getByTestId('saved-run-open').click();
      await page.getByTestId('transfer-map').waitFor();
      // Everything shown before presenting (the scatter needs a model family, which the seeded run has).
      const before = await visible(page, OTHERS);
      assert.deepEqual(Object.values(before).filter((v) => !v), [], `not shown before: ${JSON.stringify(before)}`);
      const fontBefore = await page.evaluate(() => getComputedStyle(document.documentElement).fontSize);
      await page.waitForTimeout(1000); // the run opened: its drawing and saving are done
      await page.evaluate(() => {
        window.longTasks = [];
        new PerformanceObserver((list) => window.longTasks.push(...list.getEntries().map((e) => e.duration)))
          .observe({ type: 'longtask' });
      });

      await open.scrollIntoViewIfNeeded();
      const scrolledTo = await page.evaluate(() => window.scrollY);
      await open.click();
      await back.waitFor();
      assert.ok(await presenting(page));
      assert.match(page.url(), /\?present$/);
      // From the top: the title and the map first.
      await page.waitForFunction(() => window.scrollY === 0);
      const mapTop = (await page.getByTestId('transfer-map').boundingBox()).y;
      assert.ok(mapTop < 200, `the map starts ${mapTop} px down`);
      assert.deepEqual(await visible(page, OTHERS), Object.fromEntries(OTHERS.map((id) => [id, false])));
      assert.equal(await page.getByTestId('map-point').count(), 52);
      const width = page.viewportSize().width;
      for (const id of ['transfer-map', 'accuracy-chart']) {
        const box = await page.getByTestId(id).boundingBox();
        assert.ok(box.width > 0.85 * width, `${id} is ${box.width} px wide of ${width}`);
      }
      const font = await page.evaluate(() => getComputedStyle(document.documentElement).fontSize);
      assert.ok(parseFloat(font) >= 1.3 * parseFloat(fontBefore), `type ${fontBefore} → ${font}`);
      assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'presenter-close', 'focus is not on Back');
      await page.screenshot({ path: path.join(shots, `presenter-${name}-1280.png`) });
      await page.setViewportSize({ width: 390, height: 844 });
      const phoneMap = await page.getByTestId('transfer-map').boundingBox();
      assert.ok(phoneMap.x >= 0 && phoneMap.x + phoneMap.width <= 390, `map at ${phoneMap.x}+${phoneMap.width} on a phone`);
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390), 'wider than a phone');
      await page.screenshot({ path: path.join(shots, `presenter-${name}-phone.png`) });
      await page.setViewportSize({ width: 1280, height: 800 });

      // One click back: every panel as it was, the address plain again.
      await back.click();
      await open.waitFor();
      assert.equal(await presenting(page), false);
      assert.doesNotMatch(page.url(), /present/);
      assert.deepEqual(await visible(page, OTHERS), before);
      await page.waitForFunction((y) => Math.abs(window.scrollY - y) < 2, scrolledTo);
      assert.equal(await page.evaluate(() => getComputedStyle(document.documentElement).fontSize), fontBefore);

      // Escape leaves too.
      await open.click();
      await back.waitFor();
      await page.keyboard.press('Escape');
      await open.waitFor();
      assert.equal(await presenting(page), false);
      const slowest = await page.evaluate(() => Math.max(0, ...window.longTasks));
      assert.ok(slowest <= 500, `a task of ${slowest} ms on the page's thread`);
      console.log(`${name}: longest task on the page's thread while switching views: ${slowest.toFixed(0)} ms`);

      // A reload keeps the view (the address says it), and says what to do while nothing is open.
      await open.click();
      await page.reload();
      await back.waitFor();
      assert.ok(await presenting(page));
      await page.getByTestId('presenter-empty').waitFor();
      await page.keyboard.press('Escape');
      await page.getByTestId('train-start').waitFor();
      assert.doesNotMatch(page.url(), /present/);
      assert.deepEqual(cspViolations(log), [], 'the Content-Security-Policy blocked something');
    });
  });
}
