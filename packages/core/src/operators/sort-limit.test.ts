/**
 * The `sort` and `limit` operators on their own: the same output whether the input comes in one
 * batch or is cut anywhere by a checkpoint and a restore, late and bad records where they belong.
 * (Through a real job at several batch sizes, against a plain loop: `packages/sql/src/order-limit.test.ts`.)
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Operator, OperatorContext } from '../operator.ts';
import type { Batch, Row } from '../record.ts';
import { systemClock } from '../time.ts';
import { CollectingOutput, roundTrip } from '../window/test-support.ts';
import { limitStep } from './limit.ts';
import { sortStep } from './sort.ts';
import { createStep } from './step-test-support.ts';

const context = (restored: unknown): OperatorContext => ({
  stepId: 's',
  restored,
  clock: systemClock,
  watermark: () => Number.NEGATIVE_INFINITY,
});

const batchOf = (rows: readonly Row[], watermarks?: readonly number[]): Batch => ({
  records: [...rows],
  times: rows.map((r) => r.ts as number),
  ...(watermarks ? { watermarks: [...watermarks] } : {}),
});

/** Runs `make()`'s operator over `rows` (a watermark of time - 1000 after each), restoring it from a checkpoint before row `cut`. */
function run(make: () => Operator, rows: readonly Row[], cut: number): CollectingOutput {
  const out = new CollectingOutput();
  let op = make();
  op.open?.(context(undefined));
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < rows.length; i++) {
    if (i === cut) {
      const saved = roundTrip(op.snapshot?.());
      op = make();
      op.open?.(context(saved));
    }
    op.processBatch(batchOf([rows[i]], [max - 1000]), out);
    max = Math.max(max, rows[i].ts as number);
  }
  op.onWatermark?.(Number.POSITIVE_INFINITY, out);
  return out;
}

const ROWS: Row[] = [
  { id: 1, ts: 5000, p: 3 },
  { id: 2, ts: 4500, p: 9 },
  { id: 3, ts: 3000, p: 1 }, // late: the watermark is 4000
  { id: 4, ts: 5000, p: 7 },
  { id: 6, ts: 5000, p: null },
  { id: 5, ts: 6000, p: 'x' }, // text where p gave numbers: a dead letter
  { id: 7, ts: 9000, p: 2 },
  { id: 8, ts: 4500, p: 9 }, // late: the watermark is 8000
];

test('sort emits by time then its terms (NULL last, ties by arrival), late and mistyped rows aside, across any restore', () => {
  const make = () =>
    createStep(
      sortStep,
      { order_by: ['p DESC'] },
      { id: 's', baseDir: '.', clock: systemClock, functions: new Map() },
    );
  for (let cut = 0; cut <= ROWS.length; cut++) {
    const out = run(make, ROWS, cut);
    assert.deepEqual(
      out.emitted.map((e) => e.record.id),
      [2, 4, 1, 6, 7],
      `restored before row ${cut}`,
    );
    assert.deepEqual(
      out.lateRecords.map((l) => l.record.id),
      [3, 8],
    );
    assert.deepEqual(
      out.dead.map((d) => [d.record.id, d.error.code]),
      [[5, 'EXPR_EVAL']],
    );
  }
});

test('limit passes the first n rows and counts the rest as filtered, across any restore', () => {
  const make = () =>
    createStep(limitStep, { n: 3 }, { id: 'l', baseDir: '.', clock: systemClock, functions: new Map() });
  for (let cut = 0; cut <= ROWS.length; cut++) {
    const out = run(make, ROWS, cut);
    assert.deepEqual(
      out.emitted.map((e) => e.record.id),
      [1, 2, 3],
      `restored before row ${cut}`,
    );
    assert.equal(out.filteredCount, ROWS.length - 3);
  }
  const out = new CollectingOutput();
  const op = make();
  op.open?.(context(undefined));
  op.processBatch(batchOf(ROWS.slice(0, 2)), out);
  op.processBatch(batchOf(ROWS.slice(2)), out);
  assert.deepEqual(
    out.emitted.map((e) => e.record.id),
    [1, 2, 3],
    'a batch that crosses n is cut',
  );
});
