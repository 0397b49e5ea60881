// The compute device is chosen by measurement where there is a choice (a software WebGPU adapter is often
// slower than the CPU), says why, and can be overridden; tests elsewhere ask for WebGPU itself.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { openDiagnostics, shots, startServer, withBrowser } from './browser.mjs';

let server;
before(async () => { server = await startServer(); });
after(() => server.stop());

test('the faster of WebGPU and the CPU is chosen by measurement, and the choice can be overridden', { timeout: 300_000 }, async () => {
  await withBrowser({ webgpu: true, compute: null, failure: 'compute-failure.png' }, async ({ page }) => {
    await page.goto(server.url);
    const speed = page.getByTestId('compute-speed');
    await speed.waitFor({ state: 'attached', timeout: 200_000 });
    const chosen = Number(await speed.getAttribute('data-gflops'));
    const other = Number(await speed.getAttribute('data-alternative-gflops'));
    const backend = await page.getByTestId('backend-badge').getAttribute('data-backend');
    console.log(`auto chose ${backend}: ${chosen.toFixed(1)} GFLOP/s against ${other.toFixed(1)}`);
    assert.ok(chosen > 0 && other > 0, 'both devices were measured');
    assert.ok(chosen >= other, `auto chose ${backend} at ${chosen} GFLOP/s over ${other}`);
    if (backend === 'cpu') assert.match(await page.getByTestId('backend-badge').innerText(), /chosen by measurement/);
    await page.screenshot({ path: path.join(shots, 'compute-auto.png'), fullPage: true });

    // Overridden: the page reloads on the other device.
    const other_choice = backend === 'cpu' ? 'webgpu' : 'cpu';
    await openDiagnostics(page);
    await page.getByTestId('compute-choice').selectOption(other_choice);
    await page.waitForFunction((want) => document.querySelector('[data-testid=backend-badge]')?.dataset.backend === want,
      other_choice, { timeout: 200_000 });
    assert.equal(await page.getByTestId('compute-choice').inputValue(), other_choice);
  });
});
