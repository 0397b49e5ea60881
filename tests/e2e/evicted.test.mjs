// evicted: the browser's Cache Storage and IndexedDB are cleared behind the app's back between two visits
// (as "clear site data" or eviction under storage pressure does; here through CDP). The next visit says what
// is gone — the saved runs (lost unless downloaded) and the cached model (downloaded again) — and the zip
// that "Download all runs" made before brings every run back, results included.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, shots, importPrompt, loadTinyBloom, seedEvaluatedRun, storedRunCount, withBrowser } from './browser.mjs';

let server;
before(async () => { server = await startServer(); });
after(() => server.stop());

for (const webgpu of [true, false]) {
  const backend = webgpu ? 'webgpu' : 'cpu';
  test(`evicted (${backend}): cleared storage is noticed and said, and the runs' zip brings them back`, { timeout: 300_000 }, async () => {
    await withBrowser({ webgpu, failure: `evicted-${backend}-failure.png` }, async ({ page, context }) => {
      // A run with results (kept by an earlier version, so it has them without an evaluation) and two
      // imported prompts.
      await page.goto(server.url);
      await seedEvaluatedRun(page, 9);
      await loadTinyBloom(page, server);
      await importPrompt(page, 3, 1);
      await importPrompt(page, 4, 2);
      await page.waitForFunction(() => document.querySelectorAll('[data-testid=saved-run]').length === 3);
      await waitFor(async () => (await storedRunCount(page)) === 3, 'all three runs stored');
      // The model's files are cached (their records are written once the files are stored).
      await page.waitForFunction(async () => (await (await caches.open('polyprompt-v1')).keys()).length >= 6);

      const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('runs-download-all').click()]);
      assert.equal(download.suggestedFilename(), 'polyprompt-runs.zip');
      const zip = path.join(shots, `evicted-${backend}-runs.zip`);
      await download.saveAs(zip);

      // Behind the app's back: IndexedDB and Cache Storage cleared, as eviction or "clear site data" does.
      const cdp = await context.newCDPSession(page);
      await cdp.send('Storage.clearDataForOrigin', { origin: new URL(server.url).origin, storageTypes: 'indexeddb,cache_storage' });

      await page.reload();
      const notice = page.getByTestId('storage-cleared');
      await notice.waitFor({ timeout: 30_000 });
      const said = await notice.innerText();
      assert.match(said, /3 saved runs .*lost unless you downloaded them/, said);
      for (const label of ['L2 · evaluated', 'L3 · polyprompt-test/tiny-bloom', 'L4 · polyprompt-test/tiny-bloom']) {
        assert.ok(said.includes(label), `${label} is named in: ${said}`);
      }
      assert.match(said, /cached copies of polyprompt-test\/tiny-bloom, downloaded again/, said);
      assert.match(said, /Download all runs/, said);
      assert.equal(await page.getByTestId('saved-run').count(), 0);
      await page.screenshot({ path: path.join(shots, `evicted-${backend}.png`), fullPage: true });

      // The model comes from the network again, and loads.
      const before = server.requests.length;
      await loadTinyBloom(page, server);
      assert.ok(server.requests.slice(before).some((r) => r.includes('tiny-bloom/resolve/main/model.safetensors')));

      // The zip brings every run back, with its results.
      await page.getByTestId('runs-import').setInputFiles(zip);
      await page.getByTestId('runs-message').filter({ hasText: 'Imported 3 runs' }).waitFor();
      await page.waitForFunction(() => document.querySelectorAll('[data-testid=saved-run]').length === 3);
      assert.match(await page.getByTestId('saved-run').filter({ hasText: 'L2 · evaluated' }).innerText(), /mean 50\.0%/);
      await waitFor(async () => (await storedRunCount(page)) === 3, 'the imported runs stored');

      // A damaged zip imports nothing and says why.
      await page.getByTestId('runs-import').setInputFiles({ name: 'cut.zip', mimeType: 'application/zip', buffer: fs.readFileSync(zip).subarray(0, 100) });
      await page.getByTestId('runs-message').filter({ hasText: /^Nothing imported: not a zip of saved runs/ }).waitFor();

      // Nothing is gone now: the next visit has nothing to say.
      await page.reload();
      await page.getByTestId('saved-run').nth(2).waitFor();
      await page.waitForTimeout(1000);
      assert.equal(await notice.count(), 0, 'no storage notice when nothing is gone');
    });
  });
}

async function waitFor(check, what, timeout = 15_000) {
  const end = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
