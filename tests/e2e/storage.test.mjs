// Saved runs live in IndexedDB: no trained prompt is dropped to make room for another, a browser whose
// storage is full says so while the prompt stays on the page to download, and runs an earlier version
// kept in LocalStorage move over; ticked runs compare side by side (and export as CSV). Prompts are
// imported files: no model is needed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, shots, importPrompt, promptFile, cspViolations, seedEvaluatedRun, setField, storedRunCount, withBrowser } from './browser.mjs';

let server;
before(async () => { server = await startServer(); });
after(() => server.stop());

test('every saved run is kept, however many there are', { timeout: 180_000 }, async () => {
  await withBrowser({ webgpu: false }, async (browser) => {
    const { page } = browser;
    await page.goto(server.url);
    const runs = 45;
    for (let seed = 1; seed <= runs; seed++) await importPrompt(page, 1, seed);
    assert.equal(await page.getByTestId('saved-run').count(), runs);
    await page.reload();
    await page.getByTestId('saved-run').nth(runs - 1).waitFor();
    assert.equal(await page.getByTestId('saved-run').count(), runs);
    assert.deepEqual(cspViolations(browser.log), [], 'the Content-Security-Policy blocked something');
  });
});

test('a full storage quota is reported and the prompt can still be downloaded', { timeout: 120_000 }, async () => {
  await withBrowser({ webgpu: false }, async (browser) => {
    const { page } = browser;
    // The browser refuses to store runs, as it does once the origin's quota is used up.
    await page.addInitScript(() => {
      const put = IDBObjectStore.prototype.put;
      IDBObjectStore.prototype.put = function (...args) {
        if (this.name === 'runs') throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
        return put.apply(this, args);
      };
    });
    await page.goto(server.url);
    await importPrompt(page, 2, 7);
    const error = page.getByTestId('save-error');
    await error.waitFor();
    assert.match(await error.innerText(), /could not be saved in this browser .*download the prompt file to keep it/);
    assert.equal(await page.getByTestId('prompt-summary').getAttribute('data-length'), '2');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('prompt-download').click()]);
    assert.match(download.suggestedFilename(), /\.safetensors$/);
    await page.screenshot({ path: path.join(shots, 'storage-full.png'), fullPage: true });
  });
});

test('runs an earlier version kept in LocalStorage move to IndexedDB', { timeout: 120_000 }, async () => {
  await withBrowser({ webgpu: false }, async (browser) => {
    const { page } = browser;
    await page.goto(server.url);
    await page.getByTestId('app-main').waitFor();
    await page.evaluate((prompt) => localStorage.setItem('polyprompt-runs-v1', JSON.stringify([{
      id: 'feedbeef', label: 'L2 · kept by an earlier version', saved_at: 1, prompt, results: [],
    }])), promptFile({ length: 2 }).toString('base64'));
    await page.reload();
    const moved = page.getByTestId('saved-run').filter({ hasText: 'kept by an earlier version' });
    await moved.waitFor();
    assert.equal(await page.evaluate(() => localStorage.getItem('polyprompt-runs-v1')), null, 'left in LocalStorage');
    await page.reload();
    await moved.waitFor();
    assert.equal(await page.getByTestId('saved-run').count(), 1);
    await moved.getByTestId('saved-run-open').click();
    assert.equal(await page.getByTestId('prompt-summary').getAttribute('data-length'), '2');
    assert.deepEqual(cspViolations(browser.log), [], 'the Content-Security-Policy blocked something');
  });
});

test('an imported prompt replaces the shown results instead of inheriting them', { timeout: 120_000 }, async () => {
  await withBrowser({ webgpu: false }, async ({ page }) => {
    await page.goto(server.url);
    await seedEvaluatedRun(page);
    await page.getByTestId('saved-run').filter({ hasText: 'evaluated' }).getByTestId('saved-run-open').click();
    await page.getByTestId('result-row').waitFor();

    await importPrompt(page, 3, 5);
    assert.equal(await page.getByTestId('result-row').count(), 0, 'the imported prompt shows the other run\'s results');
    const imported = await page.getByTestId('prompt-summary').getAttribute('data-fingerprint');
    await page.reload();
    await page.locator(`[data-testid=saved-run][data-id="${imported}"]`).getByTestId('saved-run-open').click();
    assert.equal(await page.getByTestId('prompt-summary').getAttribute('data-length'), '3');
    assert.equal(await page.getByTestId('result-row').count(), 0, 'the imported prompt was saved with the other run\'s results');
  });
});

test('ticked saved runs compare side by side and export as CSV', { timeout: 120_000 }, async () => {
  await withBrowser({ webgpu: false }, async ({ page }) => {
    await page.goto(server.url);
    await page.getByTestId('app-main').waitFor();
    const result = (code, name, family, script, accuracy) =>
      ({ code, name, family, script, accuracy, macro_f1: accuracy, n: 204, per_category: [] });
    await page.evaluate((runs) => localStorage.setItem('polyprompt-runs-v1', JSON.stringify(runs)), [
      { id: 'aaaa0001', label: 'L1 · short', saved_at: 1, prompt: promptFile({ length: 1, seed: 1 }).toString('base64'),
        results: [result('eng_Latn', 'English', 'Indo-European, Germanic', 'Latn', 0.5),
          result('swh_Latn', 'Swahili', 'Niger-Congo, Bantu', 'Latn', 0.25)] },
      { id: 'aaaa0050', label: 'L50 · long', saved_at: 2, prompt: promptFile({ length: 50, seed: 2 }).toString('base64'),
        results: [result('eng_Latn', 'English', 'Indo-European, Germanic', 'Latn', 0.75)] },
    ]);
    await page.reload();
    for (const label of ['L1 · short', 'L50 · long']) {
      await page.getByTestId('saved-run').filter({ hasText: label }).getByRole('checkbox').check();
    }
    const table = page.getByTestId('run-comparison');
    await table.waitFor();
    assert.match(await table.innerText(), /All\s+37\.5%\s+75\.0%/);
    await page.getByTestId('saved-runs').locator('..').screenshot({ path: path.join(shots, 'runs-compared.png') });
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('comparison-csv').click()]);
    assert.equal(download.suggestedFilename(), 'polyprompt-comparison.csv');
    const csv = fs.readFileSync(await download.path(), 'utf8').trim().split('\n');
    assert.deepEqual(csv, [
      'code,name,family,script,"L1 · short","L50 · long"',
      'eng_Latn,"English","Indo-European, Germanic","Latn",0.5000,0.7500',
      'swh_Latn,"Swahili","Niger-Congo, Bantu","Latn",0.2500,',
      'mean,,,,0.3750,0.7500',
    ]);
  });
});

for (const webgpu of [true, false]) {
  const backend = webgpu ? 'webgpu' : 'cpu';
  test(`two-tabs (${backend}): a model both tabs download at once is fetched once; both train and save side by side, and each list follows the other's`, { timeout: 300_000 }, async () => {
    await withBrowser({ webgpu, failure: `two-tabs-${backend}-failure.png` }, async (browser) => {
      const first = browser.page;
      const second = await browser.context.newPage();
      const tabs = [first, second];
      await first.goto(server.url);
      await second.goto(server.url);

      // Both tabs ask for the same model at the same moment: one downloads (under a Web Lock), the other waits
      // and reads its cached copy.
      const before = server.requests.length;
      for (const page of tabs) await page.getByTestId('model-id').fill(`${server.url}polyprompt-test/tiny-bloom`);
      await Promise.all(tabs.map((page) => page.getByTestId('model-download').click()));
      await Promise.all(tabs.map((page) => page.locator('[data-testid=model-loaded][data-loaded=true]').waitFor({ timeout: 120_000 })));
      const fetched = server.requests.slice(before).filter((r) => r.includes('tiny-bloom/resolve/main/'));
      for (const file of ['config.json', 'tokenizer.json', 'model.safetensors']) {
        assert.equal(fetched.filter((r) => r.includes(file)).length, 1, `${file} fetched once:\n${fetched.join('\n')}`);
      }

      // Each tab trains its own prompt (another seed, another length) at the same time, and saves it.
      for (const [i, page] of tabs.entries()) {
        await setField(page, 'setting-shots', 1); // one step: SwiftShader is slow
        await setField(page, 'setting-epochs', 1);
        await setField(page, 'setting-length', 2 + i);
        await setField(page, 'setting-seed', 11 + i);
      }
      await Promise.all(tabs.map((page) => page.getByTestId('train-start').click()));
      await Promise.all(tabs.map((page) => page.locator('[data-testid=train-status][data-phase=finished]').waitFor({ timeout: 240_000 })));
      // And one imported prompt (an import saves a run, as training does).
      await importPrompt(first, 5, 13);
      for (const page of tabs) {
        await page.waitForFunction(() => ['L2 ·', 'L3 ·', 'L5 ·'].every((l) => [...document.querySelectorAll('[data-testid=saved-run]')].some((li) => li.textContent.includes(l))), null, { timeout: 30_000 });
      }
      const listed = await first.getByTestId('saved-run').count();
      assert.equal(await second.getByTestId('saved-run').count(), listed);
      assert.equal(await storedRunCount(first), listed, 'neither tab overwrote the other\'s run');

      // A run deleted in one tab leaves the other's list too.
      const removed = first.getByTestId('saved-run').filter({ hasText: 'L3 ·' });
      await removed.getByRole('button', { name: /^Delete/ }).click();
      await second.waitForFunction(() => ![...document.querySelectorAll('[data-testid=saved-run]')].some((li) => li.textContent.includes('L3 ·')), null, { timeout: 30_000 });
      assert.equal(await second.getByTestId('saved-run').count(), listed - 1);
      await second.screenshot({ path: path.join(shots, `two-tabs-${backend}.png`), fullPage: true });
    });
  });
}
