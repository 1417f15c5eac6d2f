/**
 * The `aggregate` step with fields that are expressions over aggregate calls
 * (`round(sum(x), 2)`, `sum(a) / count(*)`): results, field order, failures as NULL with one
 * warning, compile-time errors, and checkpoint → restore.
 */

import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { Logger } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import type { Operator } from '../operator.ts';
import type { Row } from '../record.ts';
import { Harness, planFrom, testRegistry } from '../runtime/engine-test-support.ts';
import { Job } from '../runtime/job.ts';
import { ManualClock, memoryChannel, memorySinkStore } from '../testing/index.ts';
import { batchOf, CollectingOutput, roundTrip } from '../window/test-support.ts';
import { aggregateStep } from './aggregate-step.ts';
import { createStep } from './step-test-support.ts';

/** A logger that keeps its warnings. */
function recordingLogger(): Logger & { warnings: { message: string; fields?: { [k: string]: unknown } }[] } {
  const warnings: { message: string; fields?: { [k: string]: unknown } }[] = [];
  return {
    warnings,
    debug() {},
    info() {},
    warn: (message, fields) => warnings.push({ message, fields }),
    error() {},
  };
}

/** Creates an aggregate step `agg` over tumbling 10 ms event-time windows. */
function step(fields: { [name: string]: string }, key?: string[]): Operator {
  return createStep(
    aggregateStep,
    {
      ...(key ? { key } : {}),
      window: { type: 'tumbling', size: '10ms' },
      time: 'event',
      fields,
      allowed_lateness: '0s',
      on_late: 'late_output',
    },
    { id: 'agg', baseDir: '.', clock: new ManualClock(0), functions: new Map() },
  );
}

function openStep(op: Operator, options: { restored?: unknown; log?: Logger } = {}): void {
  op.open?.({
    stepId: 'agg',
    restored: options.restored,
    clock: new ManualClock(0),
    watermark: () => Number.NEGATIVE_INFINITY,
    ...(options.log ? { log: options.log } : {}),
  });
}

/** Runs `records` (with their times) through a fresh step and fires every window. */
function run(fields: { [name: string]: string }, records: Row[], times: number[], key?: string[]): Row[] {
  const op = step(fields, key);
  openStep(op);
  const out = new CollectingOutput();
  op.processBatch(batchOf(records, times), out);
  op.onWatermark!(Number.POSITIVE_INFINITY, out);
  assert.deepEqual(out.dead, []);
  return out.take();
}

function planError(fields: { [name: string]: string }, key?: string[]): SluiceError {
  try {
    step(fields, key);
  } catch (err) {
    assert.ok(err instanceof SluiceError);
    return err;
  }
  assert.fail('expected a plan error');
}

describe('aggregate step: expressions over aggregate calls', () => {
  it('round(sum(x), 2)', () => {
    const results = run({ total: 'round(sum(x), 2)' }, [{ x: 1.234 }, { x: 2.001 }, { x: 5 }], [1, 2, 15]);
    assert.deepEqual(results, [
      { window_start: 0, window_end: 10, total: 3.24 },
      { window_start: 10, window_end: 20, total: 5 },
    ]);
  });

  it('sum(a) / count(*) and max(x) - min(x)', () => {
    const results = run(
      { mean: 'sum(a) / count(*)', spread: 'max(a) - min(a)' },
      [{ a: 2 }, { a: 9 }, { a: 4 }],
      [1, 2, 3],
    );
    assert.deepEqual(results, [{ window_start: 0, window_end: 10, mean: 5, spread: 7 }]);
  });

  it('reads key fields and window bounds outside the aggregate calls', () => {
    const results = run(
      { label: "region || ':' || CAST(count(*) AS STRING)", last_ms: 'window_end - 1 - max(ts)' },
      [
        { region: 'eu', ts: 3 },
        { region: 'us', ts: 4 },
        { region: 'eu', ts: 7 },
      ],
      [3, 4, 7],
      ['region'],
    );
    assert.deepEqual(results, [
      { region: 'eu', window_start: 0, window_end: 10, label: 'eu:2', last_ms: 2 },
      { region: 'us', window_start: 0, window_end: 10, label: 'us:1', last_ms: 5 },
    ]);
  });

  it('keeps the declared fields in their order, without the hidden aggregates', () => {
    const results = run(
      { n: 'count(*)', avg2: 'round(avg(v), 2)', total: 'sum(v)', double: '2 * sum(v)' },
      [
        { k: null, v: 1 },
        { k: null, v: 2 },
      ],
      [1, 2],
      ['k'],
    );
    assert.equal(results.length, 1);
    assert.deepEqual(Object.keys(results[0]), [
      'k',
      'window_start',
      'window_end',
      'n',
      'avg2',
      'total',
      'double',
    ]);
    assert.deepEqual(results[0], {
      k: null,
      window_start: 0,
      window_end: 10,
      n: 2,
      avg2: 1.5,
      total: 3,
      double: 6,
    });
  });

  it('two derived fields may share one aggregate call', () => {
    const op = step({ plus: 'sum(v) + 1', minus: 'sum(v) - 1', ratio: 'sum(v) / count(*)' });
    openStep(op);
    const snapshot = roundTrip(op.snapshot!()) as { shape: string };
    // one hidden sum and one hidden count: the shared call is aggregated once
    assert.match(snapshot.shape, /"fields":\[\["\$agg0","sum"\],\["\$agg1","count"\]\]/);
    const out = new CollectingOutput();
    op.processBatch(batchOf([{ v: 4 }, { v: 6 }], [1, 2]), out);
    op.onWatermark!(Number.POSITIVE_INFINITY, out);
    assert.deepEqual(out.take(), [{ window_start: 0, window_end: 10, plus: 11, minus: 9, ratio: 5 }]);
  });

  it('a failing expression gives NULL and one warning per field, however many windows', () => {
    const op = step({ n: 'count(*)', per_item: 'sum(v) / sum(d)' });
    const log = recordingLogger();
    openStep(op, { log });
    const out = new CollectingOutput();
    const records: Row[] = [];
    const times: number[] = [];
    for (let w = 0; w < 20; w++) {
      records.push({ v: w, d: w % 2 === 0 ? 0 : 1 });
      times.push(w * 10 + 1);
    }
    op.processBatch(batchOf(records, times), out);
    op.onWatermark!(Number.POSITIVE_INFINITY, out);
    const results = out.take();
    assert.equal(results.length, 20);
    for (const [w, r] of results.entries()) {
      assert.deepEqual(r, {
        window_start: w * 10,
        window_end: w * 10 + 10,
        n: 1,
        per_item: w % 2 === 0 ? null : w,
      });
    }
    assert.equal(log.warnings.length, 1);
    const [warning] = log.warnings;
    assert.match(warning.message, /step 'agg'/);
    assert.match(warning.message, /field 'per_item'/);
    assert.match(warning.message, /division by zero/);
    assert.equal(warning.fields?.field, 'per_item');
  });

  it('rejects an aggregate call nested in another', () => {
    const err = planError({ bad: 'round(sum(count(x)), 2)' });
    assert.equal(err.code, 'PLAN_TYPE_ERROR');
    assert.equal(err.path, 'fields.bad');
    assert.match(
      err.message,
      /count\(x\) is inside another aggregate call, sum\(\); aggregate calls cannot be nested/,
    );
    assert.equal(planError({ bad: 'sum(count(x))' }).code, 'PLAN_TYPE_ERROR');
  });

  it('rejects a field outside the aggregate calls that is not a key field, naming it', () => {
    const err = planError({ bad: 'sum(amount) / price' }, ['region']);
    assert.equal(err.code, 'PLAN_TYPE_ERROR');
    assert.equal(err.step, 'agg');
    assert.equal(err.path, 'fields.bad');
    assert.match(err.message, /reads field 'price' outside an aggregate call/);
    assert.match(err.message, /first\(price\)/);
    assert.match(err.message, /`key`/);
  });

  it('still rejects an expression without an aggregate call', () => {
    for (const text of ['amount * 2', 'window_end', 'round(1.5)']) {
      const err = planError({ bad: text }, ['amount']);
      assert.equal(err.code, 'PLAN_TYPE_ERROR');
      assert.equal(err.path, 'fields.bad');
      assert.match(err.message, /is not an aggregate call/);
    }
  });

  it('hidden aggregate names never clash with key fields', () => {
    const results = run({ n: 'count(*) + 0' }, [{ $agg0: 'x' }], [1], ['"$agg0"']);
    assert.deepEqual(results, [{ $agg0: 'x', window_start: 0, window_end: 10, n: 1 }]);
  });

  it('checkpoint → restore gives the results of an uninterrupted run', () => {
    const fields = { n: 'count(*)', mean: 'round(sum(v) / count(*), 1)', spread: 'max(v) - min(v)' };
    const records: Row[] = [];
    const times: number[] = [];
    for (let i = 0; i < 60; i++) {
      records.push({ k: ['a', 'b'][i % 2], v: (i * 7) % 11 });
      times.push(i * 2);
    }
    const half = 30;
    const uninterrupted = new CollectingOutput();
    const whole = step(fields, ['k']);
    openStep(whole);
    whole.processBatch(batchOf(records.slice(0, half), times.slice(0, half)), uninterrupted);
    whole.onWatermark!(40, uninterrupted);
    whole.processBatch(batchOf(records.slice(half), times.slice(half)), uninterrupted);
    whole.onWatermark!(Number.POSITIVE_INFINITY, uninterrupted);

    const restarted = new CollectingOutput();
    const first = step(fields, ['k']);
    openStep(first);
    first.processBatch(batchOf(records.slice(0, half), times.slice(0, half)), restarted);
    first.onWatermark!(40, restarted);
    const saved = roundTrip(first.snapshot!());
    const second = step(fields, ['k']);
    openStep(second, { restored: saved });
    second.processBatch(batchOf(records.slice(half), times.slice(half)), restarted);
    second.onWatermark!(Number.POSITIVE_INFINITY, restarted);

    assert.ok(uninterrupted.emitted.length > 10);
    assert.deepEqual(restarted.take(), uninterrupted.take());
  });

  it('a restore into a step with other aggregate calls is CHECKPOINT_INCOMPATIBLE', () => {
    const first = step({ mean: 'sum(v) / count(*)' });
    openStep(first);
    const saved = roundTrip(first.snapshot!());
    const second = step({ mean: 'sum(v) / max(v)' });
    assert.throws(
      () => openStep(second, { restored: saved }),
      (err: unknown) => err instanceof SluiceError && err.code === 'CHECKPOINT_INCOMPATIBLE',
    );
  });
});

describe('aggregate step with derived fields in a job', () => {
  const h = new Harness();
  afterEach(() => h.stopAll());

  it('logs the NULL warning through the job logger', async () => {
    const registry = testRegistry();
    const name = 'aggregate-expressions-job';
    const channel = memoryChannel(name, ['p0']);
    const plan = planFrom(
      `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt } }
sources:
  in: { type: memory, channel: ${name}, event_time: { field: ts, max_out_of_orderness: 0ms } }
steps:
  - id: agg
    type: aggregate
    key: [k]
    window: { type: tumbling, size: 10ms }
    fields: { n: count(*), ratio: sum(v) / sum(d) }
sinks:
  out: { type: memory, store: ${name} }
`,
      await h.dir(),
      registry,
    );
    const log = recordingLogger();
    const store = memorySinkStore(name);
    const job = await Job.create(plan, { registry, clock: new ManualClock(0), tickInterval: 5, log });
    const running = h.run(job);
    channel.push(
      'p0',
      { k: 'a', ts: 1, v: 3, d: 0 },
      { k: 'a', ts: 11, v: 3, d: 0 },
      { k: 'a', ts: 21, v: 6, d: 2 },
    );
    channel.end();
    await running;
    assert.deepEqual(store.committed, [
      { k: 'a', window_start: 0, window_end: 10, n: 1, ratio: null },
      { k: 'a', window_start: 10, window_end: 20, n: 1, ratio: null },
      { k: 'a', window_start: 20, window_end: 30, n: 1, ratio: 3 },
    ]);
    const warnings = log.warnings.filter((w) => w.fields?.step === 'agg');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0].message, /field 'ratio'/);
  });
});
