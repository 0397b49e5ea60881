// Shared helpers for the browser tests: the static server and a headless Chromium.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const shots = path.join(repo, 'target/e2e');
fs.mkdirSync(shots, { recursive: true });

/**
 * Serves the built app (dist/), the dev SIB-200 copy, and the tiny fixture models laid out like the
 * Hugging Face hub (`/<owner>/<name>/resolve/main/<file>`) on a free port, plus any `mounts`
 * (`/prefix/=folder`). `requests` lists every path asked for, so tests can tell a download from a cache hit.
 */
export async function startServer({ mounts = [] } = {}) {
  const child = spawn('node', [
    path.join(repo, 'scripts/static-server.mjs'), '--log', '--port', '0',
    '--mount', `/=${path.join(repo, 'dist')}`,
    '--mount', `/data/sib200/=${path.join(repo, '../shared/data/sib200')}`,
    '--mount', `/polyprompt-test/tiny-bloom/resolve/main/=${path.join(repo, 'tests/fixtures/tiny-bloom')}`,
    '--mount', `/polyprompt-test/tiny-xglm/resolve/main/=${path.join(repo, 'tests/fixtures/tiny-xglm')}`,
    // The same model from a server that sends no Content-Length.
    '--chunked-mount', `/chunked/tiny-bloom/resolve/main/=${path.join(repo, 'tests/fixtures/tiny-bloom')}`,
    ...mounts.flatMap((mount) => ['--mount', mount]),
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  const requests = [];
  const port = await new Promise((resolve, reject) => {
    let buffered = '';
    child.stdout.on('data', (data) => {
      buffered += data;
      const lines = buffered.split('\n');
      buffered = lines.pop();
      for (const line of lines) {
        if (line.startsWith('listening ')) resolve(Number(line.split(' ')[1]));
        else requests.push(line);
      }
    });
    child.once('exit', (code) => reject(new Error(`static server exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}/`, requests, stop: () => child.kill() };
}

/**
 * Launches Debian's Chromium headless with a fresh profile. With `webgpu`, Chromium exposes its
 * software WebGPU adapter (SwiftShader); without it there is no adapter and the app must fall back.
 * `compute` is the app's choice of device (its diagnostics' "Compute on"): with `webgpu` the tests ask for
 * WebGPU itself, since on these machines the CPU often measures faster than SwiftShader and `auto` would
 * pick it; `compute: null` leaves the choice to the page (auto, or what the test sets in it).
 */
export async function launch({ webgpu, compute = webgpu ? 'webgpu' : null }) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'polyprompt-chromium-'));
  const args = ['--no-sandbox', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run'];
  if (webgpu) args.push('--enable-unsafe-webgpu');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args,
    viewport: { width: 1280, height: 800 },
  });
  if (compute) await context.addInitScript((choice) => localStorage.setItem('polyprompt.compute', choice), compute);
  const page = context.pages()[0] ?? (await context.newPage());
  const log = [];
  page.on('console', (msg) => log.push(`[${msg.type()}] ${msg.text()}`));
  page.on('pageerror', (err) => log.push(`[pageerror] ${err.message}`));
  return { context, page, log, close: () => context.close() };
}

/**
 * Runs `body` with a fresh headless Chromium (see `launch`). If it fails, the page as it was is saved as
 * `failure` (a file name under target/e2e/) and the browser's console is printed; the browser is always
 * closed.
 */
export async function withBrowser({ webgpu, compute, failure }, body) {
  const browser = await launch({ webgpu, compute });
  try {
    await body(browser);
  } catch (error) {
    if (failure) await browser.page.screenshot({ path: path.join(shots, failure), fullPage: true }).catch(() => {});
    console.error(browser.log.join('\n'));
    throw error;
  } finally {
    await browser.close();
  }
}

/** Downloads the tiny fixture BLOOM from the test server's hub layout and waits until it is loaded. */
export async function loadTinyBloom(page, server) {
  await page.getByTestId('model-id').fill(`${server.url}polyprompt-test/tiny-bloom`);
  await page.getByTestId('model-download').click();
  await page.locator('[data-testid=model-loaded][data-loaded=true]').waitFor({ timeout: 120_000 });
}

/** Opens the Diagnostics disclosure (compute engine, device choice, memory, storage). */
export async function openDiagnostics(page) {
  await page.getByTestId('diagnostics').evaluate((details) => { details.open = true; });
}

/** Types `value` into the field `testid` and commits it, as leaving the field does. */
export async function setField(page, testid, value) {
  const input = page.getByTestId(testid);
  await input.fill(String(value));
  await input.dispatchEvent('change');
}

/** Imports a `promptFile` of `length` vectors through the page's file input; returns its bytes. */
export async function importPrompt(page, length, seed) {
  const buffer = promptFile({ length, seed });
  await page.getByTestId('prompt-import').setInputFiles({ name: `L${length}.safetensors`, mimeType: 'application/octet-stream', buffer });
  await page.getByTestId('prompt-message').filter({ hasText: `Imported a ${length}-vector prompt` }).waitFor();
  return buffer;
}

/**
 * A polyprompt prompt file (PEFT's safetensors with our metadata) with `length` random vectors of size
 * `hidden`, for tests that need a prompt without training one. `seed` varies the vectors.
 */
export function promptFile({ length, hidden = 64, baseModel = 'polyprompt-test/tiny-bloom', seed = 1 }) {
  const metadata = {
    schema_version: 1, family: 'bloom', base_model: baseModel, placement: 'suffix',
    label_words: ['science', 'travel', 'government', 'play', 'health', 'fun', 'earth'],
  };
  const values = new Float32Array(length * hidden);
  let state = seed;
  for (let i = 0; i < values.length; i += 1) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    values[i] = state / 2 ** 31 - 0.5;
  }
  let header = JSON.stringify({
    __metadata__: { polyprompt: JSON.stringify(metadata) },
    prompt_embeddings: { dtype: 'F32', shape: [length, hidden], data_offsets: [0, values.byteLength] },
  });
  header += ' '.repeat((8 - (header.length % 8)) % 8);
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([size, Buffer.from(header), Buffer.from(values.buffer)]);
}

/**
 * Gives the page a saved run with results (English 50%, label `L2 · evaluated`) without training or
 * evaluating: written where an earlier version kept runs (LocalStorage), which the app moves to IndexedDB
 * when the page reloads.
 */
export async function seedEvaluatedRun(page, seed = 1, results = [{ code: 'eng_Latn', name: 'English',
  family: 'Indo-European, Germanic', script: 'Latn', accuracy: 0.5, macro_f1: 0.4, n: 204, per_category: [] }]) {
  await page.getByTestId('app-main').waitFor();
  await page.evaluate(([prompt, results]) => localStorage.setItem('polyprompt-runs-v1', JSON.stringify([{
    id: 'feedbeef', label: 'L2 · evaluated', saved_at: 1, prompt, results,
  }])), [promptFile({ length: 2, seed }).toString('base64'), results]);
  await page.reload();
}

/** The 52 evaluation languages as src/task/languages.rs lists them: code, name, family, script. */
export function languages() {
  const source = fs.readFileSync(path.join(repo, 'src/task/languages.rs'), 'utf8');
  return [...source.matchAll(/lang\("(\w+)", "([^"]+)", "([^"]+)", "([^"]+)"/g)]
    .map(([, code, name, family, script]) => ({ code, name, family, script }));
}

/**
 * Results for all 52 languages, as an evaluation over SIB-200's 7 topics gives them (for
 * `seedEvaluatedRun`): English best at 86.3%, then falling in the paper's order, with a few below chance.
 */
export function fullResults() {
  const topics = ['science/technology', 'travel', 'politics', 'sports', 'health', 'entertainment', 'geography'];
  return languages().map((language, i) => {
    const correct = Math.max(3, Math.round(176 - i * 3.3 - (i % 5) * 4));
    return {
      ...language, accuracy: correct / 204, macro_f1: (correct / 204) * 0.9, n: 204,
      per_category: topics.map((category, t) => ({ category, n: t < 1 ? 24 : 30, correct: Math.floor(correct / 7), predicted: 29 })),
    };
  });
}

/** Console messages that report a Content-Security-Policy violation. */
export const cspViolations = (log) => log.filter((line) => /Content Security Policy/i.test(line));

/** How many runs the page's IndexedDB holds (writes land a moment after the list on the page changes). */
export function storedRunCount(page) {
  return page.evaluate(() => new Promise((resolve, reject) => {
    const open = indexedDB.open('polyprompt');
    // Never create the database here: the app creates it with its store.
    open.onupgradeneeded = () => open.transaction.abort();
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const count = open.result.transaction('runs').objectStore('runs').count();
      count.onsuccess = () => { open.result.close(); resolve(count.result); };
      count.onerror = () => reject(count.error);
    };
  }));
}
