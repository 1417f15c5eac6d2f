import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { agg, batchOf, CollectingOutput, countStar, open } from './test-support.ts';
import { createWindowAggregate, type WindowAggregateConfig } from './window-aggregate.ts';

function tumbling(overrides: Partial<WindowAggregateConfig> = {}) {
  return createWindowAggregate({
    stepId: 'w',
    window: { type: 'tumbling', size: 10 },
    time: 'event',
    keyFields: ['k'],
    fields: [countStar('n'), agg('total', 'sum', 'v')],
    allowedLateness: 0,
    ...overrides,
  });
}

describe('window aggregate: hopping and cumulative', () => {
  it('hopping: a record counts in every window containing it, each fired once', () => {
    const op = tumbling({ window: { type: 'hopping', size: 10, slide: 5 }, keyFields: [] });
    const out = new CollectingOutput();
    open(op);
    op.processBatch(batchOf([{ v: 1 }, { v: 2 }, { v: 4 }], [3, 7, 12]), out);
    op.onWatermark!(9, out);
    assert.deepEqual(out.take(), [
      { window_start: -5, window_end: 5, n: 1, total: 1 },
      { window_start: 0, window_end: 10, n: 2, total: 3 },
    ]);
    op.onWatermark!(Number.POSITIVE_INFINITY, out);
    assert.deepEqual(out.take(), [
      { window_start: 5, window_end: 15, n: 2, total: 6 },
      { window_start: 10, window_end: 20, n: 1, total: 4 },
    ]);
  });

  it('hopping: a late record goes to its windows still within lateness only', () => {
    const op = tumbling({ window: { type: 'hopping', size: 10, slide: 5 }, keyFields: [] });
    const out = new CollectingOutput();
    open(op);
    op.processBatch(batchOf([{ v: 1 }], [12]), out);
    op.onWatermark!(9, out);
    op.processBatch(batchOf([{ v: 2 }], [7]), out);
    assert.equal(out.lateRecords.length, 0);
    op.onWatermark!(Number.POSITIVE_INFINITY, out);
    assert.deepEqual(out.take(), [
      { window_start: 5, window_end: 15, n: 2, total: 3 },
      { window_start: 10, window_end: 20, n: 1, total: 1 },
    ]);
  });

  it('cumulative: emits each growing window of the period, sharing its start', () => {
    const op = tumbling({ window: { type: 'cumulative', size: 30, step: 10 }, keyFields: [] });
    const out = new CollectingOutput();
    open(op);
    op.processBatch(batchOf([{ v: 1 }, { v: 2 }, { v: 4 }, { v: 8 }], [5, 15, 25, 31]), out);
    op.onWatermark!(19, out);
    assert.deepEqual(out.take(), [
      { window_start: 0, window_end: 10, n: 1, total: 1 },
      { window_start: 0, window_end: 20, n: 2, total: 3 },
    ]);
    op.onWatermark!(Number.POSITIVE_INFINITY, out);
    assert.deepEqual(out.take(), [
      { window_start: 0, window_end: 30, n: 3, total: 7 },
      { window_start: 30, window_end: 40, n: 1, total: 8 },
      { window_start: 30, window_end: 50, n: 1, total: 8 },
      { window_start: 30, window_end: 60, n: 1, total: 8 },
    ]);
  });
});

describe('window aggregate: processing time', () => {
  it('assigns by the clock at arrival, fires when now ≥ end, and fires the rest at close', () => {
    const op = tumbling({ time: 'processing' });
    const out = new CollectingOutput();
    const clock = open(op);
    clock.set(3);
    op.processBatch(
      batchOf(
        [
          { k: 'a', v: 1 },
          { k: 'b', v: 2 },
        ],
        [500, Number.NaN],
      ),
      out,
    );
    clock.set(12);
    op.processBatch(batchOf([{ k: 'a', v: 3 }], [0]), out);
    op.onWatermark!(Number.POSITIVE_INFINITY, out);
    op.onProcessingTime!(9, out);
    assert.deepEqual(out.take(), []);
    op.onProcessingTime!(10, out);
    assert.deepEqual(
      out.emitted.map((e) => e.time),
      [9, 9],
    );
    assert.deepEqual(out.take(), [
      { k: 'a', window_start: 0, window_end: 10, n: 1, total: 1 },
      { k: 'b', window_start: 0, window_end: 10, n: 1, total: 2 },
    ]);
    op.close!(out);
    assert.deepEqual(out.take(), [{ k: 'a', window_start: 10, window_end: 20, n: 1, total: 3 }]);
    assert.equal(out.lateRecords.length + out.dead.length, 0);
  });

  it('processing-time sessions close after a gap of processing time', () => {
    const op = tumbling({ time: 'processing', window: { type: 'session', gap: 5 } });
    const out = new CollectingOutput();
    const clock = open(op);
    for (const now of [0, 2, 6, 20]) {
      clock.set(now);
      op.processBatch(batchOf([{ k: 'a', v: now }], [0]), out);
    }
    op.onProcessingTime!(11, out);
    assert.deepEqual(out.take(), [{ k: 'a', window_start: 0, window_end: 11, n: 3, total: 8 }]);
    op.close!(out);
    assert.deepEqual(out.take(), [{ k: 'a', window_start: 20, window_end: 25, n: 1, total: 20 }]);
  });
});

describe('window aggregate: results', () => {
  it('emits results in batches of at most 1024, with event time window_end − 1', () => {
    const op = tumbling({ keyFields: ['k'] });
    const out = new CollectingOutput();
    open(op);
    const records = Array.from({ length: 2500 }, (_, i) => ({ k: i, v: 1 }));
    op.processBatch(
      batchOf(
        records,
        records.map(() => 4),
      ),
      out,
    );
    op.onWatermark!(Number.POSITIVE_INFINITY, out);
    assert.deepEqual(
      out.batches.map((b) => b.records.length),
      [1024, 1024, 452],
    );
    assert.ok(out.emitted.every((e) => e.time === 9 && e.key === undefined));
    assert.deepEqual(
      out.take().map((r) => r.k),
      records.map((r) => r.k),
    );
  });
});
