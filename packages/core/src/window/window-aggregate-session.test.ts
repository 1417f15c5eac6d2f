import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { agg, batchOf, CollectingOutput, countStar, open } from './test-support.ts';
import { createWindowAggregate } from './window-aggregate.ts';

function sessions(gap: number, allowedLateness = 0) {
  return createWindowAggregate({
    stepId: 'w',
    window: { type: 'session', gap },
    time: 'event',
    keyFields: ['k'],
    fields: [countStar('n'), agg('total', 'sum', 'v'), agg('first', 'first', 'v'), agg('last', 'last', 'v')],
    allowedLateness,
  });
}

function feed(op: ReturnType<typeof sessions>, out: CollectingOutput, rows: [string, number][]) {
  op.processBatch(
    batchOf(
      rows.map(([k], i) => ({ k, v: i + 1 })),
      rows.map(([, t]) => t),
    ),
    out,
  );
}

const short = (r: { [f: string]: unknown }) => [r.k, r.window_start, r.window_end, r.n];

/** The changes emitted since the last call, as [kind, key, start, end, n]. */
const changes = (out: CollectingOutput) => out.changes().map(([kind, r]) => [kind, ...short(r)]);

describe('window aggregate: sessions', () => {
  it('groups records closer than gap, per key, ending at last time + gap', () => {
    const op = sessions(10);
    const out = new CollectingOutput();
    open(op);
    feed(op, out, [
      ['a', 0],
      ['a', 5],
      ['b', 3],
      ['a', 30],
      ['a', 14],
    ]);
    op.onWatermark!(12, out);
    assert.deepEqual(out.take().map(short), [['b', 3, 13, 1]]);
    op.onWatermark!(23, out);
    assert.deepEqual(out.take(), [
      { k: 'a', window_start: 0, window_end: 24, n: 3, total: 8, first: 1, last: 5 },
    ]);
    op.onWatermark!(Number.POSITIVE_INFINITY, out);
    assert.deepEqual(out.take().map(short), [['a', 30, 40, 1]]);
  });

  it('keeps records exactly gap apart in separate sessions', () => {
    const op = sessions(10);
    const out = new CollectingOutput();
    open(op);
    feed(op, out, [
      ['a', 0],
      ['a', 10],
    ]);
    op.onWatermark!(Number.POSITIVE_INFINITY, out);
    assert.deepEqual(out.take().map(short), [
      ['a', 0, 10, 1],
      ['a', 10, 20, 1],
    ]);
  });

  it('merges two sessions when a record bridges them, with merged accumulators in time order', () => {
    const op = sessions(10);
    const out = new CollectingOutput();
    open(op);
    feed(op, out, [
      ['a', 15],
      ['a', 0],
      ['a', 40],
    ]);
    op.onWatermark!(5, out);
    feed(op, out, [['a', 8]]);
    op.onWatermark!(Number.POSITIVE_INFINITY, out);
    assert.deepEqual(out.take(), [
      { k: 'a', window_start: 0, window_end: 25, n: 3, total: 4, first: 2, last: 1 },
      { k: 'a', window_start: 40, window_end: 50, n: 1, total: 3, first: 3, last: 3 },
    ]);
  });

  it('merges three sessions at once and still fires each resulting session exactly once', () => {
    const op = sessions(4);
    const out = new CollectingOutput();
    open(op);
    feed(op, out, [
      ['a', 0],
      ['a', 6],
      ['a', 12],
      ['a', 30],
    ]);
    feed(op, out, [
      ['a', 3],
      ['a', 9],
    ]);
    op.onWatermark!(Number.POSITIVE_INFINITY, out);
    assert.deepEqual(out.take().map(short), [
      ['a', 0, 16, 5],
      ['a', 30, 34, 1],
    ]);
  });

  it('fires sessions of different keys in end order', () => {
    const op = sessions(10);
    const out = new CollectingOutput();
    open(op);
    feed(op, out, [
      ['x', 0],
      ['y', 2],
      ['z', 1],
      ['w', 1],
    ]);
    op.onWatermark!(Number.POSITIVE_INFINITY, out);
    assert.deepEqual(
      out.take().map((r) => r.k),
      ['x', 'z', 'w', 'y'],
    );
  });

  it('judges lateness on the merged session: an old record inside an open session is not late', () => {
    const op = sessions(10);
    const out = new CollectingOutput();
    open(op);
    feed(op, out, [
      ['a', 0],
      ['a', 8],
      ['a', 16],
      ['a', 24],
    ]);
    op.onWatermark!(20, out);
    feed(op, out, [
      ['a', 1],
      ['b', 1],
    ]);
    assert.deepEqual(
      out.lateRecords.map((l) => l.record.k),
      ['b'],
    );
    op.onWatermark!(Number.POSITIVE_INFINITY, out);
    assert.deepEqual(out.take().map(short), [['a', 0, 34, 5]]);
  });

  it('sends a record to late when its own window [t, t + gap) is past the watermark, with lateness 0', () => {
    const op = sessions(10);
    const out = new CollectingOutput();
    open(op);
    feed(op, out, [['a', 0]]);
    op.onWatermark!(20, out);
    feed(op, out, [['a', 5]]);
    assert.equal(out.lateRecords.length, 1);
    assert.deepEqual(out.take().map(short), [['a', 0, 10, 1]]);
  });

  it('opens a new session for a record behind the watermark whose own window is still open (as Flink)', () => {
    const op = sessions(10);
    const out = new CollectingOutput();
    open(op);
    feed(op, out, [['a', 0]]);
    op.onWatermark!(9, out);
    feed(op, out, [['a', 5]]);
    assert.equal(out.lateRecords.length, 0);
    op.onWatermark!(Number.POSITIVE_INFINITY, out);
    assert.deepEqual(out.take().map(short), [
      ['a', 0, 10, 1],
      ['a', 5, 15, 1],
    ]);
  });

  it('with allowed lateness, updates fired sessions, re-opens extended ones, and inserts late new ones', () => {
    const op = sessions(10, 20);
    const out = new CollectingOutput();
    open(op);
    feed(op, out, [
      ['a', 0],
      ['a', 4],
    ]);
    op.onWatermark!(14, out);
    assert.deepEqual(changes(out), [['+I', 'a', 0, 14, 2]]);
    feed(op, out, [['a', 3]]);
    assert.deepEqual(changes(out), [
      ['-U', 'a', 0, 14, 2],
      ['+U', 'a', 0, 14, 3],
    ]);
    // The session now ends past the watermark: its change waits until the watermark passes it.
    feed(op, out, [['a', 12]]);
    assert.deepEqual(changes(out), []);
    op.onWatermark!(21, out);
    assert.deepEqual(changes(out), [
      ['-U', 'a', 0, 14, 3],
      ['+U', 'a', 0, 22, 4],
    ]);
    feed(op, out, [['c', 5]]);
    assert.deepEqual(changes(out), [['+I', 'c', 5, 15, 1]]);
    op.onWatermark!(40, out);
    feed(op, out, [['a', 5]]);
    assert.deepEqual(changes(out), [
      ['-U', 'a', 0, 22, 4],
      ['+U', 'a', 0, 22, 5],
    ]);
    op.onWatermark!(41, out);
    feed(op, out, [['a', 5]]);
    assert.equal(out.lateRecords.length, 1);
    op.onWatermark!(Number.POSITIVE_INFINITY, out);
    assert.deepEqual(out.take(), []);
  });

  it('updates a fired session merged with an open one once the watermark passes the merged end', () => {
    const op = sessions(10, 100);
    const out = new CollectingOutput();
    open(op);
    feed(op, out, [
      ['a', 0],
      ['a', 18],
    ]);
    op.onWatermark!(15, out);
    assert.deepEqual(changes(out), [['+I', 'a', 0, 10, 1]]);
    feed(op, out, [['a', 9]]);
    assert.deepEqual(out.take(), []);
    op.onWatermark!(26, out);
    assert.deepEqual(out.take(), []);
    op.onWatermark!(27, out);
    assert.deepEqual(changes(out), [
      ['-U', 'a', 0, 10, 1],
      ['+U', 'a', 0, 28, 3],
    ]);
  });

  it('a late record merging fired sessions deletes those that disappear and updates the earliest', () => {
    const op = sessions(10, 100);
    const out = new CollectingOutput();
    open(op);
    feed(op, out, [
      ['a', 0],
      ['a', 12],
      ['a', 24],
      ['b', 1],
    ]);
    op.onWatermark!(40, out);
    assert.deepEqual(changes(out), [
      ['+I', 'a', 0, 10, 1],
      ['+I', 'b', 1, 11, 1],
      ['+I', 'a', 12, 22, 1],
      ['+I', 'a', 24, 34, 1],
    ]);
    // 9 bridges [0, 10) and [12, 22); 20 then bridges the result and [24, 34).
    feed(op, out, [
      ['a', 9],
      ['a', 20],
    ]);
    assert.deepEqual(changes(out), [
      ['-D', 'a', 12, 22, 1],
      ['-U', 'a', 0, 10, 1],
      ['+U', 'a', 0, 22, 3],
      ['-D', 'a', 24, 34, 1],
      ['-U', 'a', 0, 22, 3],
      ['+U', 'a', 0, 34, 5],
    ]);
    op.onWatermark!(Number.POSITIVE_INFINITY, out);
    assert.deepEqual(out.take(), []);
  });

  it('a late record merging a fired session into one it extended past the watermark changes both when it fires', () => {
    const op = sessions(10, 100);
    const out = new CollectingOutput();
    open(op);
    feed(op, out, [
      ['a', 0],
      ['a', 12],
    ]);
    op.onWatermark!(25, out);
    assert.deepEqual(changes(out), [
      ['+I', 'a', 0, 10, 1],
      ['+I', 'a', 12, 22, 1],
    ]);
    // 20 makes [12, 22) end at 30, past the watermark: no change yet. 9 then merges [0, 10) into it.
    feed(op, out, [
      ['a', 20],
      ['a', 9],
    ]);
    assert.deepEqual(changes(out), []);
    op.onWatermark!(28, out);
    assert.deepEqual(changes(out), []);
    op.onWatermark!(29, out);
    assert.deepEqual(changes(out), [
      ['-D', 'a', 12, 22, 1],
      ['-U', 'a', 0, 10, 1],
      ['+U', 'a', 0, 30, 4],
    ]);
  });
});
