/**
 * Engine semantics: the JSON text a source decoded a record from reaches a sink only while the
 * record is that very object. Built-in steps that pass records on as they are (filter, key_by,
 * validate, dedupe, union) keep the texts; steps that build records (map, aggregate) or run the
 * user's functions (which might change a record in place) drop them. Whatever reaches a sink,
 * a text always parses to the record it comes with; a file → file pass-through copies its lines.
 */

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { count } from '../api/aggregates.ts';
import { sinkOf, sourceOf } from '../api/components.ts';
import { pipeline, tumbling } from '../api/pipeline.ts';
import type { Row } from '../record.ts';
import { memoryChannel, memorySinkStore } from '../testing/index.ts';
import { memorySink, memorySource } from '../testing/memory.ts';
import { Harness, planFrom, testRegistry } from './engine-test-support.ts';
import { Job } from './job.ts';

const harness = new Harness();
afterEach(() => harness.stopAll());
const registry = testRegistry();

/** Inputs spelled as a producer might spell them: spaces, key order, `1.0`, escapes. */
const TEXTS = [
  '{ "id": 1, "user": "ann", "amount": 1.0, "ts": 1000 }',
  '{"ts":2000,"id":2,"user":"bob","amount":25}',
  '{"id": 3, "user": "ann", "amount": 7.5, "ts": 3000, "note": "caf\\u00e9"}',
  '{"id": 4, "user": "cy", "amount": -2, "ts": 4000}',
  '{"id": 1, "user": "ann", "amount": 1.0, "ts": 5000}',
];

/** Runs `steps` (YAML) between a texts-giving memory source and a memory sink; returns what the sink was given. */
async function run(name: string, steps: string): Promise<{ record: Row; text: string | undefined }[]> {
  const dir = await harness.dir();
  memoryChannel(name)
    .pushTexts('p0', ...TEXTS)
    .end();
  const store = memorySinkStore(`${name}-out`);
  const yaml = `
name: ${name}
sources:
  in:
    type: memory
    channel: ${name}
    event_time: { field: ts, max_out_of_orderness: 0s }
${steps}
sinks:
  out:
    type: memory
    store: ${name}-out
`;
  const job = await Job.create(planFrom(yaml, dir, registry), { registry, fromScratch: true });
  const result = await harness.run(job);
  assert.equal(result.status, 'completed');
  return store.written;
}

function assertTextsTrue(written: { record: Row; text: string | undefined }[]): void {
  for (const { record, text } of written) {
    if (text !== undefined) assert.deepEqual(JSON.parse(text), record, `text ${text} is its record`);
  }
}

test('with no step, every record reaches the sink with the text it was read as, spelling kept', async () => {
  const written = await run('texts-none', '');
  assert.deepEqual(
    written.map((w) => w.text),
    TEXTS,
  );
  assertTextsTrue(written);
});

test('filter, key_by, validate, dedupe and union keep the texts of the records they pass on', async () => {
  const written = await run(
    'texts-kept',
    `steps:
  - id: positive
    type: filter
    where: amount > 0
  - id: by-user
    type: key_by
    key: [user]
  - id: checked
    type: validate
    schema: { type: object, required: [id, user] }
  - id: once
    type: dedupe
    key: [id]
    within: 1m
  - id: merged
    type: union
    input: [once]`,
  );
  // id 4 is filtered (amount -2); the second id 1 is a duplicate.
  assert.deepEqual(
    written.map((w) => w.text),
    [TEXTS[0], TEXTS[1], TEXTS[2]],
  );
  assertTextsTrue(written);
});

test('map builds new records: none keeps a text, and the sink sees the mapped values', async () => {
  const written = await run(
    'texts-map',
    `steps:
  - id: doubled
    type: map
    fields: { amount: amount * 2 }`,
  );
  assert.equal(written.length, TEXTS.length);
  assert.ok(written.every((w) => w.text === undefined));
  assert.deepEqual(
    written.map((w) => w.record.amount),
    [2, 50, 15, -4, 2],
  );
});

test('a map whose expression fails on some records keeps no text for the others', async () => {
  const written = await run(
    'texts-map-failing',
    `steps:
  - id: ratio
    type: map
    fields: { ratio: 10 / (amount + 2) }`,
  );
  assert.equal(written.length, TEXTS.length - 1, 'amount -2 divides by zero');
  assert.ok(written.every((w) => w.text === undefined));
});

test('steps running the user’s functions drop the texts, even when a function changes a record in place', async () => {
  const dir = await harness.dir();
  memoryChannel('texts-fn')
    .pushTexts('p0', ...TEXTS)
    .end();
  const store = memorySinkStore('texts-fn-out');
  const memory = sourceOf(memorySource);
  const collect = sinkOf(memorySink);
  const { plan, functions } = pipeline('texts-fn', { checkpoint: { dir } })
    .from('in', memory<{ [k: string]: unknown }>({ channel: 'texts-fn', eventTime: { field: 'ts' } }))
    .filter('kept', (r) => {
      r.seen = true; // against the rules, but it must not corrupt the output
      return true;
    })
    .map('same', (r) => {
      r.amount = 0;
      return r;
    })
    .to('out', collect({ store: 'texts-fn-out' }))
    .build(dir);
  const job = await Job.create(plan, { registry, functions, fromScratch: true });
  assert.equal((await harness.run(job)).status, 'completed');
  assert.equal(store.written.length, TEXTS.length);
  assert.ok(store.written.every((w) => w.text === undefined));
  assert.ok(store.written.every((w) => w.record.amount === 0 && w.record.seen === true));
});

test('aggregates emit new records, without texts', async () => {
  const dir = await harness.dir();
  memoryChannel('texts-agg')
    .pushTexts('p0', ...TEXTS)
    .end();
  const store = memorySinkStore('texts-agg-out');
  const memory = sourceOf(memorySource);
  const collect = sinkOf(memorySink);
  const { plan, functions } = pipeline('texts-agg', { checkpoint: { dir } })
    .from('in', memory<{ user: string; ts: number }>({ channel: 'texts-agg', eventTime: { field: 'ts' } }))
    .keyBy('by-user', (r) => r.user)
    .window(tumbling('1m'))
    .aggregate('n', { n: count() })
    .to('out', collect({ store: 'texts-agg-out' }))
    .build(dir);
  const job = await Job.create(plan, { registry, functions, fromScratch: true });
  assert.equal((await harness.run(job)).status, 'completed');
  assert.equal(store.written.length, 3, 'one window per user');
  assert.ok(store.written.every((w) => w.text === undefined));
});

test('file → file: a JSON Lines pass-through copies each line as it was written', async () => {
  const dir = await harness.dir();
  const input = `${TEXTS.join('\n')}\nnot json\n`;
  await writeFile(join(dir, 'in.jsonl'), input);
  const yaml = `
name: texts-file
sources:
  in: { type: file, path: ./in.jsonl, format: json, event_time: { field: ts } }
steps:
  - id: positive
    type: filter
    where: amount > 0
sinks:
  out: { type: file, path: ./out.jsonl }
dead_letter: { type: file, path: ./dead.jsonl }
`;
  const job = await Job.create(planFrom(yaml, dir, registry), { registry, fromScratch: true });
  const result = await harness.run(job);
  assert.equal(result.status, 'completed');
  const kept = TEXTS.filter((t) => (JSON.parse(t) as { amount: number }).amount > 0);
  assert.equal(await readFile(join(dir, 'out.jsonl'), 'utf8'), `${kept.join('\n')}\n`);
  assert.equal(result.metrics.deadLetters, 1, 'the line that is not JSON');
});
