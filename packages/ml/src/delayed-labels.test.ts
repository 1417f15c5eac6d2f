import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Row } from '@sluice/core';
import { FeatureSpec } from './features.ts';
import { Learner } from './learner.ts';
import { transactions, uniform } from './synthetic-test-data.ts';
import { runTwoInputs } from './test-support.ts';

const HORIZON = 300;

/** Transactions every 10 ms with an id; their labels 5–400 ms later (some beyond the horizon), in time order. */
function data(n: number): { features: Row[]; labels: Row[] } {
  const random = uniform(17);
  const features: Row[] = transactions(3, n).map((r, i) => {
    const { is_fraud: _, ...rest } = r;
    return { ...rest, ts: i * 10, txn: `t${i}` };
  });
  const labels: Row[] = transactions(3, n)
    .map((r, i) => ({ ts: i * 10 + 5 + Math.floor(random() * 400), txn: `t${i}`, is_fraud: r.is_fraud }))
    .sort((a, b) => a.ts - b.ts);
  // A label with an id never seen, and a bad feature record.
  labels.splice(50, 0, { ts: labels[50].ts, txn: 'nobody', is_fraud: true });
  features[7] = { ...features[7], amount: 'n/a' };
  return { features, labels };
}

const FEATURES = [
  { numeric: 'amount' },
  { numeric: 'hour' },
  { one_hot: 'country', max_categories: 6 },
] as const;

const STEPS = (key = '') => `
  - id: scored
    type: learn_predict
    input: [features, labels]
    model: { type: logistic_regression, optimizer: adam, learning_rate: 0.02 }
    features: [{ numeric: amount }, { numeric: hour }, { one_hot: country, max_categories: 6 }]
    label: is_fraud
    labels: { id: txn, horizon: ${HORIZON}ms }${key}`;

/** The same in plain code: all records in (time, features first, arrival) order. */
function expected(
  features: readonly Row[],
  labels: readonly Row[],
  key?: string,
): { out: Row[]; late: number } {
  const spec = new FeatureSpec(FEATURES as never);
  const learners = new Map<string, Learner>();
  const held = new Map<string, { ts: number; k: string; row: Row }>();
  const events = [
    ...features.filter((r) => typeof r.amount === 'number').map((r, i) => ({ r, input: 0, i })),
    ...labels.map((r, i) => ({ r, input: 1, i })),
  ].sort((a, b) => Number(a.r.ts) - Number(b.r.ts) || a.input - b.input || a.i - b.i);
  const out: Row[] = [];
  let late = 0;
  for (const { r, input } of events) {
    if (input === 0) {
      const k = key === undefined ? '' : String(r[key]);
      if (!learners.has(k))
        learners.set(
          k,
          Learner.create({ type: 'logistic_regression', optimizer: 'adam', learning_rate: 0.02 }, spec),
        );
      const learner = learners.get(k)!;
      const p = learner.predict(learner.encode(r, false));
      out.push({ ...r, prediction: p.value, score: p.score });
      held.set(String(r.txn), { ts: Number(r.ts), k, row: r });
    } else {
      const h = held.get(String(r.txn));
      if (h === undefined || Number(r.ts) > h.ts + HORIZON) {
        late++;
        continue;
      }
      held.delete(String(r.txn));
      const learner = learners.get(h.k)!;
      learner.learn(learner.encode(h.row, true), r.is_fraud ? 1 : 0);
    }
  }
  return { out, late };
}

describe('learn_predict with delayed labels', () => {
  const { features, labels } = data(2000);
  const want = expected(features, labels);

  test('predicts each record, learns when its label comes within the horizon: equal to the plain loop', async () => {
    assert.ok(want.late > 100 && want.late < 1000, `late labels ${want.late}`);
    // The model learned: later predictions differ from the first ones.
    assert.ok(new Set(want.out.slice(1500).map((r) => r.score)).size > 100);
    for (const [batch, order] of [
      [1, 'interleaved'],
      [64, 'features-first'],
      [500, 'labels-first'],
    ] as const) {
      const run = await runTwoInputs(STEPS(), features, labels, batch, order, undefined, 'scored');
      assert.deepEqual(run.results, want.out, `batch ${batch}, ${order}`);
      assert.equal(run.late.length, want.late, `batch ${batch}, ${order}: late labels`);
      assert.equal(run.dead.length, 1);
      assert.match(String(run.dead[0].message), /'amount' holds "n\/a"/);
    }
  });

  test('a checkpoint, a crash and a restore give the straight run', async () => {
    const run = await runTwoInputs(
      STEPS(),
      features,
      labels,
      50,
      'interleaved',
      { checkpointAt: 700, crashAt: 1300 },
      'scored',
    );
    assert.deepEqual(run.results, want.out);
    assert.equal(run.late.length, want.late);
  });

  test('a model per key', async () => {
    const keyed = expected(features, labels, 'card');
    assert.notDeepEqual(keyed.out, want.out, 'the per-card models differ from the one model');
    const run = await runTwoInputs(
      STEPS('\n    key: [card]'),
      features,
      labels,
      100,
      'interleaved',
      undefined,
      'scored',
    );
    assert.deepEqual(run.results, keyed.out);
  });
});

describe('delayed labels: configuration', () => {
  test('a second input without labels, and labels with one input, are refused', async () => {
    const { features, labels } = data(60);
    await assert.rejects(
      runTwoInputs(
        STEPS().replace(/\n {4}labels: .*/, ''),
        features,
        labels,
        10,
        'interleaved',
        undefined,
        'scored',
      ),
      /reads a second input only with `labels`/,
    );
    await assert.rejects(
      runTwoInputs(
        `${STEPS().replace('input: [features, labels]', 'input: features')}
  - { id: other, type: filter, input: labels, where: 'true' }`,
        features,
        labels,
        10,
        'interleaved',
        undefined,
        'scored',
      ),
      /with `labels`, learn_predict reads two inputs/,
    );
  });
});
