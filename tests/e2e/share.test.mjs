// Sharing beyond the prompt in the link: the share link's QR code (read back from its pixels), and, for a
// prompt too long for a link, a link to its hosted file that shows where it points and fetches nothing
// until the user agrees, without replacing a saved run. Prompts are imported files: no model is needed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import { startServer, shots, promptFile, importPrompt, storedRunCount, cspViolations, withBrowser } from './browser.mjs';

const hostedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'polyprompt-hosted-'));
let server;
before(async () => { server = await startServer({ mounts: [`/hosted/=${hostedDir}`] }); });
after(() => server.stop());

// How many bytes QR versions 1–40 hold in byte mode at error correction level L (ISO/IEC 18004, table 7).
const CAPACITY_L = [17, 32, 53, 78, 106, 134, 154, 192, 230, 271, 321, 367, 425, 458, 520, 586, 644, 718, 792,
  858, 929, 1003, 1091, 1171, 1273, 1367, 1465, 1528, 1628, 1732, 1840, 1952, 2068, 2188, 2303, 2431, 2563, 2699,
  2809, 2953];

/** The page's QR code read back from a screenshot of it, drawn large, as a phone would. */
async function scanQr(page) {
  // The header changes height when the training worker reports its device: a screenshot taken across that
  // layout shift does not scan.
  await page.locator('[data-testid=engine-check]:not([data-status=running])').waitFor({ state: 'attached' });
  const qr = page.getByTestId('share-qr');
  await qr.evaluate((el) => { el.style.maxWidth = 'none'; el.style.width = '640px'; });
  const png = PNG.sync.read(await qr.screenshot());
  return jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data;
}

/** Checks the QR code against the link: the size its length calls for, and the link when scanned. */
async function checkQr(page, link) {
  const version = CAPACITY_L.findIndex((bytes) => bytes >= Buffer.byteLength(link)) + 1;
  const modules = Number(await page.getByTestId('share-qr').getAttribute('data-modules'));
  assert.equal(modules, 17 + 4 * version, `a ${link.length}-character link`);
  assert.equal(await scanQr(page), link);
  return modules;
}

test('the share link has a QR code, on request, that scans to it and follows it', { timeout: 120_000 }, async () => {
  await withBrowser({ webgpu: false, failure: 'share-qr-failure.png' }, async (browser) => {
    const { page } = browser;
    await page.goto(server.url);
    await importPrompt(page, 1, 1);
    const link = await page.getByTestId('share-link').inputValue();
    assert.ok(link.startsWith(`${server.url}#pp1.`), link);
    // The code is drawn on request (it takes half a screen), then kept for later prompts.
    assert.equal(await page.getByTestId('share-qr').count(), 0);
    await page.getByTestId('share-qr-show').click();
    const small = await checkQr(page, link);
    await page.screenshot({ path: path.join(shots, 'share-qr.png'), fullPage: true });

    await importPrompt(page, 3, 2);
    const longer = await page.getByTestId('share-link').inputValue();
    assert.ok(longer.length > link.length);
    assert.ok(await checkQr(page, longer) > small);

    // Links beyond version 40 still share, without a code.
    await importPrompt(page, 20, 3);
    assert.ok((await page.getByTestId('share-link').inputValue()).length > 2953);
    await page.getByTestId('share-qr-too-long').waitFor();
    assert.equal(await page.getByTestId('share-qr').count(), 0);
    await page.getByTestId('share-qr-hide').click();
    await page.getByTestId('share-qr-show').waitFor();
    assert.equal(await page.getByTestId('share-qr-too-long').count(), 0);
    assert.deepEqual(cspViolations(browser.log), []);
  });
});

test('a prompt too long for a link is shared as a link to its hosted file, fetched only on request', { timeout: 180_000 }, async () => {
  // 300 vectors of 64: about 50k characters in a link, over the 32k the app puts in one.
  const long = promptFile({ length: 300, seed: 4 });
  fs.writeFileSync(path.join(hostedDir, 'long.safetensors'), long);
  const hostedUrl = `${server.url}hosted/long.safetensors`;
  const hostedRequests = () => server.requests.filter((r) => r.includes('/hosted/long.safetensors'));
  let link;
  let fingerprint;
  await withBrowser({ webgpu: false, failure: 'share-hosted-failure.png' }, async (sharer) => {
    const { page } = sharer;
    await page.goto(server.url);
    await importPrompt(page, 300, 4);
    fingerprint = await page.getByTestId('prompt-summary').getAttribute('data-fingerprint');
    await page.getByTestId('share-link-too-long').waitFor();
    assert.equal(await page.getByTestId('share-link').count(), 0);

    const hosted = page.getByTestId('hosted-url');
    await hosted.fill('https://elsewhere.example/long.safetensors');
    await hosted.dispatchEvent('change');
    await page.getByTestId('hosted-url-error').filter({ hasText: /not from https:\/\/elsewhere\.example/ }).waitFor();

    await hosted.fill(hostedUrl);
    await hosted.dispatchEvent('change');
    link = await page.getByTestId('share-link').inputValue();
    assert.equal(link, `${server.url}#url=${encodeURIComponent(hostedUrl)}`);
    await page.getByTestId('share-qr-show').click();
    await checkQr(page, link);
    await page.screenshot({ path: path.join(shots, 'share-hosted-link.png'), fullPage: true });
  });

  await withBrowser({ webgpu: false, failure: 'share-hosted-failure.png' }, async (browser) => {
    const { page } = browser;
    // This browser already has the prompt as a saved run, with a result: opening the link must keep it.
    await page.goto(server.url);
    await page.evaluate(({ id, prompt }) => localStorage.setItem('polyprompt-runs-v1', JSON.stringify([{
      id, label: 'L300 · kept run', saved_at: 1, prompt,
      results: [{ code: 'eng_Latn', name: 'English', family: 'Indo-European, Germanic', script: 'Latn',
        accuracy: 0.5, macro_f1: 0.4, n: 204, per_category: [] }],
    }])), { id: fingerprint, prompt: long.toString('base64') });

    await page.goto(link);
    await page.reload();
    const notice = page.getByTestId('hosted-notice');
    await page.locator('[data-testid=hosted-notice][data-state=asking]').waitFor();
    assert.equal(await page.getByTestId('hosted-origin').innerText(), server.url.replace(/\/$/, ''));
    assert.match(await notice.innerText(), /Nothing has been fetched/);
    await page.screenshot({ path: path.join(shots, 'share-hosted-asking.png'), fullPage: true });
    await page.getByTestId('hosted-decline').click();
    await page.locator('[data-testid=hosted-notice][data-state=declined]').waitFor();
    assert.deepEqual(hostedRequests(), [], 'fetched before the user agreed');

    await page.reload();
    await page.getByTestId('hosted-fetch').click();
    await page.locator('[data-testid=hosted-notice][data-state=done]').waitFor();
    assert.equal(hostedRequests().length, 1);
    assert.match(await notice.innerText(), /already among your saved runs/);
    assert.equal(await page.getByTestId('prompt-summary').getAttribute('data-fingerprint'), fingerprint);
    assert.equal(await page.getByTestId('result-row').count(), 1, 'the saved run lost its results');
    assert.match(await page.getByTestId('saved-run').innerText(), /mean 50\.0%/);
    await page.screenshot({ path: path.join(shots, 'share-hosted-fetched.png'), fullPage: true });

    // Without a saved run it opens as a new prompt.
    await page.getByRole('button', { name: /^Delete / }).click();
    while (await storedRunCount(page) > 0) await page.waitForTimeout(50);
    await page.reload();
    await page.getByTestId('hosted-fetch').click();
    await notice.filter({ hasText: /Opened a shared prompt: 300 vectors for polyprompt-test\/tiny-bloom/ }).waitFor();
    assert.equal(await page.getByTestId('prompt-summary').getAttribute('data-fingerprint'), fingerprint);

    // A link to a host the page may not fetch from is refused before anything happens.
    await page.goto(`${server.url}#url=${encodeURIComponent('https://elsewhere.example/long.safetensors')}`);
    await page.reload();
    await page.getByTestId('shared-notice').filter({ hasText: /not from https:\/\/elsewhere\.example/ }).waitFor();
    assert.equal(await page.getByTestId('hosted-notice').count(), 0);
    assert.deepEqual(cspViolations(browser.log), []);
  });
});
