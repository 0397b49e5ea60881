// damaged-cache: a cached model file that no longer matches what was stored — cut short (a write that broke
// off) or changed with its length kept (a file altered on disk) — is detected when read, dropped and
// downloaded again, the download row says so, and the model loads from the fresh copy, never the damaged one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startServer, shots, loadTinyBloom, withBrowser } from './browser.mjs';

let server;
before(async () => { server = await startServer(); });
after(() => server.stop());

/** Waits until the cache holds the tiny BLOOM's three files, each with its record. */
function recordsStored(page) {
  return page.waitForFunction(async () => {
    const cache = await caches.open('polyprompt-v1');
    const keys = (await cache.keys()).map((r) => decodeURIComponent(r.url));
    return ['config.json', 'tokenizer.json', 'model.safetensors']
      .every((f) => keys.some((k) => k.includes('stored?') && k.endsWith(`tiny-bloom/resolve/main/${f}`)));
  }, null, { timeout: 30_000 });
}

for (const webgpu of [true, false]) {
  const backend = webgpu ? 'webgpu' : 'cpu';
  test(`damaged-cache (${backend}): a cut-off or altered cached file is fetched again`, { timeout: 240_000 }, async () => {
    await withBrowser({ webgpu, failure: `damaged-cache-${backend}-failure.png` }, async ({ page }) => {
      await page.goto(server.url);
      await loadTinyBloom(page, server);
      // Each file is stored with a record of its length and SHA-256 (written once the file is stored).
      await recordsStored(page);

      // Damage two entries behind the app's back: the weights cut in half, one byte of the tokenizer changed.
      await page.evaluate(async () => {
        const cache = await caches.open('polyprompt-v1');
        for (const request of await cache.keys()) {
          if (request.url.includes('stored?')) continue;
          const bytes = new Uint8Array(await (await cache.match(request)).arrayBuffer());
          if (request.url.endsWith('model.safetensors')) {
            await cache.put(request, new Response(bytes.slice(0, bytes.length >> 1)));
          } else if (request.url.endsWith('tokenizer.json')) {
            bytes[10] ^= 1;
            await cache.put(request, new Response(bytes));
          }
        }
      });

      await page.reload();
      const before = server.requests.length;
      await loadTinyBloom(page, server);
      const fetched = server.requests.slice(before);
      assert.ok(fetched.some((r) => r.includes('tiny-bloom/resolve/main/model.safetensors')), fetched.join('\n'));
      assert.ok(fetched.some((r) => r.includes('tiny-bloom/resolve/main/tokenizer.json')), fetched.join('\n'));
      assert.ok(!fetched.some((r) => r.includes('tiny-bloom/resolve/main/config.json')), 'the intact file came from the cache');
      const notes = await page.getByTestId('download-note').allInnerTexts();
      assert.equal(notes.length, 2, notes.join('\n'));
      assert.ok(notes.some((n) => /cached copy was damaged \(\d+ of \d+ bytes\)/.test(n)), notes.join('\n'));
      assert.ok(notes.some((n) => /SHA-256 does not match/.test(n)), notes.join('\n'));
      await page.screenshot({ path: path.join(shots, `damaged-cache-${backend}.png`), fullPage: true });

      // The fresh copies were stored again: a third load reads everything from the cache, intact.
      await recordsStored(page);
      await page.reload();
      const third = server.requests.length;
      await loadTinyBloom(page, server);
      assert.deepEqual(server.requests.slice(third).filter((r) => r.includes('/resolve/main/')), []);
    });
  });
}
