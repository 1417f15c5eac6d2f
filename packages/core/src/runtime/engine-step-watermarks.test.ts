/**
 * Engine semantics: each step follows the watermark of the sources upstream of it, not one
 * clock for the whole job. A quiet source holds back only the steps it feeds; a step with
 * several inputs meets each record at the minimum of its inputs' watermarks.
 */

import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { ManualClock, memoryChannel, memorySinkStore } from '../testing/index.ts';
import { assertAccounting, Harness, planFrom, sleep, testRegistry, waitFor } from './engine-test-support.ts';
import { Job } from './job.ts';

const registry = testRegistry();
const h = new Harness();
afterEach(() => h.stopAll());

const window = 'window: { type: tumbling, size: 100ms }, fields: { n: count(*), lo: min(ts), hi: max(ts) }';

function twoSourcePlan(name: string, dir: string) {
  return planFrom(
    `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt }, idle_timeout: 1h }
sources:
  a: { type: memory, channel: ${name}-a, event_time: { field: ts } }
  b: { type: memory, channel: ${name}-b, event_time: { field: ts } }
steps:
  - { id: agg_a, type: aggregate, input: a, ${window} }
  - { id: agg_b, type: aggregate, input: b, ${window} }
  - { id: both, type: union, input: [a, b] }
  - { id: agg_both, type: aggregate, input: both, ${window} }
sinks:
  out_a: { type: memory, store: ${name}-a, input: agg_a }
  out_b: { type: memory, store: ${name}-b, input: agg_b }
  out_both: { type: memory, store: ${name}-both, input: agg_both }
late_output: { type: memory, store: ${name}-late }
`,
    dir,
    registry,
  );
}

test('a quiet source holds back only the steps it feeds', async () => {
  const a = memoryChannel('quiet-a');
  const b = memoryChannel('quiet-b');
  const job = await Job.create(twoSourcePlan('quiet', await h.dir()), {
    registry,
    clock: new ManualClock(0),
    tickInterval: 2,
  });
  const running = h.run(job);
  const read = (n: number) => waitFor(`${n} records read`, () => job.metrics().recordsIn === n);
  b.push('p0', { ts: 20 });
  await read(1);
  a.push('p0', { ts: 10 });
  a.push('p0', { ts: 150 });
  await read(3);
  // a's own window [0, 100) fires at a's watermark 149; b (at 19, not idle) holds back the union.
  await waitFor('agg_a to fire [0, 100)', () => memorySinkStore('quiet-a').pending.length === 1);
  await sleep(50);
  assert.deepEqual(memorySinkStore('quiet-a').pending, [
    { window_start: 0, window_end: 100, n: 1, lo: 10, hi: 10 },
  ]);
  assert.deepEqual(memorySinkStore('quiet-b').pending, []);
  assert.deepEqual(memorySinkStore('quiet-both').pending, []);
  assert.equal(job.metrics().watermark, 19, 'the pipeline watermark is the minimum over its sources');

  a.end();
  b.end();
  const result = await running;
  assert.equal(result.status, 'completed');
  assertAccounting(result.metrics);
  assert.deepEqual(memorySinkStore('quiet-both').committed, [
    { window_start: 0, window_end: 100, n: 2, lo: 10, hi: 20 },
    { window_start: 100, window_end: 200, n: 1, lo: 150, hi: 150 },
  ]);
});

for (const shape of ['one batch', 'a batch each'] as const) {
  test(`a step with two inputs meets each record at the lesser of their watermarks (${shape})`, async () => {
    const name = shape === 'one batch' ? 'min1' : 'min3';
    const a = memoryChannel(`${name}-a`);
    const b = memoryChannel(`${name}-b`);
    const job = await Job.create(twoSourcePlan(name, await h.dir()), {
      registry,
      clock: new ManualClock(0),
      tickInterval: 2,
    });
    const running = h.run(job);
    const read = (n: number) => waitFor(`${n} records read`, () => job.metrics().recordsIn === n);
    b.push('p0', { ts: 50 });
    await read(1);
    // 120 comes after 300: a's watermark is 299 by then, so a's own window [100, 200) has
    // closed; the union waits for b, whose watermark is 49.
    const records = [{ ts: 10 }, { ts: 300 }, { ts: 120 }];
    if (shape === 'one batch') a.push('p0', ...records);
    else for (const r of records) a.push('p0', r);
    await read(4);
    a.end();
    b.end();
    const result = await running;
    assert.equal(result.status, 'completed');
    assert.deepEqual(
      memorySinkStore(`${name}-late`).committed.map((r) => r.ts),
      [120],
      'late for a alone',
    );
    assert.equal(result.metrics.steps.agg_a.late, 1);
    assert.equal(result.metrics.steps.agg_both.late, 0);
    assert.deepEqual(memorySinkStore(`${name}-both`).committed, [
      { window_start: 0, window_end: 100, n: 2, lo: 10, hi: 50 },
      { window_start: 100, window_end: 200, n: 1, lo: 120, hi: 120 },
      { window_start: 300, window_end: 400, n: 1, lo: 300, hi: 300 },
    ]);
  });
}

test('a source that has ended lets the steps it alone feeds finish while others run', async () => {
  const a = memoryChannel('ended-a');
  const b = memoryChannel('ended-b');
  const job = await Job.create(twoSourcePlan('ended', await h.dir()), {
    registry,
    clock: new ManualClock(0),
    tickInterval: 2,
  });
  const running = h.run(job);
  a.push('p0', { ts: 10 });
  b.push('p0', { ts: 20 });
  await waitFor('2 records read', () => job.metrics().recordsIn === 2);
  a.end();
  await waitFor('agg_a to fire at the end of a', () => memorySinkStore('ended-a').pending.length === 1);
  assert.deepEqual(memorySinkStore('ended-b').pending, []);
  assert.deepEqual(memorySinkStore('ended-both').pending, []);
  b.end();
  assert.equal((await running).status, 'completed');
  assert.equal(memorySinkStore('ended-both').committed.length, 1);
});

test('a union of two branches of one source decides lateness as if records came one at a time', async () => {
  // One source split by type and merged again: with large batches, the first branch's records
  // would move the window past records of the second that came earlier in the source.
  const records: { kind: string; ts: number }[] = [];
  for (let i = 0; i < 400; i++) {
    const t = 1_000 * i + (i % 7 === 0 ? -4_500 : 0);
    records.push({ kind: i % 3 === 0 ? 'x' : 'y', ts: t });
  }
  const outputs: unknown[] = [];
  for (const batchSize of [1, 1024]) {
    const name = `diamond-${batchSize}`;
    const channel = memoryChannel(name);
    const plan = planFrom(
      `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt }, batch_size: ${batchSize} }
sources:
  in: { type: memory, channel: ${name}, event_time: { field: ts, max_out_of_orderness: 2s } }
steps:
  - { id: xs, type: filter, input: in, where: "kind = 'x'" }
  - { id: ys, type: filter, input: in, where: "kind = 'y'" }
  - { id: both, type: union, input: [xs, ys] }
  - { id: agg, type: aggregate, input: both, window: { type: tumbling, size: 5s }, fields: { n: count(*) } }
sinks:
  out: { type: memory, store: ${name}, input: agg }
late_output: { type: memory, store: ${name}-late }
`,
      await h.dir(),
      registry,
    );
    const running = h.run(await Job.create(plan, { registry, clock: new ManualClock(0), tickInterval: 5 }));
    channel.push('p0', ...records);
    channel.end();
    assert.equal((await running).status, 'completed');
    outputs.push({
      out: memorySinkStore(name).committed,
      late: memorySinkStore(`${name}-late`).committed,
    });
  }
  const [one, many] = outputs as { out: unknown[]; late: unknown[] }[];
  assert.ok(one.late.length > 10, `late records (${one.late.length})`);
  assert.deepEqual(many, one);
});

test('a join of two branches of one source meets their records in the source’s order, whatever the batching', async () => {
  // Without event time there are no watermarks to merge by: the order of the source decides.
  // An outer regular join's changelog depends on it (a row inserted padded with NULL, then
  // deleted when its match comes), so each batching must give the changelog one record at a
  // time gives.
  const records: { side: string; k: number; v: number }[] = [];
  for (let i = 0; i < 300; i++) records.push({ side: (i * 7) % 3 === 0 ? 'l' : 'r', k: (i * 13) % 17, v: i });
  const outputs: unknown[] = [];
  for (const batchSize of [1, 7, 1024]) {
    const name = `diamond-join-${batchSize}`;
    const channel = memoryChannel(name);
    const plan = planFrom(
      `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt }, batch_size: ${batchSize} }
sources:
  in: { type: memory, channel: ${name} }
steps:
  - { id: ls, type: filter, input: in, where: "side = 'l'" }
  - { id: rs, type: filter, input: in, where: "side = 'r'" }
  - { id: j, type: join, input: [ls, rs], on: ls.k = rs.k, kind: full, fields: { k: "coalesce(ls.k, rs.k)", l: ls.v, r: rs.v } }
sinks:
  out: { type: memory, store: ${name}, input: j, changelog: true }
`,
      await h.dir(),
      registry,
    );
    const running = h.run(await Job.create(plan, { registry, clock: new ManualClock(0), tickInterval: 5 }));
    channel.push('p0', ...records);
    channel.end();
    assert.equal((await running).status, 'completed');
    outputs.push(memorySinkStore(name).written.map(({ record, kind }) => [kind, record]));
  }
  const [one, seven, many] = outputs;
  assert.ok((one as unknown[]).length > 300);
  assert.deepEqual(seven, one);
  assert.deepEqual(many, one);
});
