// The paper-study preset: prompt lengths × reparameterization off/on, each trained with the panel's settings
// and evaluated on the chosen languages, listed side by side with the chart, each prompt saved as a run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startServer, shots, cspViolations, setField, loadTinyBloom, withBrowser } from './browser.mjs';

let server;
before(async () => { server = await startServer(); });
after(() => server.stop());

test('the paper study trains and evaluates the length × reparameterization grid', { timeout: 480_000 }, async () => {
  await withBrowser({ webgpu: false, failure: 'paper-study-failure.png' }, async (browser) => {
    const { page } = browser;
    await page.goto(server.url);
    await loadTinyBloom(page, server);

    await setField(page, 'setting-epochs', 1);
    await setField(page, 'study-lengths', '1, 3');
    await setField(page, 'study-languages', 'xx_Yyyy');
    await page.getByTestId('study-start').click();
    await page.getByTestId('study-status').filter({ hasText: /xx_Yyyy is not one of the 52/ }).waitFor();

    await setField(page, 'study-languages', 'eng_Latn,swh_Latn');
    const start = page.getByTestId('study-start');
    assert.equal(await start.innerText(), 'Run the study (4 runs)');
    await start.click();
    await page.getByTestId('study-status').filter({ hasText: /^Run \d of 4/ }).waitFor();
    assert.equal(await page.getByTestId('train-start').isDisabled(), true, 'training alongside the study');
    await page.getByTestId('study-status').filter({ hasText: /^Done: 4 runs/ }).waitFor({ timeout: 400_000 });

    assert.deepEqual(await page.getByTestId('study-run').allInnerTexts(), ['L1', 'L1 + MLP200', 'L3', 'L3 + MLP200']);
    const rows = page.getByTestId('study-language');
    assert.deepEqual(await rows.evaluateAll((els) => els.map((e) => e.querySelector('th').textContent)), ['English', 'Swahili']);
    const means = await page.getByTestId('study-mean').locator('td').allInnerTexts();
    assert.equal(means.length, 4);
    assert.ok(means.every((m) => /^\d+\.\d%$/.test(m)), means.join());
    // One line per reparameterization setting.
    assert.equal(await page.getByTestId('study-chart').locator('svg polyline').count(), 2);
    assert.equal(await page.getByTestId('saved-run').count(), 4);
    await page.getByTestId('study-table').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(shots, 'paper-study.png'), fullPage: true });
    assert.deepEqual(cspViolations(browser.log), []);
  });
});
