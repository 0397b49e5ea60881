// The whole flow on a tiny model served in the hub's layout: load it, train a few steps (the loss chart
// fills), evaluate 52 languages, download the prompt, import it back, open its share link in a fresh
// browser to find the same prompt, and find the run again after a reload. It runs on the CPU fallback:
// SwiftShader's WebGPU is too slow to evaluate 52 languages within the test budget (app.test.mjs trains
// on it).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, launch, shots, cspViolations, setField, loadTinyBloom, withBrowser } from './browser.mjs';

let server;
before(async () => { server = await startServer(); });
after(() => server.stop());

test('train, evaluate 52 languages, download, import and share a prompt', { timeout: 600_000 }, async () => {
  await withBrowser({ webgpu: false, failure: 'train-failure.png' }, async (browser) => {
    const { page } = browser;
    await page.goto(server.url);
    await loadTinyBloom(page, server);

    // Two epochs of the paper's recipe: 56 examples, 7 steps an epoch.
    await setField(page, 'setting-epochs', 2);
    await setField(page, 'setting-length', 4);
    await page.getByTestId('train-start').click();
    const status = page.getByTestId('train-status');
    await page.locator('[data-testid=train-status][data-phase=running]').waitFor({ timeout: 60_000 });
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=loss-chart]')?.dataset.points) > 0,
      null, { timeout: 120_000 });
    await page.screenshot({ path: path.join(shots, 'train-running.png'), fullPage: true });
    await page.locator('[data-testid=train-status][data-phase=finished]').waitFor({ timeout: 300_000 });
    assert.equal(await page.getByTestId('loss-chart').getAttribute('data-points'), '14', await status.innerText());
    assert.match(await status.innerText(), /step 14 of 14/);
    const summary = page.getByTestId('prompt-summary');
    const fingerprint = await summary.getAttribute('data-fingerprint');
    assert.match(fingerprint, /^[0-9a-f]{8}$/);
    assert.equal(await summary.getAttribute('data-length'), '4');
    await page.screenshot({ path: path.join(shots, 'train-finished.png'), fullPage: true });

    // A quick evaluation (4 sentences per topic) still covers all 52 languages.
    await page.getByTestId('eval-quick').check();
    await page.getByTestId('eval-start').click();
    await page.getByTestId('eval-status').filter({ hasText: /^Done/ }).waitFor({ timeout: 300_000 });
    const rows = page.getByTestId('result-row');
    assert.equal(await rows.count(), 52);
    const accuracies = await rows.evaluateAll((els) => els.map((e) => Number(e.dataset.accuracy)));
    assert.ok(accuracies.every((a) => a >= 0 && a <= 1), accuracies.join());
    assert.deepEqual(await rows.evaluateAll((els) => els.filter((e) => e.classList.contains('english')).length), 1);
    await page.screenshot({ path: path.join(shots, 'evaluated.png'), fullPage: true });
    const [table] = await Promise.all([page.waitForEvent('download'), page.getByTestId('results-csv').click()]);
    const csv = fs.readFileSync(await table.path(), 'utf8').trim().split('\n');
    assert.equal(csv[0], 'code,name,family,script,accuracy,macro_f1,n');
    assert.equal(csv.length, 53, 'a header and 52 languages');
    assert.ok(csv.some((line) => line.startsWith('eng_Latn,"English",')), csv.join('\n'));

    // Download the single file, then import it back: the same prompt.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('prompt-download').click()]);
    const savedFile = path.join(shots, 'downloaded-prompt.safetensors');
    await download.saveAs(savedFile);
    await page.getByTestId('prompt-import').setInputFiles(savedFile);
    await page.getByTestId('prompt-message').filter({ hasText: /^Imported a 4-vector prompt/ }).waitFor();
    assert.equal(await summary.getAttribute('data-fingerprint'), fingerprint);

    // A malformed file is refused with a message, and the prompt stays.
    await page.getByTestId('prompt-import').setInputFiles({ name: 'junk.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('junk') });
    await page.getByTestId('prompt-message').filter({ hasText: /not a prompt file/ }).waitFor();
    assert.equal(await summary.getAttribute('data-fingerprint'), fingerprint);

    // The share link restores the prompt in a fresh browser (f16 in the link: same fingerprint).
    const link = await page.getByTestId('share-link').inputValue();
    assert.ok(link.startsWith(`${server.url}#pp1.`), link);
    const other = await launch({ webgpu: false });
    try {
      await other.page.goto(link);
      await other.page.getByTestId('shared-notice').filter({ hasText: /shared prompt: 4 vectors/ }).waitFor();
      assert.equal(await other.page.getByTestId('prompt-summary').getAttribute('data-fingerprint'), fingerprint);
      assert.equal(await other.page.getByTestId('model-id').inputValue(), 'polyprompt-test/tiny-bloom');
      // The settings it was trained with fill the training form.
      assert.equal(await other.page.getByTestId('setting-length').inputValue(), '4');
      assert.equal(await other.page.getByTestId('setting-epochs').inputValue(), '2');
      // The link offers to evaluate the prompt once its model is loaded.
      const offer = other.page.getByTestId('shared-evaluate');
      assert.ok(await offer.isDisabled(), 'offered before a model is loaded');
      await other.page.screenshot({ path: path.join(shots, 'share-link-opened.png'), fullPage: true });
      await loadTinyBloom(other.page, server);
      await other.page.getByTestId('eval-quick').check();
      await offer.click();
      await other.page.getByTestId('eval-status').filter({ hasText: /^Done/ }).waitFor({ timeout: 300_000 });
      assert.equal(await other.page.getByTestId('result-row').count(), 52);
      await other.page.goto(`${server.url}#pp1.tampered`);
      await other.page.reload();
      await other.page.getByTestId('shared-notice').filter({ hasText: /does not hold a usable prompt/ }).waitFor();
    } finally {
      await other.close();
    }

    // A reload keeps the run: reopen it with its prompt and its 52 results.
    await page.goto(server.url);
    const saved = page.locator(`[data-testid=saved-run][data-id="${fingerprint}"]`);
    await saved.waitFor();
    assert.match(await saved.innerText(), /L4 · .*tiny-bloom · uniform · mean \d/);
    await saved.getByTestId('saved-run-open').click();
    assert.equal(await page.getByTestId('prompt-summary').getAttribute('data-fingerprint'), fingerprint);
    assert.equal(await page.getByTestId('result-row').count(), 52);
    await page.screenshot({ path: path.join(shots, 'reloaded-run.png'), fullPage: true });
    assert.deepEqual(cspViolations(browser.log), [], 'the Content-Security-Policy blocked something');
  });
});
