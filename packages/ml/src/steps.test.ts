import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Row } from '@sluice/core';
import { FeatureSpec } from './features.ts';
import { Learner, type ModelConfig } from './learner.ts';
import { transactions } from './synthetic-test-data.ts';
import { runSteps } from './test-support.ts';

const FEATURES = [
  { numeric: 'amount', standardize: true, missing: 'dead_letter' },
  { numeric: 'hour', standardize: true, missing: 'dead_letter' },
  { one_hot: 'country', max_categories: 6, missing: 'indicator' },
  { text: 'merchant', buckets: 32, missing: 'indicator' },
] as const;

const FEATURES_YAML = `
    features:
      - { numeric: amount }
      - { numeric: hour }
      - { one_hot: country, max_categories: 6 }
      - { text: merchant, buckets: 32 }`;

/** Transactions with a few unusable records among them: what must become dead letters. */
function input(n: number): Row[] {
  const rows: Row[] = transactions(7, n);
  rows[10] = { ...rows[10], amount: 'n/a' };
  rows[20] = { ...rows[20], is_fraud: 'maybe' };
  const { is_fraud: _, ...unlabelled } = rows[30];
  rows[30] = unlabelled;
  rows[40] = { ...rows[40], hour: null };
  return rows;
}

/** The prequential loop written against the library directly: predict, then learn, per key. */
function expected(rows: readonly Row[], model: ModelConfig, key?: string): Row[] {
  const spec = new FeatureSpec(FEATURES as never);
  const learners = new Map<string, Learner>();
  const out: Row[] = [];
  for (const row of rows) {
    const k = key === undefined ? '' : JSON.stringify(row[key]);
    if (![true, false, 0, 1].includes(row.is_fraud as never)) continue;
    if (typeof row.amount !== 'number' || typeof row.hour !== 'number') continue;
    let learner = learners.get(k);
    if (!learner) {
      learner = Learner.create(model, spec);
      learners.set(k, learner);
    }
    const x = learner.encode(row, true);
    const p = learner.predict(x);
    out.push({ ...row, prediction: p.value, score: p.score });
    learner.learn(x, row.is_fraud ? 1 : 0);
  }
  return out;
}

const LOGISTIC: ModelConfig = {
  type: 'logistic_regression',
  optimizer: 'adam',
  learning_rate: 0.02,
  l2: 0.0001,
};

const learnPredict = (key = '') => `
  - id: scored
    type: learn_predict
    input: in
    model: { type: logistic_regression, optimizer: adam, learning_rate: 0.02, l2: 0.0001 }
    label: is_fraud${key}${FEATURES_YAML}`;

describe('learn_predict', () => {
  const rows = input(3000);

  test('predicts each record before learning from it, as the library loop does, whatever the batch size', async () => {
    const want = expected(rows, LOGISTIC);
    for (const batch of [1, 7, 1024]) {
      const { results, dead } = await runSteps(learnPredict(), rows, batch, undefined, 'scored');
      assert.deepEqual(results, want, `batch size ${batch}`);
      assert.equal(dead.length, 4, `batch size ${batch}: the four unusable records`);
      const reasons = dead.map((d) => String(d.message));
      assert.match(reasons[0], /'amount' holds "n\/a", not a finite number/);
      assert.match(reasons[1], /'is_fraud' holds "maybe", not a binary label/);
      assert.match(reasons[2], /'is_fraud' is missing/);
      assert.match(reasons[3], /'hour' is missing/);
    }
  });

  test('a run interrupted by a checkpoint, a crash and a restore predicts exactly as an uninterrupted one', async () => {
    const straight = await runSteps(learnPredict(), rows, 64, undefined, 'scored');
    const restored = await runSteps(
      learnPredict(),
      rows,
      64,
      { checkpointAt: 1100, crashAt: 1900 },
      'scored',
    );
    assert.deepEqual(restored.results, straight.results);
    assert.deepEqual(restored.dead, straight.dead);
  });

  test('with a key, each key has its own model', async () => {
    const keyed = learnPredict('\n    key: [card]');
    const { results } = await runSteps(keyed, rows, 100, undefined, 'scored');
    assert.deepEqual(results, expected(rows, LOGISTIC, 'card'));
    const restored = await runSteps(keyed, rows, 100, { checkpointAt: 700, crashAt: 2500 }, 'scored');
    assert.deepEqual(restored.results, results);
  });

  test('learns as it goes: later predictions beat the base rate in log-loss', async () => {
    const { results } = await runSteps(learnPredict(), input(6000), 1024, undefined, 'scored');
    const late = results.slice(3000);
    const logLoss = (p: (r: Row) => number) =>
      -late.reduce((s, r) => s + Math.log(r.is_fraud ? p(r) : 1 - p(r)), 0) / late.length;
    const rate = late.filter((r) => r.is_fraud).length / late.length;
    const model = logLoss((r) => Number(r.score));
    const baseRate = logLoss(() => rate);
    assert.ok(
      model < 0.9 * baseRate,
      `log-loss ${model} vs ${baseRate} of the base rate (known in hindsight)`,
    );
  });
});

describe('learn and predict', () => {
  const rows = input(2000);

  test('learn emits a summary every N records; predict from its model file scores as the summary’s model', async () => {
    const learn = `
  - id: learner
    type: learn
    input: in
    model: { type: gaussian_nb }
    label: country
    summary_every: 500
    features:
      - { numeric: amount }
      - { numeric: hour }`;
    const { results: summaries } = await runSteps(learn, rows, 7, undefined, 'learner');
    assert.deepEqual(
      summaries.map((s) => s.learned),
      [500, 1000, 1500],
      'the unusable records are not learned from',
    );
    const last = summaries.at(-1)!.model as never;
    const dir = mkdtempSync(join(tmpdir(), 'sluice-ml-model-'));
    try {
      const file = join(dir, 'model.json');
      writeFileSync(file, JSON.stringify(last));
      const predict = `
  - id: scored
    type: predict
    input: in
    model_file: ${file}
    features:
      - { numeric: amount }
      - { numeric: hour }`;
      const { results, dead } = await runSteps(predict, rows.slice(1500), 50, undefined, 'scored');
      const learner = Learner.fromJSON(
        last,
        new FeatureSpec([
          { numeric: 'amount', standardize: true, missing: 'dead_letter' },
          { numeric: 'hour', standardize: true, missing: 'dead_letter' },
        ]),
      );
      assert.equal(dead.length, 0);
      assert.equal(results.length, 500);
      for (const r of results) {
        const p = learner.predict(learner.encode(r, false));
        assert.equal(r.prediction, p.value);
        assert.equal(r.score, p.score);
      }
      assert.ok(new Set(results.map((r) => r.prediction)).size > 1, 'predicts more than one class');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('predict takes the models of an upstream learn step from its second input', async () => {
    const steps = `
  - id: learner
    type: learn
    input: in
    model: { type: linear_regression, learning_rate: 0.01 }
    label: amount
    summary_every: 1
    features:
      - { numeric: hour, standardize: false }
  - id: scored
    type: predict
    input: [in, learner]
    features:
      - { numeric: hour, standardize: false }`;
    const clean = rows.filter((r) => typeof r.amount === 'number' && typeof r.hour === 'number');
    // The first record has no hour: refused by predict though no model has arrived yet.
    const { hour: _, ...noHour } = clean[0];
    const { results, dead } = await runSteps(steps, [noHour, ...clean.slice(1)], 1, undefined, 'scored');
    assert.equal(results.length, clean.length - 1);
    assert.equal(dead.length, 2, 'the learner and the predictor each refuse it');
    assert.deepEqual(dead.map((d) => d.step).sort(), ['learner', 'scored']);
    for (const d of dead) assert.match(String(d.message), /'hour' is missing/);
    assert.ok(
      results.some((r) => typeof r.prediction === 'number'),
      'predictions once a model arrived',
    );
    assert.ok(
      results.every((r) => r.prediction === null || typeof r.prediction === 'number'),
      'a number or, before the first model, null',
    );
  });

  test('a model file that is not a model of the step’s features is refused with the config path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-ml-model-'));
    try {
      const file = join(dir, 'model.json');
      writeFileSync(file, JSON.stringify({ model: { type: 'gaussian_nb' }, features: { features: [] } }));
      const steps = `
  - id: scored
    type: predict
    input: in
    model_file: ${file}
    features: [{ numeric: amount }]`;
      await assert.rejects(
        runSteps(steps, [], 1, undefined, 'scored'),
        /model_file '.*' is not a model of these features/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a misspelt model option or type is refused at load, with a suggestion or the types there are', async () => {
    const steps = (model: string) => `
  - id: scored
    type: learn_predict
    input: in
    model: ${model}
    label: is_fraud
    features: [{ numeric: amount }]`;
    await assert.rejects(
      runSteps(steps('{ type: logistic_regression, learning_rat: 0.1 }'), [], 1, undefined, 'scored'),
      (err: Error & { path?: string }) =>
        /unknown option 'learning_rat' — did you mean 'learning_rate'\?/.test(err.message) &&
        /model\.learning_rat$/.test(String(err.path)),
    );
    await assert.rejects(
      runSteps(steps('{ type: logistic }'), [], 1, undefined, 'scored'),
      (err: Error & { path?: string }) =>
        /must be one of: logistic_regression, linear_regression, softmax_regression, gaussian_nb/.test(
          err.message,
        ) && /model\.type$/.test(String(err.path)),
    );
  });

  test('a feature with a misspelt kind, no kind, or another kind’s option is refused with its path', async () => {
    const steps = (feature: string) => `
  - id: scored
    type: learn_predict
    input: in
    model: { type: logistic_regression }
    label: is_fraud
    features: [{ numeric: hour }, ${feature}]`;
    const refused = async (feature: string, path: string, message: RegExp) =>
      assert.rejects(
        runSteps(steps(feature), [], 1, undefined, 'scored'),
        (err: Error & { path?: string }) => message.test(err.message) && String(err.path).endsWith(path),
      );
    await refused(
      '{ numerc: amount }',
      'features[1].numerc',
      /unknown option 'numerc' — did you mean 'numeric'\?/,
    );
    await refused('{ buckets: 8 }', 'features[1]', /names its kind and field: one of 'numeric: <field>'/);
    await refused('{ numeric: amount, text: merchant }', 'features[1]', /names 'numeric' and 'text'/);
    await refused(
      '{ numeric: amount, buckets: 8 }',
      'features[1].buckets',
      /not an option of a numeric feature/,
    );
    await refused(
      '{ text: merchant, missing: mean }',
      'features[1].missing',
      /does not apply to a text feature/,
    );
  });

  test('a supervised model without a label is refused with the config path', async () => {
    const steps = `
  - id: scored
    type: learn_predict
    input: in
    model: { type: logistic_regression }
    features: [{ numeric: amount }]`;
    await assert.rejects(runSteps(steps, [], 1, undefined, 'scored'), /learns from a label: set 'label'/);
  });
});

describe('ewma_zscore in learn_predict', () => {
  test('flags the spikes of a steady series, without a label', async () => {
    const rows: Row[] = Array.from({ length: 400 }, (_, i) => ({
      ts: 1_000 * i,
      value: i % 97 === 96 ? 80 : 10 + Math.sin(i),
    }));
    const steps = `
  - id: scored
    type: learn_predict
    input: in
    model: { type: ewma_zscore, alpha: 0.05, threshold: 4, warmup: 20 }
    features: [{ numeric: value, standardize: false }]`;
    const { results } = await runSteps(steps, rows, 7, undefined, 'scored');
    const flagged = results.filter((r) => r.prediction === true).map((r) => Number(r.ts) / 1_000);
    assert.deepEqual(flagged, [96, 193, 290, 387]);
  });
});

describe('streaming_kmeans in learn_predict', () => {
  test('assigns each record the cluster the library would, the same after a crash and a restore', async () => {
    const rows = input(2000).filter((r) => typeof r.amount === 'number' && typeof r.hour === 'number');
    const steps = `
  - id: scored
    type: learn_predict
    input: in
    model: { type: streaming_kmeans, k: 4 }
    features: [{ numeric: amount }, { numeric: hour }]`;
    const straight = await runSteps(steps, rows, 7, undefined, 'scored');
    const spec = new FeatureSpec([{ numeric: 'amount' }, { numeric: 'hour' }]);
    const learner = Learner.create({ type: 'streaming_kmeans', k: 4 }, spec);
    const want = rows.map((r) => {
      const x = learner.encode(r, true);
      const p = learner.predict(x);
      learner.learn(x, 0);
      return { ...r, prediction: p.value, score: p.score };
    });
    assert.deepEqual(straight.results, want);
    assert.deepEqual(new Set(want.slice(100).map((r) => r.prediction)), new Set([0, 1, 2, 3]));
    const restored = await runSteps(steps, rows, 7, { checkpointAt: 600, crashAt: 1400 }, 'scored');
    assert.deepEqual(restored.results, straight.results);
  });
});

describe('multinomial_nb in learn_predict', () => {
  test('classifies by hashed merchant words as the library does; negative features are dead letters', async () => {
    const rows = input(1500).filter((r) => typeof r.is_fraud === 'boolean');
    const steps = `
  - id: scored
    type: learn_predict
    input: in
    model: { type: multinomial_nb, alpha: 0.5 }
    label: is_fraud
    features: [{ text: merchant, buckets: 16 }]`;
    const { results } = await runSteps(steps, rows, 7, undefined, 'scored');
    const learner = Learner.create(
      { type: 'multinomial_nb', alpha: 0.5 },
      new FeatureSpec([{ text: 'merchant', buckets: 16 }]),
    );
    const want = rows.map((r) => {
      const x = learner.encode(r, true);
      const p = learner.predict(x);
      learner.learn(x, String(r.is_fraud));
      return { ...r, prediction: p.value, score: p.score };
    });
    assert.deepEqual(results, want);
    assert.ok(results.some((r) => r.prediction === 'true') && results.some((r) => r.prediction === 'false'));

    const negative = `
  - id: scored
    type: learn_predict
    input: in
    model: { type: multinomial_nb }
    label: is_fraud
    features: [{ numeric: hour, standardize: false }]`;
    const { dead } = await runSteps(negative, [{ ts: 1, hour: -3, is_fraud: true }], 1, undefined, 'scored');
    assert.equal(dead.length, 1);
    assert.match(String(dead[0].message), /non-negative features/);
  });
});
