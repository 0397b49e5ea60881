// The large-table path at CI size: a model with BLOOM-560m's full 250,880-token vocabulary and hidden size
// 1024 but only 2 layers (random weights, int8, made by `polyprompt random-model`), downloaded and loaded in
// the worker on both browser backends, trained a few steps and evaluated on the CPU fallback (see below for
// WebGPU), with the worker's memory held to the budget of a 560M model scaled to this one.
// scripts/bench-browser runs the full-size models.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repo, shots, startServer, setField, withBrowser } from './browser.mjs';

const model = path.join(repo, 'target/e2e-models/full-width-bloom');
// Issue #17's budgets for an int8 560M model (worker wasm memory on WebGPU and on the CPU fallback, GPU
// buffers), scaled by this model's share of its device memory: the table is the same, the layers 2 of 24.
const FULL_INT8_BYTES = 0.632e9; // bloom-560m's layers and tied head in int8 (`polyprompt inspect`)
const BUDGET = { webgpu: 1.5 * 2 ** 30, cpu: 2.5 * 2 ** 30, gpu: 1.1 * 2 ** 30 };

let server;
before(async () => {
  if (!fs.existsSync(path.join(model, 'model.safetensors'))) {
    execFileSync(path.join(repo, 'target/release/polyprompt'), ['random-model', '--like', path.join(repo, 'tests/fixtures/tiny-bloom'),
      '--vocab', '250880', '--hidden', '1024', '--heads', '16', '--layers', '2', '--dtype', 'int8', '--out', model], { stdio: 'inherit' });
  }
  server = await startServer({ mounts: [`/polyprompt-test/full-width-bloom/resolve/main/=${model}`] });
});
after(() => server?.stop());

// On WebGPU the test loads the model and checks memory, but does not train: this machine's only adapter,
// SwiftShader (0.4 GFLOP/s measured), takes about 6 minutes a step for this model (the page's estimate; still
// in step 1's backward pass after 10 minutes, 2026-12-02), far beyond CI's time. Its GPU memory then was
// 0.71 GB, inside the scaled 1.06 GB budget (it was 2.52 GB before the head's chunks were capped).
// FULL_WIDTH_WEBGPU=1 trains there too.
const TRAIN_ON_WEBGPU = process.env.FULL_WIDTH_WEBGPU === '1';

for (const { name, webgpu } of [{ name: 'webgpu', webgpu: true }, { name: 'cpu-fallback', webgpu: false }]) {
  test(`full-width: a 250k-token, 1024-wide model loads${webgpu && !TRAIN_ON_WEBGPU ? '' : ', trains and evaluates'} within its memory budget on ${name}`,
    { timeout: 900_000 }, async (t) => {
      await withBrowser({ webgpu, failure: `full-width-${name}-failure.png` }, async ({ page }) => {
        await page.goto(server.url);
        await page.getByTestId('model-id').fill(`${server.url}polyprompt-test/full-width-bloom`);
        await page.getByTestId('model-download').click();
        await page.locator('[data-testid=model-loaded][data-loaded=true]').waitFor({ timeout: 300_000 });
        const cost = await page.getByTestId('model-cost').innerText();
        assert.match(cost, /About [\d.]+ [MG]B to train; about .+ a step on this (GPU|CPU)/);
        if (webgpu && !TRAIN_ON_WEBGPU) {
          await checkMemory(page, webgpu, name);
          return t.diagnostic('trained on the CPU fallback only: SwiftShader takes ~6 min a step for this model');
        }
        // Two steps: 7 examples (one per topic) in batches of 4, one epoch.
        await setField(page, 'setting-shots', 1);
        await setField(page, 'setting-batch', 4);
        await setField(page, 'setting-epochs', 1);
        await setField(page, 'setting-length', 4);
        assert.match(await page.getByTestId('train-estimate').innerText(), /for 2 steps/);
        await page.getByTestId('train-start').click();
        await page.locator('[data-testid=train-status][data-phase=finished]').waitFor({ timeout: 600_000 });
        await page.getByTestId('eval-three').check();
        await page.getByTestId('eval-quick').check();
        await page.getByTestId('eval-start').click();
        await page.getByTestId('eval-status').filter({ hasText: /^Done/ }).waitFor({ timeout: 300_000 });
        await page.screenshot({ path: path.join(shots, `full-width-${name}.png`), fullPage: true });
        await checkMemory(page, webgpu, name);
      });
    });
}

/** The worker's wasm memory, and on WebGPU its device's peak, against the budgets scaled to this model. */
async function checkMemory(page, webgpu, name) {
  const memory = page.getByTestId('worker-memory');
  await memory.waitFor({ state: 'attached' });
  await page.waitForTimeout(2500); // the page asks the worker every 2 s: an answer from after what came before

  const read = async (field) => Number(await memory.getAttribute(`data-${field}`));
  const config = JSON.parse(fs.readFileSync(path.join(model, 'config.json'), 'utf8'));
  const share = (2 * config.vocab_size * config.hidden_size * 1.125 + 2 * 12.6e6 * 1.125) / FULL_INT8_BYTES;
  const wasm = await read('wasm-bytes');
  const budget = (webgpu ? BUDGET.webgpu : BUDGET.cpu) * share;
  console.log(`${name}: worker wasm ${(wasm / 2 ** 20).toFixed(0)} MiB of a ${(budget / 2 ** 20).toFixed(0)} MiB budget`);
  assert.ok(wasm <= budget, `the worker holds ${wasm} bytes of wasm memory, over its budget of ${budget}`);
  if (webgpu) {
    const gpu = await read('gpu-peak-bytes');
    console.log(`${name}: GPU at most ${(gpu / 2 ** 20).toFixed(0)} MiB of a ${(BUDGET.gpu * share / 2 ** 20).toFixed(0)} MiB budget`);
    assert.ok(gpu > 0 && gpu <= BUDGET.gpu * share, `the GPU device reserved up to ${gpu} bytes`);
  }
}
