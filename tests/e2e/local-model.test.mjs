// A model from files on this computer: picked with the file input or dropped, in one go or several, with
// the memory estimate as soon as config.json is in and clear errors for a wrong or missing file; then it
// trains and evaluates like a downloaded one, with nothing fetched from the hub.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, shots, repo, cspViolations, setField, withBrowser } from './browser.mjs';

let server;
before(async () => { server = await startServer(); });
after(() => server.stop());

const fixture = (file) => path.join(repo, 'tests/fixtures/tiny-bloom', file);

test('a model from local files loads, trains and evaluates', { timeout: 480_000 }, async () => {
  await withBrowser({ webgpu: false, failure: 'local-model-failure.png' }, async (browser) => {
    const { page } = browser;
    const status = page.getByTestId('model-status');
    const loaded = page.getByTestId('model-loaded');
    await page.goto(server.url);
    const picker = page.getByTestId('model-files');

    // A file that is none of the three is refused by name.
    await picker.setInputFiles([fixture('config.json'), fixture('tokenizer_config.json')]);
    await status.filter({ hasText: /tokenizer_config\.json is not a model file/ }).waitFor();

    // config.json alone: what is missing, and the memory estimate already.
    await picker.setInputFiles(fixture('config.json'));
    await status.filter({ hasText: /^Still missing: tokenizer\.json, model\.safetensors\. BLOOM: weights in memory: int8 / }).waitFor();

    // tokenizer.json dropped on the drop zone.
    const dropped = await page.evaluateHandle((text) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([text], 'tokenizer.json', { type: 'application/json' }));
      return transfer;
    }, fs.readFileSync(fixture('tokenizer.json'), 'utf8'));
    await page.getByTestId('model-drop').dispatchEvent('drop', { dataTransfer: dropped });
    await status.filter({ hasText: /^Still missing: model\.safetensors\./ }).waitFor();

    // Weights that are not a checkpoint: the load fails and says which file.
    await picker.setInputFiles({ name: 'model.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('not weights') });
    await loaded.filter({ hasText: /^The model could not be loaded: model\.safetensors: / }).waitFor();
    await page.screenshot({ path: path.join(shots, 'local-model-error.png'), fullPage: true });

    // All three at once.
    await picker.setInputFiles(['config.json', 'tokenizer.json', 'model.safetensors'].map(fixture));
    await page.locator('[data-testid=model-loaded][data-loaded=true]').waitFor({ timeout: 60_000 });
    assert.match(await status.innerText(), /^Ready: local-model \(files on this computer\)/);
    const summary = await page.getByTestId('model-summary').innerText();
    assert.match(summary, /BLOOM · hidden 64 · 2 layers · vocabulary 1024/);
    assert.match(summary, /weights in memory: int8 [\d.]+ kB · f16 [\d.]+ kB · f32 [\d.]+ kB/);
    assert.deepEqual(await page.getByTestId('download-row').evaluateAll((els) => els.map((e) => e.dataset.done)),
      ['true', 'true', 'true']);
    await page.screenshot({ path: path.join(shots, 'local-model-loaded.png'), fullPage: true });

    await setField(page, 'setting-epochs', 1);
    await setField(page, 'setting-length', 2);
    await page.getByTestId('train-start').click();
    await page.locator('[data-testid=train-status][data-phase=finished]').waitFor({ timeout: 300_000 });
    assert.match(await page.getByTestId('prompt-summary').innerText(), /^2 vectors × 64 .* for local-model/);
    await page.getByTestId('eval-quick').check();
    await page.getByTestId('eval-start').click();
    await page.getByTestId('eval-status').filter({ hasText: /^Done/ }).waitFor({ timeout: 300_000 });
    assert.equal(await page.getByTestId('result-row').count(), 52);
    await page.screenshot({ path: path.join(shots, 'local-model-evaluated.png'), fullPage: true });

    assert.deepEqual(server.requests.filter((r) => r.includes('/polyprompt-test/')), [], 'fetched model files');
    assert.deepEqual(cspViolations(browser.log), []);
  });
});

test('an XGLM whose weights are a pytorch_model.bin loads in the browser and trains', { timeout: 300_000 }, async () => {
  await withBrowser({ webgpu: false, failure: 'local-model-xglm-bin-failure.png' }, async (browser) => {
    const { page } = browser;
    const xglm = (file) => path.join(repo, 'tests/fixtures/tiny-xglm', file);
    await page.goto(server.url);
    await page.getByTestId('model-files').setInputFiles(['config.json', 'tokenizer.json', 'pytorch_model.bin'].map(xglm));
    await page.locator('[data-testid=model-loaded][data-loaded=true]').waitFor({ timeout: 60_000 });
    assert.match(await page.getByTestId('model-summary').innerText(), /XGLM · hidden 64 · 2 layers/);
    await setField(page, 'setting-epochs', 1);
    await setField(page, 'setting-length', 2);
    await page.getByTestId('train-start').click();
    await page.locator('[data-testid=train-status][data-phase=finished]').waitFor({ timeout: 240_000 });
    assert.match(await page.getByTestId('prompt-summary').innerText(), /^2 vectors × 64 .* for local-model/);
    await page.screenshot({ path: path.join(shots, 'local-model-xglm-bin.png'), fullPage: true });
    assert.deepEqual(cspViolations(browser.log), []);
  });
});
