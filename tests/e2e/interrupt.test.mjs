// No loss: a training run whose page dies mid-run (the renderer crashes, as a killed tab or a reload
// does) keeps the best prompt it had found, saved at its last validation; the reloaded page lists it as
// unfinished and reopens it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startServer, shots, setField, loadTinyBloom, cspViolations, withBrowser } from './browser.mjs';

let server;
before(async () => { server = await startServer(); });
after(() => server.stop());

test('a page killed mid-training keeps its best prompt so far', { timeout: 300_000 }, async () => {
  await withBrowser({ webgpu: false, failure: 'interrupt-failure.png' }, async (browser) => {
    let { page } = browser;
    await page.goto(server.url);
    await loadTinyBloom(page, server);
    // 60 epochs of 7 steps: far from done when the page dies after two validations.
    await setField(page, 'setting-epochs', 60);
    await setField(page, 'setting-length', 4);
    await page.getByTestId('train-start').click();
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=loss-chart]')?.dataset.validations) >= 2,
      null, { timeout: 180_000 });
    assert.equal(await page.getByTestId('train-status').getAttribute('data-phase'), 'running');
    // One entry for the run however many improvements it saved.
    const saved = page.getByTestId('saved-run');
    assert.equal(await saved.count(), 1);
    const stepBefore = Number((await saved.innerText()).match(/saved at step (\d+) of 420/)[1]);
    assert.match(await saved.innerText(), /L4 · .*tiny-bloom · uniform · saved at step/);
    await page.screenshot({ path: path.join(shots, 'interrupt-before.png'), fullPage: true });

    const cdp = await browser.context.newCDPSession(page);
    const crashed = page.waitForEvent('crash');
    cdp.send('Page.crash').catch(() => {});
    await crashed;

    page = await browser.context.newPage();
    browser.page = page;
    page.on('console', (msg) => browser.log.push(`[${msg.type()}] ${msg.text()}`));
    await page.goto(server.url);
    // The run is there, at its last saved step or later (the page may have saved once more), and
    // reopens with the prompt it names.
    const kept = page.getByTestId('saved-run');
    await kept.waitFor();
    assert.equal(await kept.count(), 1);
    const stepAfter = Number((await kept.innerText()).match(/saved at step (\d+) of 420/)[1]);
    assert.ok(stepAfter >= stepBefore, `saved at step ${stepAfter}, before the crash ${stepBefore}`);
    const fingerprint = await kept.getAttribute('data-id');
    await kept.getByTestId('saved-run-open').click();
    const summary = page.getByTestId('prompt-summary');
    assert.equal(await summary.getAttribute('data-fingerprint'), fingerprint);
    assert.equal(await summary.getAttribute('data-length'), '4');
    await page.screenshot({ path: path.join(shots, 'interrupt-reloaded.png'), fullPage: true });
    assert.deepEqual(cspViolations(browser.log), [], 'the Content-Security-Policy blocked something');
  });
});
