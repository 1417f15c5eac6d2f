/**
 * Engine semantics across restarts, in process: checkpoint → crash → restore gives exactly the
 * output and counters of an uninterrupted run; a graceful stop takes a final checkpoint that
 * keeps the windows that have not fired, and a restarted job emits them.
 */

import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { SluiceError } from '../errors.ts';
import type { Row } from '../record.ts';
import { ManualClock, type MemoryChannel, memoryChannel, memorySinkStore } from '../testing/index.ts';
import {
  assertAccounting,
  assertSameMultiset,
  Harness,
  planFrom,
  testRegistry,
  waitFor,
} from './engine-test-support.ts';
import { Job } from './job.ts';
import type { JobMetrics } from './metrics.ts';

const registry = testRegistry();
const h = new Harness();
afterEach(() => h.stopAll());

/** Records of one partition with times in [from, to), at most 40 ms out of order. */
function records(seed: number, from: number, to: number): Row[] {
  const out: Row[] = [];
  let x = seed;
  const next = () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
  for (let t = from; t < to - 40; t += 9) {
    const r: Row = { k: ['a', 'b', 'c'][Math.floor(next() * 3)], ts: t + Math.floor(next() * 40) };
    r.v = Math.floor(next() * 100) - 10; // some negative: filtered out
    const d = Math.floor(next() * 20);
    if (d !== 19) r.d = d; // d = 0: division by zero; no d: a missing field
    out.push(r);
  }
  return out;
}

const pipeline = (name: string) => `
name: ${name}
settings: { checkpoint: { interval: 100ms, dir: ./ckpt } }
sources:
  in: { type: memory, channel: ${name}, event_time: { field: ts, max_out_of_orderness: 50ms } }
steps:
  - { id: ratio, type: map, fields: { r: v / d } }
  - { id: positive, type: filter, where: v >= 0 }
  - id: agg
    type: aggregate
    key: [k]
    window: { type: tumbling, size: 100ms }
    fields: { n: count(*), total: sum(v), first_ts: min(ts) }
    on_late: late_output
sinks:
  out: { type: memory, store: ${name}-out }
late_output: { type: memory, store: ${name}-late }
dead_letter: { type: memory, store: ${name}-dead }
`;

/** The input in phases; the crash run crashes after phase B and replays it after the restart. */
const phaseA1 = { p0: records(11, 0, 500), p1: records(12, 0, 500) };
const phaseA2 = {
  p0: [...records(13, 500, 1000), { k: 'a', ts: 5, v: 1, d: 1 }],
  p1: records(14, 500, 1000),
};
// ts 7 is behind the watermark of the checkpoint taken before phase B: late in every run.
const phaseB = {
  p0: records(15, 1000, 1500),
  p1: [...records(16, 1000, 1500), { k: 'b', ts: 7, v: 2, d: 1 }],
};
const phaseC = { p0: records(17, 1500, 2000), p1: records(18, 1500, 2000) };
const count = (phase: { p0: Row[]; p1: Row[] }) => phase.p0.length + phase.p1.length;

async function feed(channel: MemoryChannel, job: Job, phase: { p0: Row[]; p1: Row[] }): Promise<void> {
  const target = job.metrics().recordsIn + count(phase);
  for (let i = 0; i < Math.max(phase.p0.length, phase.p1.length); i += 10) {
    channel.push('p0', ...phase.p0.slice(i, i + 10));
    channel.push('p1', ...phase.p1.slice(i, i + 10));
  }
  await waitFor(`${target} records read`, () => job.metrics().recordsIn === target);
}

/** Metrics without the fields that depend on when checkpoints ran. */
function counters(m: JobMetrics) {
  const { lastCheckpointAt: _at, lastCheckpointId: _id, ...rest } = m;
  return rest;
}

/** Phases A1 and A2, a periodic checkpoint between them and an explicit one after. */
async function runUpToCheckpoint(name: string, dir: string, clock: ManualClock) {
  const channel = memoryChannel(name, ['p0', 'p1']);
  const plan = planFrom(pipeline(name), dir, registry);
  const job = await Job.create(plan, { registry, clock, tickInterval: 2 });
  const running = h.run(job);
  await feed(channel, job, phaseA1);
  clock.advance(100);
  await waitFor('the periodic checkpoint', () => job.metrics().lastCheckpointId === 1);
  await feed(channel, job, phaseA2);
  await job.checkpoint();
  assert.equal(job.metrics().lastCheckpointId, 2);
  return { channel, plan, job, running };
}

describe('checkpoint → crash → restore', () => {
  test('gives exactly the output and counters of an uninterrupted run', async () => {
    // The uninterrupted run.
    const whole = await runUpToCheckpoint('whole', await h.dir(), new ManualClock(0));
    await feed(whole.channel, whole.job, phaseB);
    // In place of the other run's crash marker, so that record offsets (entry:index) match.
    whole.channel.push('p0');
    await feed(whole.channel, whole.job, phaseC);
    whole.channel.end();
    const expected = await whole.running;
    assert.equal(expected.status, 'completed');

    // The same input, with a crash after phase B.
    const dir = await h.dir();
    const clock = new ManualClock(0);
    const first = await runUpToCheckpoint('crashy', dir, clock);
    const out = memorySinkStore('crashy-out');
    const atCheckpoint = out.committed.length;
    assert.ok(atCheckpoint > 0);
    await feed(first.channel, first.job, phaseB);
    await waitFor('results of phase B', () => out.pending.length > 0);
    first.channel.crash('p0');
    await assert.rejects(first.running, (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'INTERNAL');
      assert.match(err.message, /simulated crash/);
      return true;
    });
    assert.equal(out.committed.length, atCheckpoint, 'only what checkpoint 2 committed survived');

    // A new job on the same plan and checkpoint directory resumes from checkpoint 2.
    const second = await Job.create(first.plan, { registry, clock, tickInterval: 2 });
    assert.deepEqual(out.pending, [], 'the restart discarded what was written after the checkpoint');
    const restored = second.metrics();
    assert.equal(restored.recordsIn, count(phaseA1) + count(phaseA2));
    assertAccounting(restored, 'agg');
    const running = h.run(second);
    await waitFor(
      'phase B replayed',
      () => second.metrics().recordsIn === restored.recordsIn + count(phaseB),
    );
    await feed(first.channel, second, phaseC);
    first.channel.end();
    const result = await running;
    assert.equal(result.status, 'completed');

    const outputs = (name: string) =>
      ['out', 'late', 'dead'].map((s) => memorySinkStore(`${name}-${s}`).committed);
    const [wantOut, wantLate, wantDead] = outputs('whole');
    const [gotOut, gotLate, gotDead] = outputs('crashy');
    assert.ok(wantOut.length > 50 && wantDead.length > 10);
    assert.deepEqual(
      wantLate.map((r) => r.ts),
      [5, 7],
    );
    assertSameMultiset(gotOut, wantOut, 'results');
    assertSameMultiset(gotLate, wantLate, 'late output');
    assertSameMultiset(gotDead, wantDead, 'dead letters');
    assert.deepEqual([...new Set(wantDead.map((d) => d.code))].sort(), [
      'EXPR_DIVISION_BY_ZERO',
      'EXPR_MISSING_FIELD',
    ]);
    assert.deepEqual(counters(result.metrics), counters(expected.metrics));
    assert.equal(result.metrics.recordsIn, count(phaseA1) + count(phaseA2) + count(phaseB) + count(phaseC));
    assertAccounting(result.metrics, 'agg');
  });
});

describe('graceful stop', () => {
  test('stopping takes a final checkpoint that keeps unfired windows; a restarted job emits them', async () => {
    const dir = await h.dir();
    const channel = memoryChannel('stop', ['p0', 'p1']);
    const plan = planFrom(
      `
name: stop
settings: { checkpoint: { interval: 0, dir: ./ckpt } }
sources:
  in: { type: memory, channel: stop, event_time: { field: ts } }
steps:
  - { id: agg, type: aggregate, key: [k], window: { type: tumbling, size: 100ms }, fields: { n: count(*), total: sum(v) } }
sinks:
  out: { type: memory, store: stop }
`,
      dir,
      registry,
    );
    const store = memorySinkStore('stop');
    const clock = new ManualClock(0);
    const start = async () => {
      const abort = new AbortController();
      const job = await Job.create(plan, { registry, clock, tickInterval: 2, signal: abort.signal });
      return { job, abort, running: h.run(job) };
    };

    // Run 1, stopped through its abort signal with [400, 500) open.
    const one = await start();
    channel.push('p0', { k: 'a', ts: 10, v: 1 }, { k: 'a', ts: 120, v: 2 }, { k: 'b', ts: 250, v: 4 });
    channel.push('p1', { k: 'b', ts: 30, v: 8 }, { k: 'a', ts: 260, v: 16 }, { k: 'b', ts: 470, v: 32 });
    channel.push('p0', { k: 'a', ts: 480, v: 64 });
    await waitFor('[200, 300) to fire', () => store.pending.length === 5);
    one.abort.abort();
    const stopped = await one.running;
    assert.equal(stopped.status, 'stopped');
    assert.equal(stopped.metrics.lastCheckpointId, 1);
    assert.equal(store.closed, true);
    assert.deepEqual(await readdir(join(dir, 'ckpt', 'stop')), ['chk-00000000000000000001.ckpt']);
    const fired = [
      { k: 'a', window_start: 0, window_end: 100, n: 1, total: 1 },
      { k: 'b', window_start: 0, window_end: 100, n: 1, total: 8 },
      { k: 'a', window_start: 100, window_end: 200, n: 1, total: 2 },
      { k: 'b', window_start: 200, window_end: 300, n: 1, total: 4 },
      { k: 'a', window_start: 200, window_end: 300, n: 1, total: 16 },
    ];
    assertSameMultiset(store.committed, fired, 'the final checkpoint committed what fired');

    // Run 2 resumes from that checkpoint, reads one more record and is stopped with stop().
    const two = await start();
    assert.equal(two.job.metrics().recordsIn, 7);
    channel.push('p1', { k: 'a', ts: 490, v: 128 });
    await waitFor('the record after the restart', () => two.job.metrics().recordsIn === 8);
    two.job.stop();
    assert.equal((await two.running).status, 'stopped');
    assert.equal(store.committed.length, 5, 'nothing fired: [400, 500) is still open');

    // Run 3: the input ends; the windows kept through two stops fire, once.
    const three = await start();
    channel.end();
    const done = await three.running;
    assert.equal(done.status, 'completed');
    assertSameMultiset(store.committed, [
      ...fired,
      { k: 'a', window_start: 400, window_end: 500, n: 2, total: 64 + 128 },
      { k: 'b', window_start: 400, window_end: 500, n: 1, total: 32 },
    ]);
    assert.equal(done.metrics.recordsIn, 8);
    assertAccounting(done.metrics, 'agg');
  });
});
