import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Batch, ManualClock, type Output, type Row, type SluiceError } from '@sluice/core';
import { FeatureSpec } from './features.ts';
import { ModelOperator } from './model-operator.ts';
import { transactions } from './synthetic-test-data.ts';

/** Collects what the operator emits and dead-letters. */
function collector(): Output & { rows: Row[]; dead: SluiceError[] } {
  const rows: Row[] = [];
  const dead: SluiceError[] = [];
  return {
    rows,
    dead,
    emit: (batch: Batch) => rows.push(...batch.records),
    deadLetter: (_batch: Batch, _i: number, error: SluiceError) => dead.push(error),
    late: () => {},
    filtered: () => {},
  };
}

const make = () =>
  new ModelOperator({
    stepId: 's',
    mode: 'learn_predict',
    model: { type: 'logistic_regression', optimizer: 'adam' },
    features: new FeatureSpec([
      { numeric: 'amount' },
      { one_hot: 'country' },
      { text: 'merchant', buckets: 16 },
    ]),
    label: 'is_fraud',
    key: ['card'],
    output: 'prediction',
    score: 'score',
    summaryEvery: 0,
  });

const open = (op: ModelOperator, restored?: unknown) =>
  op.open({ stepId: 's', restored, clock: new ManualClock(0), watermark: () => Number.NEGATIVE_INFINITY });

const batch = (rows: Row[]): Batch => ({ records: rows, times: rows.map((r) => Number(r.ts)) });

test('outside a job the operator keeps its learners in its own snapshot and resumes from it exactly', () => {
  const rows: Row[] = transactions(11, 1200);
  const straight = make();
  open(straight);
  const all = collector();
  straight.processBatch(batch(rows), all);

  const first = make();
  open(first);
  const before = collector();
  first.processBatch(batch(rows.slice(0, 500)), before);
  const snapshot = structuredClone(first.snapshot());
  const second = make();
  open(second, snapshot);
  const after = collector();
  second.processBatch(batch(rows.slice(500)), after);

  assert.deepEqual([...before.rows, ...after.rows], all.rows);
  assert.throws(() => open(make(), { version: 2 }), /not this step's model state/);
});
