// The real app with full-size models, in headless Chromium: for each family and browser backend, each of
// the three file forms (f32 model.safetensors, pytorch_model.bin, int8 from `polyprompt convert`) is
// downloaded from a hub-layout server and loaded in the worker as int8; the int8 form then trains a few
// steps of the paper's recipe, evaluates three languages (quick preview) and downloads its prompt. Every
// stage records its wall time, the worker's wasm memory, the GPU memory its device reserved, the page's wasm
// memory and JS heap. Prints the JSON, then one closing line to compare run to run.
// Usage: node scripts/bench-browser.mjs --models DIR [--families xglm,bloom] [--backends webgpu,cpu]
//          [--forms f32,bin,int8] [--steps 2] [--stage-timeout-min 60] [--out FILE]
// DIR holds <family>-f32/, <family>-bin/, <family>-int8/ in the hub's layout (scripts/bench-browser makes them).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const { chromium } = createRequire(path.join(repo, 'tests/e2e/package.json'))('playwright-core');

const opts = { families: 'xglm,bloom', backends: 'webgpu,cpu', forms: 'f32,bin,int8', steps: '2', 'stage-timeout-min': '60' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) opts[argv[i].replace(/^--/, '')] = argv[i + 1];
if (!opts.models) throw new Error('--models is required');
const stageTimeout = Number(opts['stage-timeout-min']) * 60_000;
const say = (line) => process.stderr.write(`[bench-browser] ${line}\n`);

const server = spawn('node', [path.join(here, 'static-server.mjs'), '--port', '0',
  '--mount', `/=${path.join(repo, 'dist')}`,
  '--mount', `/data/sib200/=${path.join(repo, '../shared/data/sib200')}`,
  ...fs.readdirSync(opts.models).flatMap((name) => ['--mount', `/bench/${name}/resolve/main/=${path.join(opts.models, name)}`])],
{ stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise((resolve, reject) => {
  server.stdout.on('data', (d) => { const m = /listening (\d+)/.exec(String(d)); if (m) resolve(Number(m[1])); });
  server.once('exit', (code) => reject(new Error(`static server exited with ${code}`)));
});
const url = `http://127.0.0.1:${port}/`;

/** Worker and page memory now, from the page's diagnostics and Chrome's own metrics. */
async function memory(page, cdp) {
  const node = page.getByTestId('worker-memory');
  // The page asks the worker every 2 s; wait for an answer given after this stage.
  await page.waitForTimeout(2500);
  const attr = async (name) => Number(await node.getAttribute(`data-${name}`).catch(() => NaN));
  const { metrics } = await cdp.send('Performance.getMetrics');
  const metric = (name) => metrics.find((m) => m.name === name)?.value;
  return {
    worker_wasm_bytes: await attr('wasm-bytes'),
    gpu_bytes: await attr('gpu-bytes'),
    gpu_peak_bytes: await attr('gpu-peak-bytes'),
    page_wasm_bytes: await attr('page-wasm-bytes'),
    page_js_heap_bytes: metric('JSHeapUsedSize'),
  };
}

/** Runs `body` and records its wall time and the memory after it; a failure or timeout is recorded too. */
async function stage(record, name, page, cdp, body) {
  const start = Date.now();
  try {
    const extra = await body();
    record[name] = { seconds: (Date.now() - start) / 1000, ...extra, ...(await memory(page, cdp)) };
    say(`${name}: ${record[name].seconds.toFixed(1)} s`);
    return true;
  } catch (error) {
    record[name] = { seconds: (Date.now() - start) / 1000, error: String(error.message ?? error).split('\n')[0], ...(await memory(page, cdp).catch(() => ({}))) };
    say(`${name}: failed after ${record[name].seconds.toFixed(0)} s: ${record[name].error}`);
    return false;
  }
}

async function run(family, backend, form) {
  const webgpu = backend === 'webgpu';
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'polyprompt-bench-browser-'));
  const args = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
  if (webgpu) args.push('--enable-unsafe-webgpu');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true, args, acceptDownloads: true,
  });
  await context.addInitScript((choice) => localStorage.setItem('polyprompt.compute', choice), webgpu ? 'webgpu' : 'cpu');
  const record = { family, backend, form };
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (err) => say(`[pageerror] ${err.message}`));
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');
    await page.goto(url);
    await page.locator('[data-testid=engine-check]:not([data-status=running])').waitFor({ state: 'attached', timeout: stageTimeout });
    record.device = await page.getByTestId('backend-badge').innerText();
    await page.getByTestId('model-id').fill(`${url}bench/${family}-${form}`);
    await page.locator('[data-testid=model-dtype] input[value=int8]').check();
    const downloaded = await stage(record, 'download', page, cdp, async () => {
      await page.getByTestId('model-download').click();
      await page.getByTestId('model-status').filter({ hasText: /^(Ready|Not downloaded)/ }).waitFor({ timeout: stageTimeout });
      return { cost: await page.getByTestId('model-cost').innerText().catch(() => null) };
    });
    const loaded = downloaded && await stage(record, 'load', page, cdp, async () => {
      const line = page.locator('[data-testid=model-loaded][data-loaded=true], [data-testid=model-loaded].error');
      await line.waitFor({ timeout: stageTimeout });
      if (await line.getAttribute('data-loaded') !== 'true') throw new Error(await line.innerText());
    });
    if (!loaded || form !== 'int8') return record;
    // The paper's recipe (batch 8, full-vocabulary loss), with 2 examples per topic for one epoch: 2 steps.
    const steps = Number(opts.steps);
    const set = async (id, value) => { const f = page.getByTestId(id); await f.fill(String(value)); await f.dispatchEvent('change'); };
    await set('setting-shots', Math.ceil((steps * 8) / 7));
    await set('setting-epochs', 1);
    record.estimate = await page.getByTestId('train-estimate').innerText();
    const trained = await stage(record, 'train', page, cdp, async () => {
      await page.getByTestId('train-start').click();
      await page.locator('[data-testid=train-status][data-phase=finished]').waitFor({ timeout: stageTimeout });
      const status = await page.getByTestId('train-status').innerText();
      const perSecond = Number(/([\d.]+) examples\/s/.exec(status)?.[1]);
      return { status, step_seconds: 8 / perSecond };
    });
    if (!trained) return record;
    await page.getByTestId('eval-three').check();
    await page.getByTestId('eval-quick').check();
    await stage(record, 'evaluate', page, cdp, async () => {
      const start = Date.now();
      await page.getByTestId('eval-start').click();
      await page.getByTestId('eval-status').filter({ hasText: /^Done/ }).waitFor({ timeout: stageTimeout });
      return { sentences_per_second: (3 * 28) / ((Date.now() - start) / 1000) };
    });
    await stage(record, 'prompt_download', page, cdp, async () => {
      const download = page.waitForEvent('download');
      await page.getByTestId('prompt-download').click();
      return { file: (await download).suggestedFilename() };
    });
    await page.screenshot({ path: path.join(repo, 'target/bench-browser', `${family}-${backend}.png`), fullPage: true });
    return record;
  } finally {
    await context.close();
  }
}

const results = [];
try {
  for (const family of opts.families.split(',')) {
    for (const backend of opts.backends.split(',')) {
      for (const form of opts.forms.split(',')) {
        if (!fs.existsSync(path.join(opts.models, `${family}-${form}`))) continue;
        say(`${family} · ${backend} · ${form}`);
        results.push(await run(family, backend, form));
      }
    }
  }
} finally {
  server.kill();
}
const text = JSON.stringify(results, null, 2);
if (opts.out) fs.writeFileSync(opts.out, text);
console.log(text);

const stages = (r) => ['download', 'load', 'train', 'evaluate', 'prompt_download'].map((s) => r[s]).filter(Boolean);
const max = (values) => Math.max(0, ...values.filter(Number.isFinite));
const ok = (family) => {
  const runs = results.filter((r) => r.family === family);
  return runs.length > 0 && runs.every((r) => stages(r).every((s) => !s.error)) ? 'ok' : 'fail';
};
const gib = (bytes) => (bytes / 2 ** 30).toFixed(2);
const steps = results.filter((r) => r.backend === 'webgpu' && r.train?.step_seconds).map((r) => r.train.step_seconds).sort((a, b) => a - b);
const median = steps.length ? steps[Math.floor(steps.length / 2)].toFixed(1) : 'none';
console.log(`browser_full: xglm=${ok('xglm')} bloom=${ok('bloom')} `
  + `worker_peak_gib=${gib(max(results.flatMap((r) => stages(r).map((s) => s.worker_wasm_bytes))))} `
  + `gpu_gib=${gib(max(results.flatMap((r) => stages(r).map((s) => s.gpu_peak_bytes))))} step_s=${median}`);
