import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Row } from '@sluice/core';
import ort from 'onnxruntime-node';
import { ExportRefused, toOnnx } from './export.ts';
import { type FeatureConfig, FeatureSpec } from './features.ts';
import { Learner, type ModelConfig } from './learner.ts';
import type { HoeffdingTree } from './models/hoeffding.ts';
import { transactions, uniform } from './synthetic-test-data.ts';
import { runSteps } from './test-support.ts';

const FEATURES: FeatureConfig[] = [
  { numeric: 'amount' },
  { numeric: 'hour', standardize: false },
  { hashed: 'country', buckets: 8 },
  { text: 'merchant', buckets: 16 },
];

function trained(model: ModelConfig, rows: readonly Row[]): Learner {
  const learner = Learner.create(model, new FeatureSpec(FEATURES));
  for (const r of rows) {
    const x = learner.encode(r, true);
    learner.learn(
      x,
      model.type === 'logistic_regression' ? (r.is_fraud ? 1 : 0) : Number(r.amount) * 0.1 + Number(r.hour),
    );
  }
  return learner;
}

/** Runs the ONNX model over `rows` with onnxruntime directly: the raw columns in, one output per row. */
async function runOnnx(
  model: Uint8Array,
  columns: FeatureConfig[],
  output: string,
  rows: readonly Row[],
): Promise<number[]> {
  const spec = new FeatureSpec(columns);
  const state = spec.initialState();
  const data = new Float64Array(rows.length * spec.width);
  const x = new Float64Array(spec.width);
  rows.forEach((r, i) => {
    spec.encode(r, state, x, false);
    data.set(x, i * spec.width);
  });
  const session = await ort.InferenceSession.create(model);
  const result = await session.run({ features: new ort.Tensor('float64', data, [rows.length, spec.width]) });
  await session.release();
  return Array.from(result[output].data as Float64Array);
}

test('ONNX export of logistic and linear regression scores as the engine predicts (onnxruntime-node)', async () => {
  const rows = transactions(5, 3000);
  const fresh = transactions(6, 500);
  for (const model of [
    { type: 'logistic_regression', optimizer: 'adam', learning_rate: 0.02, l2: 0.0001 },
    { type: 'linear_regression', optimizer: 'sgd', learning_rate: 0.01 },
  ] as ModelConfig[]) {
    const learner = trained(model, rows);
    const exported = toOnnx(learner);
    assert.equal(exported.output, model.type === 'logistic_regression' ? 'probability' : 'prediction');
    const scores = await runOnnx(exported.model, exported.columns, exported.output, fresh);
    fresh.forEach((r, i) => {
      const p = learner.predict(learner.encode(r, false));
      const own = model.type === 'logistic_regression' ? p.score! : Number(p.value);
      assert.ok(
        Math.abs(scores[i] - own) < 1e-9 * Math.max(1, Math.abs(own)),
        `${model.type} row ${i}: ${scores[i]} vs ${own}`,
      );
    });
  }
});

test('an exported model is loaded by another pipeline: the score step gives the engine’s predictions', async () => {
  const learner = trained(
    { type: 'logistic_regression', optimizer: 'adam', learning_rate: 0.02 },
    transactions(5, 2000),
  );
  const exported = toOnnx(learner);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-ml-export-'));
  try {
    const path = join(dir, 'model.onnx');
    writeFileSync(path, exported.model);
    const fresh = transactions(8, 300);
    const { results } = await runSteps(
      `
  - id: scored
    type: score
    input: in
    model: ${path}
    inputs: { features: ${JSON.stringify(exported.columns)} }
    outputs: { probability: p }`,
      fresh,
      64,
      undefined,
      'scored',
    );
    assert.equal(results.length, fresh.length);
    results.forEach((r, i) => {
      const own = learner.predict(learner.encode(fresh[i], false)).score!;
      assert.ok(Math.abs(Number(r.p) - own) < 1e-9, `row ${i}: ${r.p} vs ${own}`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ONNX export of a Hoeffding tree: onnxruntime-node gives the engine’s class and class shares', async () => {
  const rows = transactions(5, 6000);
  const learner = Learner.create(
    { type: 'hoeffding_tree', grace_period: 100 },
    new FeatureSpec([
      { numeric: 'amount' },
      { numeric: 'hour', standardize: false },
      { hashed: 'country', buckets: 4 },
    ]),
  );
  for (const r of rows) learner.learn(learner.encode(r, true), String(r.is_fraud));
  const tree = learner.model as HoeffdingTree;
  assert.ok(tree.depth >= 2, `a tree of depth ${tree.depth}`);
  const exported = toOnnx(learner);
  assert.equal(exported.output, 'probabilities');
  const fresh = transactions(6, 1000);
  const spec = new FeatureSpec(exported.columns);
  const state = spec.initialState();
  const data = new Float64Array(fresh.length * spec.width);
  const x = new Float64Array(spec.width);
  fresh.forEach((r, i) => {
    spec.encode(r, state, x, false);
    data.set(x, i * spec.width);
  });
  const session = await ort.InferenceSession.create(exported.model);
  const out = await session.run({ features: new ort.Tensor('float64', data, [fresh.length, spec.width]) });
  await session.release();
  const labels = out.label.data as string[];
  const probabilities = out.probabilities.data as Float32Array;
  const k = tree.classes.length;
  fresh.forEach((r, i) => {
    const p = learner.predict(learner.encode(r, false));
    assert.equal(labels[i], p.value, `row ${i}`);
    const own = tree.predict(learner.encode(r, false))!;
    // Two classes: onnxruntime writes the second class's share and 0 for the first (1 − it).
    assert.equal(k, 2);
    assert.equal(probabilities[i * k], 0);
    assert.ok(
      Math.abs(probabilities[i * k + 1] - own.probabilities.get(tree.classes[1])!) < 1e-6,
      `row ${i}`,
    );
  });
});

test('ONNX export of a three-class Hoeffding tree on standardized features: the same classes and shares', async () => {
  const random = uniform(31);
  const row = () => {
    const a = random();
    const b = random();
    return { a, b, cls: a <= 0.5 ? 'low' : b <= 0.7 ? 'mid' : 'high' };
  };
  const learner = Learner.create(
    { type: 'hoeffding_tree', grace_period: 100 },
    new FeatureSpec([{ numeric: 'a' }, { numeric: 'b' }]),
  );
  for (let i = 0; i < 8000; i++) {
    const r = row();
    learner.learn(learner.encode(r, true), r.cls);
  }
  const tree = learner.model as HoeffdingTree;
  assert.ok(tree.depth >= 2);
  const exported = toOnnx(learner);
  const fresh = Array.from({ length: 1000 }, row);
  const data = Float64Array.from(fresh.flatMap((r) => [r.a, r.b]));
  const session = await ort.InferenceSession.create(exported.model);
  const out = await session.run({ features: new ort.Tensor('float64', data, [fresh.length, 2]) });
  await session.release();
  const labels = out.label.data as string[];
  const probabilities = out.probabilities.data as Float32Array;
  const k = tree.classes.length;
  assert.equal(k, 3);
  fresh.forEach((r, i) => {
    const own = tree.predict(learner.encode(r, false))!;
    assert.equal(labels[i], own.label, `row ${i}`);
    tree.classes.forEach((c, j) => {
      assert.ok(Math.abs(probabilities[i * k + j] - own.probabilities.get(c)!) < 1e-6, `row ${i} class ${c}`);
    });
  });
});

test('ONNX export refuses other models and features that need learned state', () => {
  const spec = new FeatureSpec([{ numeric: 'amount' }]);
  assert.throws(() => toOnnx(Learner.create({ type: 'gaussian_nb' }, spec)), ExportRefused);
  assert.throws(
    () => toOnnx(Learner.create({ type: 'logistic_regression' }, new FeatureSpec([{ one_hot: 'country' }]))),
    /one_hot columns depend on the learned vocabulary/,
  );
  assert.throws(
    () =>
      toOnnx(
        Learner.create({ type: 'linear_regression' }, new FeatureSpec([{ numeric: 'a', missing: 'mean' }])),
      ),
    /running mean/,
  );
});

test('JSON export of every model type: a copy from JSON predicts as the original', () => {
  const rows = transactions(9, 800);
  const spec = new FeatureSpec([{ numeric: 'amount' }, { numeric: 'hour' }, { one_hot: 'country' }]);
  const models: ModelConfig[] = [
    { type: 'logistic_regression' },
    { type: 'linear_regression' },
    { type: 'gaussian_nb' },
    { type: 'hoeffding_tree', grace_period: 50 },
    { type: 'streaming_kmeans' },
    { type: 'ewma_zscore' },
    { type: 'half_space_trees', window_size: 100 },
  ];
  for (const model of models) {
    const learner = Learner.create(model, spec);
    for (const r of rows) {
      const label =
        model.type === 'linear_regression'
          ? Number(r.amount)
          : model.type === 'logistic_regression'
            ? r.is_fraud
              ? 1
              : 0
            : String(r.is_fraud);
      learner.learn(learner.encode(r, true), label);
    }
    const copy = Learner.fromJSON(JSON.parse(JSON.stringify(learner.toJSON())), spec);
    for (const r of transactions(10, 50))
      assert.deepEqual(
        copy.predict(copy.encode(r, false)),
        learner.predict(learner.encode(r, false)),
        model.type,
      );
  }
});
