// An own task in the app: CSV files picked in step 2 (a bad one refused by file and line, the task in use
// unchanged), a label word edited, a run trained on it, evaluated on its test files, tried on one of its
// sentences with its own classes, and the downloaded prompt file recording the task; on the CPU fallback
// and on WebGPU. The task is three SIB-200 topics, relabelled.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { repo, startServer, shots, setField, loadTinyBloom, withBrowser } from './browser.mjs';

let server;
before(async () => { server = await startServer(); });
after(() => server.stop());

const RELABEL = { travel: 'trip', sports: 'game', health: 'doctor' };

/** One SIB-200 split's rows of three topics as `text,label` CSV, texts quoted. */
function taskCsv(language, split) {
  const tsv = fs.readFileSync(path.join(repo, '../shared/data/sib200', language, `${split}.tsv`), 'utf8');
  const rows = tsv.trim().split('\n').slice(1).map((line) => line.split('\t'))
    .filter(([, topic]) => topic in RELABEL)
    .map(([, topic, text]) => `"${text.replace(/^"|"$/g, '').replaceAll('""', '"').replaceAll('"', '""')}",${RELABEL[topic]}`);
  return `text,label\n${rows.join('\n')}\n`;
}

/** The labels of a task CSV in order of first appearance: the classes the app must find. */
const firstAppearance = (csv) => [...new Set(csv.trim().split('\n').slice(1).map((line) => line.slice(line.lastIndexOf(',') + 1)))];

const csvFile = (name, text) => ({ name, mimeType: 'text/csv', buffer: Buffer.from(text) });

/** The polyprompt metadata in a prompt file's safetensors header. */
function promptMetadata(bytes) {
  const size = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + size).toString('utf8'));
  return JSON.parse(header.__metadata__.polyprompt);
}

for (const webgpu of [false, true]) {
  const backend = webgpu ? 'webgpu' : 'cpu';
  test(`own-task: train, evaluate and try a task from CSV files (${webgpu ? 'WebGPU' : 'CPU fallback'})`, { timeout: 420_000 }, async () => {
    await withBrowser({ webgpu, failure: `own-task-${backend}-failure.png` }, async ({ page }) => {
      await page.goto(server.url);
      await loadTinyBloom(page, server);
      const files = page.getByTestId('task-files');
      const message = page.getByTestId('task-message');

      // A bad file is refused by name and line; SIB-200 stays the task.
      await files.setInputFiles([csvFile('train.csv', 'text,label\nGood trip,trip\n"Bad, very",trip,extra\n')]);
      await message.filter({ hasText: /train\.csv, line 3: expected 2 fields/ }).waitFor();
      assert.match(await message.innerText(), /unchanged/);
      assert.ok(await page.getByTestId('task-sib200').isChecked());
      await files.setInputFiles([csvFile('train.csv', 'text,label\nA,x\nB,x\n')]);
      await message.filter({ hasText: /every row has the label "x"/ }).waitFor();

      // The task: English train and dev, Swahili and Telugu test files.
      const train = taskCsv('eng_Latn', 'train');
      const expected = firstAppearance(train);
      const words = expected.map((c) => (c === 'doctor' ? 'health' : c));
      await files.setInputFiles([
        csvFile('train.csv', train),
        csvFile('dev.csv', taskCsv('eng_Latn', 'dev')),
        csvFile('swh_Latn.csv', taskCsv('swh_Latn', 'test')),
        csvFile('tel_Telu.csv', taskCsv('tel_Telu', 'test')),
      ]);
      const own = page.getByTestId('own-task');
      await own.waitFor();
      assert.ok(await page.getByTestId('task-own').isChecked());
      assert.equal(await own.getAttribute('data-classes'), '3');
      const classes = await page.getByTestId('task-class').evaluateAll((rows) => rows.map((r) => r.dataset.class));
      assert.deepEqual([...classes].sort(), ['doctor', 'game', 'trip']);
      assert.deepEqual(classes, expected);
      assert.match(await page.getByTestId('task-sets').innerText(), /validation examples from the dev file.*Swahili.*Telugu/);
      await page.locator('[data-testid=task-class][data-class=doctor] [data-testid=task-word]').fill('health');
      await page.locator('[data-testid=task-class][data-class=doctor] [data-testid=task-word]').dispatchEvent('change');
      await setField(page, 'task-name', 'Trips and games');

      // 4 examples per class, 1 epoch: 12 examples, 2 steps.
      await setField(page, 'setting-length', 2);
      await setField(page, 'setting-epochs', 1);
      await setField(page, 'setting-shots', 4);
      await page.getByTestId('train-start').click();
      await page.locator('[data-testid=train-status][data-phase=finished]').waitFor({ timeout: 300_000 });
      assert.match(await page.getByTestId('train-status').innerText(), /step 2 of 2/);

      // Evaluation on the task's two test files, against its three classes.
      assert.equal(await page.getByTestId('eval-start').innerText(), 'Evaluate on 2 languages');
      await page.getByTestId('eval-quick').check();
      await page.getByTestId('eval-start').click();
      await page.getByTestId('eval-status').filter({ hasText: /^Done/ }).waitFor({ timeout: 120_000 });
      assert.match(await page.getByTestId('eval-status').innerText(), /over 2 languages \(chance 33\.3%\)/);
      const codes = await page.getByTestId('result-row').evaluateAll((rows) => rows.map((r) => r.dataset.code));
      assert.deepEqual(codes.sort(), ['swh_Latn', 'tel_Telu']);
      await page.getByTestId('accuracy-chart').scrollIntoViewIfNeeded();
      await page.screenshot({ path: path.join(shots, `own-task-${backend}.png`), fullPage: true });

      // Try it: a Swahili sentence of the task, scored on its three classes.
      await page.getByTestId('try-language').selectOption('swh_Latn');
      await page.getByTestId('try-example').click();
      await page.getByTestId('try-truth').filter({ hasText: /Trips and games labels this Swahili sentence “(trip|game|doctor)”/ }).waitFor({ timeout: 60_000 });
      const topics = await page.getByTestId('try-topic').evaluateAll((rows) => rows.map((r) => r.dataset.topic));
      assert.deepEqual(topics, expected);
      await page.getByTestId('try-result').scrollIntoViewIfNeeded();
      await page.screenshot({ path: path.join(shots, `own-task-try-${backend}.png`) });

      // The prompt file records the task, its classes and the edited label word.
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('prompt-download').click()]);
      const metadata = promptMetadata(fs.readFileSync(await download.path()));
      assert.deepEqual(metadata.task, { kind: 'own', name: 'Trips and games', classes: expected, words });
      assert.deepEqual(metadata.label_words, words);
    });
  });
}
