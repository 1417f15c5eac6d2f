import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Row } from '@sluice/core';
import { transactions } from './synthetic-test-data.ts';
import { runSteps } from './test-support.ts';

const MINUTE = 60_000;

const scored = `
  - id: scored
    type: learn_predict
    input: in
    model: { type: logistic_regression, learning_rate: 0.05 }
    label: is_fraud
    features:
      - { numeric: amount }
      - { numeric: hour }
      - { one_hot: country }
      - { text: merchant, buckets: 64 }`;

const evaluated = `${scored}
  - id: metrics
    type: evaluate
    input: scored
    label: is_fraud
    window: 1m`;

/** Per one-minute window of `rows` (the scored records), the metrics computed here by definition. */
function expectedWindows(rows: readonly Row[]): Row[] {
  const windows = new Map<number, Row[]>();
  for (const r of rows) {
    const start = Math.floor(Number(r.ts) / MINUTE) * MINUTE;
    windows.set(start, [...(windows.get(start) ?? []), r]);
  }
  return [...windows].map(([start, rs]) => {
    const y = rs.map((r) => (r.is_fraud ? 1 : 0));
    const p = rs.map((r) => Number(r.score));
    let right = 0;
    let pairs = 0;
    for (let i = 0; i < rs.length; i++)
      for (let j = 0; j < rs.length; j++)
        if (y[i] === 1 && y[j] === 0) {
          pairs++;
          right += p[i] > p[j] ? 1 : p[i] === p[j] ? 0.5 : 0;
        }
    return {
      window_start: start,
      window_end: start + MINUTE,
      records: rs.length,
      accuracy: rs.filter((r) => r.prediction === r.is_fraud).length / rs.length,
      log_loss: -y.reduce((s: number, yi, i) => s + Math.log(yi ? p[i] : 1 - p[i]), 0) / rs.length,
      auc: pairs === 0 ? null : right / pairs,
    };
  });
}

function assertMetrics(actual: Row[], expected: Row[]) {
  assert.equal(actual.length, expected.length);
  actual.forEach((a, i) => {
    const e = expected[i];
    assert.deepEqual(
      { start: a.window_start, end: a.window_end, records: a.records, accuracy: a.accuracy },
      { start: e.window_start, end: e.window_end, records: e.records, accuracy: e.accuracy },
    );
    assert.ok(Math.abs(Number(a.log_loss) - Number(e.log_loss)) < 1e-12, `log-loss of window ${i}`);
    if (e.auc === null) assert.equal(a.auc, null);
    else assert.ok(Math.abs(Number(a.auc) - Number(e.auc)) < 1e-12, `AUC of window ${i}`);
  });
}

describe('evaluate', () => {
  const rows = transactions(3, 4000);

  test('emits per one-minute window the accuracy, log-loss and exact AUC of the predictions, whatever the batch size', async () => {
    const { results: predictions } = await runSteps(scored, rows, 1024, undefined, 'scored');
    const expected = expectedWindows(predictions);
    assert.ok(expected.length > 4, 'several windows');
    for (const batch of [1, 7, 1024]) {
      const { results } = await runSteps(evaluated, rows, batch, undefined, 'metrics');
      assertMetrics(results, expected);
    }
  });

  test('a record whose window has fired is late, not counted', async () => {
    const data: Row[] = rows.slice(0, 2000).map((r) => ({ ...r }));
    // Three minutes behind the records before it: its window fired long ago.
    data[1500] = { ...data[1500], ts: Number(data[1500].ts) - 180_000 };
    const { results, dead } = await runSteps(evaluated, data, 100, undefined, 'metrics');
    assert.equal(dead.length, 1);
    assert.equal(dead[0].code, 'LATE_RECORD');
    assert.equal(
      results.reduce((n, m) => n + Number(m.records), 0),
      data.length - 1,
    );
  });

  test('gives the same windows after a checkpoint, a crash and a restore', async () => {
    const straight = await runSteps(evaluated, rows, 50, undefined, 'metrics');
    const restored = await runSteps(evaluated, rows, 50, { checkpointAt: 1234, crashAt: 2345 }, 'metrics');
    assert.deepEqual(restored.results, straight.results);
  });

  test('regression: MAE and RMSE per window over the records that had a usable label', async () => {
    const data: Row[] = rows.slice(0, 1500).map((r) => ({ ...r }));
    data[5] = { ...data[5], amount: 'soon' };
    const steps = `
  - id: scored
    type: learn_predict
    input: in
    model: { type: linear_regression }
    label: amount
    features: [{ numeric: hour }, { one_hot: country }]
  - id: metrics
    type: evaluate
    input: scored
    task: regression
    label: amount
    window: 1m`;
    const { results: predictions } = await runSteps(steps, data, 100, undefined, 'scored');
    const { results, dead } = await runSteps(steps, data, 100, undefined, 'metrics');
    assert.equal(dead.length, 1);
    assert.match(String(dead[0].message), /'amount' holds "soon", not a finite number/);
    const windows = new Map<number, Row[]>();
    for (const r of predictions) {
      const start = Math.floor(Number(r.ts) / MINUTE) * MINUTE;
      windows.set(start, [...(windows.get(start) ?? []), r]);
    }
    assert.equal(results.length, windows.size);
    for (const r of results) {
      const rs = windows.get(Number(r.window_start))!;
      const errors = rs.map((x) => Number(x.prediction) - Number(x.amount));
      assert.ok(Math.abs(Number(r.mae) - errors.reduce((s, e) => s + Math.abs(e), 0) / rs.length) < 1e-9);
      assert.ok(
        Math.abs(Number(r.rmse) - Math.sqrt(errors.reduce((s, e) => s + e * e, 0) / rs.length)) < 1e-9,
      );
    }
  });
});

describe('evaluate with a key', () => {
  test('emits a result per key and window, with the key fields, in the order keys first appear', async () => {
    const rows = transactions(5, 2500);
    const keyed = `${scored}
  - id: metrics
    type: evaluate
    input: scored
    label: is_fraud
    key: [country]
    window: 1m`;
    const { results: predictions } = await runSteps(scored, rows, 1024, undefined, 'scored');
    const groups = new Map<string, Row[]>();
    for (const r of predictions) {
      const start = Math.floor(Number(r.ts) / MINUTE) * MINUTE;
      const id = `${start}|${r.country}`;
      groups.set(id, [...(groups.get(id) ?? []), r]);
    }
    for (const batch of [7, 1024]) {
      const { results } = await runSteps(keyed, rows, batch, undefined, 'metrics');
      assert.equal(results.length, groups.size);
      assert.deepEqual(
        results.map((r) => `${r.window_start}|${r.country}`),
        [...groups.keys()],
      );
      for (const r of results) {
        const rs = groups.get(`${r.window_start}|${r.country}`)!;
        assert.equal(r.records, rs.length);
        assert.equal(r.accuracy, rs.filter((x) => x.prediction === x.is_fraud).length / rs.length);
      }
    }
    const restored = await runSteps(keyed, rows, 64, { checkpointAt: 900, crashAt: 1700 }, 'metrics');
    const straight = await runSteps(keyed, rows, 64, undefined, 'metrics');
    assert.deepEqual(restored.results, straight.results);
  });
});

describe('schemas', () => {
  test('a misspelt metric after evaluate is a plan error; the scored fields are typed downstream', async () => {
    const misspelt = `${evaluated}
  - id: good
    type: filter
    input: metrics
    where: acuracy > 0.5`;
    await assert.rejects(
      runSteps(misspelt, [], 1, undefined, 'good'),
      (err: Error & { code?: string }) => err.code === 'PLAN_TYPE_ERROR' && /acuracy/.test(err.message),
    );
    const typed = `${scored}
  - id: flagged
    type: filter
    input: scored
    where: prediction AND score > 0.2`;
    const rows = transactions(3, 1500);
    const { results } = await runSteps(typed, rows, 100, undefined, 'flagged');
    const { results: all } = await runSteps(scored, rows, 100, undefined, 'scored');
    const expected = all.filter((r) => r.prediction === true && Number(r.score) > 0.2);
    assert.ok(expected.length > 0, 'some records flagged');
    assert.deepEqual(results, expected);
  });
});
