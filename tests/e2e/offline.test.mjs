// offline: after one visit the app opens, loads its model, trains and evaluates with no network at all
// (Playwright's offline mode and the server stopped): the service worker serves the app's files, and the
// model and SIB-200 come from the page's Cache Storage. The page shows the storage it uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startServer, shots, setField, loadTinyBloom, withBrowser } from './browser.mjs';

/** Trains one step (7 examples, one epoch) and evaluates three languages (quick), waiting for each. */
async function trainAndEvaluate(page) {
  await setField(page, 'setting-shots', 1);
  await setField(page, 'setting-epochs', 1);
  await setField(page, 'setting-length', 2);
  await page.getByTestId('train-start').click();
  await page.locator('[data-testid=train-status][data-phase=finished]').waitFor({ timeout: 240_000 });
  await page.getByTestId('eval-three').check();
  await page.getByTestId('eval-quick').check();
  await page.getByTestId('eval-start').click();
  await page.getByTestId('eval-status').filter({ hasText: /^Done/ }).waitFor({ timeout: 240_000 });
}

for (const webgpu of [true, false]) {
  const backend = webgpu ? 'webgpu' : 'cpu';
  test(`offline (${backend}): after one visit the app loads, trains and evaluates with no network`, { timeout: 600_000 }, async () => {
    const server = await startServer();
    try {
      await withBrowser({ webgpu, failure: `offline-${backend}-failure.png` }, async ({ page, context }) => {
        // The first visit, online: the service worker takes the page over and keeps the app's files.
        await page.goto(server.url);
        await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 30_000 });
        await page.reload(); // every file of the app now passes the worker once
        await loadTinyBloom(page, server);
        await trainAndEvaluate(page);
        const storage = page.getByTestId('storage-use');
        await storage.waitFor({ state: 'attached', timeout: 30_000 });
        assert.match(await storage.textContent(), /^This site stores [\d.]+ [kMG]?B .*more may be stored/);
        assert.ok(Number(await storage.getAttribute('data-used-bytes')) > 0);

        // No network at all.
        server.stop();
        await context.setOffline(true);
        await page.reload();
        await page.getByTestId('app-main').waitFor({ timeout: 60_000 });
        await loadTinyBloom(page, server);
        await page.getByTestId('eval-start').waitFor();
        await trainAndEvaluate(page);
        const rows = page.getByTestId('result-row');
        assert.equal(await rows.count(), 3, 'three languages evaluated offline');
        await page.screenshot({ path: path.join(shots, `offline-${backend}.png`), fullPage: true });
      });
    } finally {
      server.stop();
    }
  });
}
