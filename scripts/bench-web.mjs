// Runs the browser benchmark (src/bin/bench_web.rs) in headless Chromium and prints its JSON.
// Usage: node scripts/bench-web.mjs --pkg <wasm-bindgen output> --model <model folder>
//          [--batch 8 --seq 128 --prompt-len 16 --warmup 1 --reps 3]
// Serves scripts/ (the page), the package and the model with scripts/static-server.mjs on a free local port.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
// playwright-core is installed for the browser tests (tests/e2e, by scripts/setup).
const { chromium } = createRequire(path.join(here, '../tests/e2e/package.json'))('playwright-core');

const opts = { batch: '8', seq: '128', 'prompt-len': '16', warmup: '1', reps: '3' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) opts[argv[i].replace(/^--/, '')] = argv[i + 1];
if (!opts.pkg || !opts.model) throw new Error('--pkg and --model are required');

const server = spawn('node', [path.join(here, 'static-server.mjs'), '--port', '0',
  '--mount', `/=${here}`, '--mount', `/pkg/=${path.resolve(opts.pkg)}`, '--mount', `/model/=${path.resolve(opts.model)}`],
{ stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise((resolve, reject) => {
  server.stdout.on('data', (d) => { const m = /listening (\d+)/.exec(String(d)); if (m) resolve(Number(m[1])); });
  server.once('exit', (code) => reject(new Error(`static server exited with ${code}`)));
});

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'polyprompt-bench-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run'],
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (msg) => { if (msg.type() === 'error') process.stderr.write(`[page] ${msg.text()}\n`); });
  page.on('pageerror', (err) => process.stderr.write(`[pageerror] ${err.message}\n`));
  const query = new URLSearchParams({ model: '/model/', batch: opts.batch, seq: opts.seq,
    prompt_len: opts['prompt-len'], warmup: opts.warmup, reps: opts.reps });
  await page.goto(`http://127.0.0.1:${port}/bench-web.html?${query}`);
  await page.waitForSelector('#result[data-done]', { timeout: 0 });
  const report = JSON.parse(await page.textContent('#result'));
  report.browser = context.browser()?.version() ?? (await page.evaluate(() => navigator.userAgent));
  console.log(JSON.stringify(report, null, 2));
  if (report.error) process.exitCode = 1;
} finally {
  await context.close();
  server.kill();
  fs.rmSync(profile, { recursive: true, force: true });
}
