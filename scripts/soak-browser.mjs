// The browser half of scripts/soak: the app's paper study (12 cells: the paper's six prompt lengths × no MLP /
// MLP) on the tiny BLOOM, in headless Chromium, on the CPU fallback and on SwiftShader's WebGPU. The worker's
// wasm memory and the GPU memory its device holds are read from the page's diagnostics after the first cell
// and after the last: a leak per cell would show as growth between the two. Prints one line per backend.
// Usage: node scripts/soak-browser.mjs [--backends cpu,webgpu] [--epochs 2] [--languages eng_Latn,swh_Latn]
import { startServer, launch, loadTinyBloom, setField } from '../tests/e2e/browser.mjs';

const opts = { backends: 'cpu,webgpu', epochs: '2', languages: 'eng_Latn,swh_Latn' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) opts[argv[i].replace(/^--/, '')] = argv[i + 1];
// Growth allowed from the first cell to the last: wasm memory grows in 64 KiB pages and never shrinks, and
// a later cell may need a larger buffer once (a longer prompt); a leak per cell would be 11 × something.
const BOUND_MIB = 16;

const server = await startServer();
let failed = false;
try {
  for (const backend of opts.backends.split(',')) {
    const browser = await launch({ webgpu: backend === 'webgpu' });
    try {
      const { page } = browser;
      await page.goto(server.url);
      await loadTinyBloom(page, server);
      await setField(page, 'setting-epochs', opts.epochs);
      await setField(page, 'study-languages', opts.languages);
      const start = Date.now();
      await page.getByTestId('study-start').click();
      const cells = Number(/\((\d+) runs\)/.exec(await page.getByTestId('study-start').innerText())?.[1] ?? 12);
      await page.getByTestId('study-status').filter({ hasText: /^Run 2 of/ }).waitFor({ timeout: 3_600_000 });
      const first = await memory(page);
      await page.getByTestId('study-status').filter({ hasText: /^Done:/ }).waitFor({ timeout: 3_600_000 });
      const last = await memory(page);
      const minutes = (Date.now() - start) / 60_000;
      const growth = (last.wasm - first.wasm) / 2 ** 20;
      const gpuGrowth = last.gpu === null ? 0 : (last.gpu - first.gpu) / 2 ** 20;
      const ok = growth <= BOUND_MIB && gpuGrowth <= BOUND_MIB;
      failed ||= !ok;
      const mib = (b) => (b === null ? 'none' : (b / 2 ** 20).toFixed(1));
      console.log(`soak_browser: backend=${backend} cells=${cells} minutes=${minutes.toFixed(1)} `
        + `worker_wasm_mib_after_cell1=${mib(first.wasm)} worker_wasm_mib_end=${mib(last.wasm)} `
        + `gpu_mib_after_cell1=${mib(first.gpu)} gpu_mib_end=${mib(last.gpu)} gpu_peak_mib=${mib(last.gpuPeak)} `
        + `bound_mib=${BOUND_MIB} ${ok ? 'ok' : 'LEAK'}`);
    } finally {
      await browser.close();
    }
  }
} finally {
  server.stop();
}
process.exit(failed ? 1 : 0);

/** The worker's memory as the diagnostics show it (the page asks the worker every 2 s). */
async function memory(page) {
  await page.waitForTimeout(2500);
  const node = page.getByTestId('worker-memory');
  const attr = async (name) => {
    const value = await node.getAttribute(`data-${name}`);
    return value === null || value === '' ? null : Number(value);
  };
  return { wasm: await attr('wasm-bytes'), gpu: await attr('gpu-bytes'), gpuPeak: await attr('gpu-peak-bytes') };
}
