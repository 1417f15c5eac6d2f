/**
 * Engine semantics under hostile input: records nested 10,000 deep, numbers beyond the range of a
 * double and invalid UTF-8 become dead letters with the reason; the rest of the input goes on,
 * checkpoints succeed with the good records' values in state, and a dead letter is written
 * whatever its payload holds.
 */

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { sinkOf, sourceOf } from '../api/components.ts';
import { pipeline } from '../api/pipeline.ts';
import { DirectoryCheckpointStore } from '../checkpoint/index.ts';
import { SluiceError } from '../errors.ts';
import { ManualClock, memoryChannel } from '../testing/index.ts';
import { memorySink, memorySource } from '../testing/memory.ts';
import { assertAccounting, Harness, planFrom, testRegistry } from './engine-test-support.ts';
import { Job } from './job.ts';

const registry = testRegistry();
const h = new Harness();
afterEach(() => h.stopAll());

const DEEP = 10_000;
const deepText = `{"k":"a","ts":1000,"v":${'['.repeat(DEEP)}${']'.repeat(DEEP)}}`;

async function readLines(path: string): Promise<{ [k: string]: unknown }[]> {
  return (await readFile(path, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { [k: string]: unknown });
}

test('deep, out-of-range and invalid UTF-8 lines are dead letters; first(...) state checkpoints', async () => {
  const dir = await h.dir();
  const good = (i: number) => Buffer.from(`{"k":"${i % 2 ? 'a' : 'b'}","ts":${1000 + i},"v":{"n":${i}}}\n`);
  const parts: Buffer[] = [
    good(1),
    Buffer.from(`${deepText}\n`),
    good(2),
    Buffer.from('{"k":"a","ts":1003,"v":1e400}\n'),
    Buffer.from(`{"k":"a","ts":1004,"v":-${'9'.repeat(400)}}\n`),
    good(5),
    Buffer.concat([Buffer.from('{"k":"a'), Buffer.from([0xff, 0xfe]), Buffer.from('","ts":1006,"v":1}\n')]),
    Buffer.from('{"k":"é","ts":1007,"v":{"text":"1e400 is fine in a string"}}\n'),
    good(8),
  ];
  await writeFile(join(dir, 'in.jsonl'), Buffer.concat(parts));
  const plan = planFrom(
    `
name: hostile
settings: { checkpoint: { interval: 0, dir: ./ckpt } }
sources:
  in: { type: file, path: ./in.jsonl, format: json, event_time: { field: ts } }
steps:
  - id: agg
    type: aggregate
    key: [k]
    window: { type: tumbling, size: 1m }
    fields: { n: count(*), first_v: first(v) }
sinks:
  out: { type: file, path: ./out/results.jsonl }
dead_letter: { type: file, path: ./out/dead.jsonl }
`,
    dir,
    registry,
  );
  const job = await Job.create(plan, { registry, clock: new ManualClock(7), tickInterval: 5 });
  const run = h.run(job);
  const { status, metrics: m } = await run;
  assert.equal(status, 'completed');
  assertAccounting(m, 'agg');
  assert.equal(m.recordsIn, 9);
  assert.equal(m.deadLetters, 4);
  const letters = await readLines(join(dir, 'out/dead.jsonl'));
  assert.deepEqual(
    letters.map((l) => [l.code, String(l.message).match(/max_depth|out of range|UTF-8/)?.[0]]),
    [
      ['DECODE_FAILED', 'max_depth'],
      ['DECODE_FAILED', 'out of range'],
      ['DECODE_FAILED', 'out of range'],
      ['DECODE_FAILED', 'UTF-8'],
    ],
  );
  assert.equal(letters[0].payload, deepText);
  assert.equal(Buffer.from(String(letters[3].payload), 'base64').includes(Buffer.from([0xff, 0xfe])), true);
  const results = await readLines(join(dir, 'out/results.jsonl'));
  assert.deepEqual(
    results.map((r) => [r.k, r.n, r.first_v]),
    [
      ['a', 2, { n: 1 }],
      ['b', 2, { n: 2 }],
      ['é', 1, { text: '1e400 is fine in a string' }],
    ],
  );
  const newest = await new DirectoryCheckpointStore(join(dir, 'ckpt', 'hostile')).latest();
  assert.equal(newest?.data.counters?.completed, 1, 'the final checkpoint was written');
});

test('invalid_utf8: replace reads invalid bytes as U+FFFD; max_depth is configurable', async () => {
  const dir = await h.dir();
  const bytes = Buffer.concat([
    Buffer.from('{"k":"a'),
    Buffer.from([0xff]),
    Buffer.from('","ts":1}\n{"k":"b","ts":2,"v":[[[1]]]}\n'),
  ]);
  await writeFile(join(dir, 'in.jsonl'), bytes);
  const plan = planFrom(
    `
name: hostile-options
settings: { checkpoint: { interval: 0, dir: ./ckpt } }
sources:
  in: { type: file, path: ./in.jsonl, format: json, invalid_utf8: replace, max_depth: 3 }
sinks:
  out: { type: file, path: ./out/results.jsonl }
dead_letter: { type: file, path: ./out/dead.jsonl }
`,
    dir,
    registry,
  );
  const job = await Job.create(plan, { registry, clock: new ManualClock(7), tickInterval: 5 });
  const { status } = await h.run(job);
  assert.equal(status, 'completed');
  assert.deepEqual(await readLines(join(dir, 'out/results.jsonl')), [{ k: 'a\uFFFD', ts: 1 }]);
  const letters = await readLines(join(dir, 'out/dead.jsonl'));
  assert.equal(letters.length, 1);
  assert.match(String(letters[0].message), /deeper than max_depth \(3\)/);
});

test('a dead letter whose payload JSON cannot hold is written as truncated text', async () => {
  const dir = await h.dir();
  const channel = memoryChannel('hostile-deep');
  let deep: unknown = 1;
  for (let i = 0; i < DEEP; i++) deep = [deep];
  channel.push('p0', { k: 'deep', v: deep }, { k: 'big', v: 10n }, { k: 'ok', v: 1 }).end();
  const plan = planFrom(
    `
name: hostile-letters
settings: { checkpoint: { interval: 0, dir: ./ckpt } }
sources:
  in: { type: memory, channel: hostile-deep }
steps:
  - { id: valid, type: validate, schema: { type: object, required: [k, v], properties: { v: { type: number } } } }
sinks:
  out: { type: file, path: ./out/results.jsonl }
dead_letter: { type: file, path: ./out/dead.jsonl }
`,
    dir,
    registry,
  );
  const job = await Job.create(plan, { registry, clock: new ManualClock(7), tickInterval: 5 });
  const { status, metrics: m } = await h.run(job);
  assert.equal(status, 'completed');
  assert.equal(m.deadLetters, 2);
  const letters = await readLines(join(dir, 'out/dead.jsonl'));
  assert.equal(letters.length, 2);
  assert.equal(typeof letters[0].payload, 'string');
  assert.ok(String(letters[0].payload).startsWith('{"k":"deep","v":[[[['));
  assert.match(String(letters[0].message), /payload written as JSON text/);
  assert.equal(letters[1].payload, '{"k":"big","v":"10"}');
  assert.deepEqual(await readLines(join(dir, 'out/results.jsonl')), [{ k: 'ok', v: 1 }]);
});

test('state a checkpoint cannot store fails the job naming the step and the path', async () => {
  const dir = await h.dir();
  const channel = memoryChannel('hostile-state');
  channel.push('p0', { k: 'a', ts: 1 }, { k: 'b', ts: 2 }).end();
  const { plan, functions } = pipeline('hostile-state', { checkpoint: { dir } })
    .from('in', sourceOf(memorySource)<{ k: string; ts: number }>({ channel: 'hostile-state' }))
    .keyBy('by-k', (r) => r.k)
    .process<{ seen: number; onDone?: () => void }, { k: string }>('remember', {
      processRecord(r, ctx) {
        ctx.setState(r.k === 'b' ? { seen: 1, onDone: () => undefined } : { seen: 1 });
      },
    })
    .to('out', sinkOf(memorySink)({ store: 'hostile-state-out' }))
    .build(dir);
  const job = await Job.create(plan, { registry, functions });
  await assert.rejects(h.run(job), (err: unknown) => {
    assert.ok(err instanceof SluiceError, String(err));
    assert.equal(err.code, 'CHECKPOINT_STATE_INVALID');
    assert.equal(err.step, 'remember');
    assert.match(err.message, /keyedState\.remember\.maps\.value.*\.onDone: it is a function/);
    return true;
  });
});
