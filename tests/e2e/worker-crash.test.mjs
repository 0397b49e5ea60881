// worker-crash: when the training worker dies mid-run (an uncaught error in it, as a wasm trap or an
// out-of-memory abort would be), the page starts a new worker, loads the model again from Cache Storage,
// keeps the run's last saved prompt open, says what happened, and does not restart the run; a replacement
// that dies within a minute of starting is not replaced again (no restart loop). On both browser backends.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startServer, shots, setField, loadTinyBloom, storedRunCount, withBrowser } from './browser.mjs';

let server;
before(async () => { server = await startServer(); });
after(() => server.stop());

/** Makes the current training worker die the way a trap would: an error nothing in it catches. */
async function crashWorker(page) {
  const worker = page.workers().at(-1);
  assert.ok(worker, 'no training worker');
  await worker.evaluate(() => setTimeout(() => { throw new Error('simulated crash'); }, 0));
}

for (const webgpu of [false, true]) {
  const name = webgpu ? 'webgpu' : 'cpu';
  test(`worker-crash: a new worker, the model reloaded, the saved prompt kept (${name})`, { timeout: 400_000 }, async () => {
    await withBrowser({ webgpu, failure: `worker-crash-${name}-failure.png` }, async ({ page }) => {
      await page.goto(server.url);
      await loadTinyBloom(page, server);
      await setField(page, 'setting-epochs', 200);
      await setField(page, 'setting-length', 3);
      await page.getByTestId('train-start').click();
      // A validation has improved the prompt: the run's best prompt is saved.
      const summary = page.getByTestId('prompt-summary');
      await page.locator('[data-testid=prompt-summary][data-length="3"]').waitFor({ timeout: 200_000 });
      while ((await storedRunCount(page)) < 1) await page.waitForTimeout(100);
      const saved = await storedRunCount(page);
      await crashWorker(page);

      const notice = page.getByTestId('worker-restarted');
      await notice.waitFor({ timeout: 60_000 });
      assert.match(await notice.innerText(), /The training worker stopped \(.*simulated crash.*\)\. A new one was started, and the model is being loaded again from this browser's cache\. The run that was going was not restarted\. Its last saved prompt \(3 vectors, [0-9a-f]{8}\) is open/);
      await page.locator('[data-testid=model-loaded][data-loaded=true]').waitFor({ timeout: 120_000 });
      // The run's own status agrees with the notice: its best prompt is kept.
      assert.match(await page.getByTestId('train-status').innerText(), /training worker stopped.*The best prompt of its last validation is kept/s);
      assert.notEqual(await page.getByTestId('train-status').getAttribute('data-phase'), 'running');
      assert.equal(await summary.getAttribute('data-length'), '3');
      assert.ok((await storedRunCount(page)) >= saved);
      await page.screenshot({ path: path.join(shots, `worker-crash-${name}.png`), fullPage: true });

      // The replacement dies within a minute of starting: no restart loop.
      await crashWorker(page);
      await notice.filter({ hasText: /stopped again within a minute of being restarted .* not restarted again: reload the page/ }).waitFor({ timeout: 60_000 });
      await page.locator('[data-testid=backend-badge][data-backend=none]').waitFor();
      assert.equal(page.workers().length, 0, 'no worker was started again');
    });
  });
}
