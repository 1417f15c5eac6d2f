import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { deadLetterFields, describePipelineFile, pipelineExample } from './describe-pipeline.ts';
import { pipelineKeys } from './plan/json-schema-sections.ts';
import { Harness, planFrom, testRegistry } from './runtime/engine-test-support.ts';
import { Job } from './runtime/job.ts';
import { ManualClock } from './testing/index.ts';

const registry = testRegistry();
const h = new Harness();
afterEach(() => h.stopAll());

describe('describePipelineFile', () => {
  const page = describePipelineFile();

  test('documents every top-level key, settings option and event_time option', () => {
    for (const key of pipelineKeys) assert.match(page, new RegExp(`^\\| \`${key}\` \\|`, 'm'), key);
    for (const option of [
      'checkpoint.interval',
      'checkpoint.dir',
      'checkpoint.keep',
      'batch_size',
      'idle_timeout',
      'field',
      'expression',
      'max_out_of_orderness',
    ]) {
      assert.match(page, new RegExp(`^\\| \`${option.replace('.', '\\.')}\` \\|`, 'm'), option);
    }
    assert.match(
      page,
      /\| `checkpoint\.dir` \| string \| {2}\| `"\.sluice\/checkpoints"` \| .*`<dir>\/<name>\/`/,
    );
  });

  test('its example runs; checkpoints land in <dir>/<name>/ and dead letters have the documented fields', async () => {
    const dir = await h.dir();
    await writeFile(
      join(dir, 'web-orders.jsonl'),
      '{"ts":1000,"region":"eu","amount":5}\n{"ts":2000,"region":\n{"ts":"soon","region":"us","amount":1}\n',
    );
    await writeFile(
      join(dir, 'store-orders.jsonl'),
      '{"sold_at":"1970-01-01T00:00:03Z","region":"eu","amount":7}\n',
    );
    const plan = planFrom(pipelineExample, dir, registry);
    await Job.validate(plan, { registry });
    const job = await Job.create(plan, { registry, clock: new ManualClock(42), tickInterval: 5 });
    const { status, metrics } = await h.run(job);
    assert.equal(status, 'completed');
    assert.equal(metrics.deadLetters, 2);

    const checkpoints = await readdir(join(dir, '.sluice/checkpoints/orders-per-region'));
    assert.ok(
      checkpoints.some((f) => f.endsWith('.ckpt')),
      `no checkpoint in .sluice/checkpoints/orders-per-region: ${checkpoints}`,
    );

    const letters = (await readFile(join(dir, 'out/dead-letters.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as object);
    const documented = new Set(deadLetterFields.map((f) => f.name));
    for (const letter of letters) {
      for (const key of Object.keys(letter)) assert.ok(documented.has(key), `undocumented field '${key}'`);
      for (const f of deadLetterFields.filter((d) => d.always))
        assert.ok(Object.hasOwn(letter, f.name), `'${f.name}' missing from ${JSON.stringify(letter)}`);
    }
    const written = new Set(letters.flatMap((l) => Object.keys(l)));
    // `kind` appears only for changes of an updating stream (engine-changelog.test.ts checks it).
    for (const f of deadLetterFields) {
      if (f.name !== 'eventTime' && f.name !== 'kind')
        assert.ok(written.has(f.name), `'${f.name}' is documented but never written`);
    }
  });
});
