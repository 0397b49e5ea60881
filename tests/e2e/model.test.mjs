// A model is fetched from a hub-layout server with per-file progress, and a reload serves it from
// Cache Storage without downloading again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, shots, withBrowser } from './browser.mjs';

let server;
before(async () => { server = await startServer(); });
after(() => server.stop());

test('model files download with progress and come from the cache after a reload', { timeout: 180_000 }, async () => {
  await withBrowser({ webgpu: false, failure: 'model-failure.png' }, async (browser) => {
    const { page } = browser;
    const modelUrl = `${server.url}polyprompt-test/tiny-bloom`;
    const download = async () => {
      await page.getByTestId('model-id').fill(modelUrl);
      await page.getByTestId('model-download').click();
      await page.getByTestId('model-status').filter({ hasText: /^Ready/ }).waitFor({ timeout: 60_000 });
    };
    const fileRequests = () => server.requests.filter((r) => r.includes('/polyprompt-test/tiny-bloom/'));
    await page.goto(server.url);
    await download();
    const rows = page.getByTestId('download-row');
    assert.deepEqual(await rows.evaluateAll((els) => els.map((e) => e.dataset.file)),
      ['config.json', 'tokenizer.json', 'model.safetensors']);
    assert.deepEqual(await rows.evaluateAll((els) => els.map((e) => e.dataset.cached)), ['false', 'false', 'false']);
    assert.match(await rows.nth(2).innerText(), /[\d.]+ kB of [\d.]+ kB · [\d.]+ [kMG]?B\/s/);
    assert.match(await page.getByTestId('model-summary').innerText(), /BLOOM · hidden 64 · 2 layers · vocabulary 1024/);
    await page.screenshot({ path: path.join(shots, 'model-downloaded.png'), fullPage: true });
    const fetched = fileRequests().length;
    assert.equal(fetched, 3, fileRequests().join('\n'));

    await page.reload();
    await download();
    assert.deepEqual(await rows.evaluateAll((els) => els.map((e) => e.dataset.cached)), ['true', 'true', 'true']);
    assert.equal(fileRequests().length, fetched, 'a reload downloaded the model again');
    await page.screenshot({ path: path.join(shots, 'model-cached.png'), fullPage: true });

    await page.getByTestId('model-id').fill(`${server.url}polyprompt-test/no-such-model`);
    await page.getByTestId('model-download').click();
    await page.getByTestId('model-status').filter({ hasText: /404/ }).waitFor();
    assert.match(await page.getByTestId('model-status').innerText(), /check the model id/);
  });
});

// Without a Content-Length the download cannot be preallocated: its chunks are joined at the end.
test('a model from a server that sends no Content-Length downloads and loads', { timeout: 180_000 }, async () => {
  await withBrowser({ webgpu: false, failure: 'model-chunked-failure.png' }, async ({ page }) => {
    await page.goto(server.url);
    await page.getByTestId('model-id').fill(`${server.url}chunked/tiny-bloom`);
    await page.getByTestId('model-download').click();
    await page.locator('[data-testid=model-loaded][data-loaded=true]').waitFor({ timeout: 120_000 });
    const weights = page.getByTestId('download-row').filter({ hasText: 'model.safetensors' });
    // The row can give bytes and speed, but no total.
    assert.match(await weights.innerText(), /^model\.safetensors\s+[\d.]+ kB · [\d.]+ [kMG]?B\/s$/);
    const size = fs.statSync(path.join(import.meta.dirname, '../fixtures/tiny-bloom/model.safetensors')).size;
    assert.match(await page.getByTestId('model-summary').innerText(), new RegExp(`model\\.safetensors \\(${(size / 1000).toFixed(2)} kB\\)`));
  });
});
