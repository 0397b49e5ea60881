// "Try it": with a model loaded and a prompt imported, a typed sentence gets the 7 topics' probabilities
// once typing pauses, and an example from a language's SIB-200 test split comes with its true topic; on the
// CPU fallback and on WebGPU.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startServer, shots, loadTinyBloom, importPrompt, withBrowser } from './browser.mjs';

let server;
before(async () => { server = await startServer(); });
after(() => server.stop());

/** The bars on show: each topic's probability, and the predicted label. */
async function shownPrediction(page) {
  const result = page.getByTestId('try-result');
  const topics = await page.getByTestId('try-topic').evaluateAll((rows) =>
    rows.map((row) => ({ topic: row.dataset.topic, p: Number(row.dataset.probability), best: row.classList.contains('best') })));
  return { label: await result.getAttribute('data-label'), topics };
}

for (const webgpu of [false, true]) {
  test(`try-it: a sentence in any language (${webgpu ? 'WebGPU' : 'CPU fallback'})`, { timeout: 240_000 }, async () => {
    await withBrowser({ webgpu, failure: `try-it-${webgpu ? 'webgpu' : 'cpu'}-failure.png` }, async ({ page }) => {
      await page.goto(server.url);
      const status = page.getByTestId('try-status');
      await page.getByTestId('try-input').fill('Mchezo wa mpira ulichezwa jana.');
      await status.filter({ hasText: /Load a model/ }).waitFor();

      await loadTinyBloom(page, server);
      await importPrompt(page, 4, 7);
      // The sentence typed before is classified once a model and a prompt are there.
      await page.getByTestId('try-result').waitFor({ timeout: 60_000 });
      const typed = await shownPrediction(page);
      assert.equal(typed.topics.length, 7);
      const sum = typed.topics.reduce((s, t) => s + t.p, 0);
      assert.ok(Math.abs(sum - 1) < 1e-4, `probabilities sum to ${sum}`);
      const top = typed.topics.reduce((a, b) => (b.p > a.p ? b : a));
      assert.equal(typed.label, top.topic);
      assert.deepEqual(typed.topics.filter((t) => t.best).map((t) => t.topic), [typed.label]);

      // Another sentence, in another script: a new prediction replaces the old one.
      const before = JSON.stringify(typed.topics);
      await page.getByTestId('try-input').fill('భారత జట్టు క్రికెట్ మ్యాచ్ గెలిచింది.');
      await page.waitForFunction((old) => {
        const rows = [...document.querySelectorAll('[data-testid=try-topic]')];
        return rows.length === 7 && JSON.stringify(rows.map((r) => ({ topic: r.dataset.topic, p: Number(r.dataset.probability), best: r.classList.contains('best') }))) !== old;
      }, before, { timeout: 60_000 });

      // An example sentence from Telugu's test split, with SIB-200's own topic.
      await page.getByTestId('try-language').selectOption('tel_Telu');
      await page.getByTestId('try-example').click();
      await page.getByTestId('try-truth').filter({ hasText: /SIB-200 labels this Telugu sentence/ }).waitFor({ timeout: 60_000 });
      assert.ok((await page.getByTestId('try-input').inputValue()).length > 10);
      await page.getByTestId('try-result').scrollIntoViewIfNeeded();
      await page.screenshot({ path: path.join(shots, `try-it-${webgpu ? 'webgpu' : 'cpu'}.png`), fullPage: true });
    });
  });
}
