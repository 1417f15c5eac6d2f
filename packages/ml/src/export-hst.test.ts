import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Row } from '@sluice/core';
import ort from 'onnxruntime-node';
import { ExportRefused, toOnnx } from './export.ts';
import { type FeatureConfig, FeatureSpec } from './features.ts';
import { Learner } from './learner.ts';
import { gaussian, uniform } from './synthetic-test-data.ts';
import { runSteps } from './test-support.ts';

const FEATURES: FeatureConfig[] = [
  { numeric: 'temp' },
  { numeric: 'load' },
  { numeric: 'ratio', standardize: false },
];

/** Sensor readings around (20, 100, 0.5), with one in `anomalies` far away. */
function readings(seed: number, n: number, anomalies = 0): Row[] {
  const random = uniform(seed);
  return Array.from({ length: n }, (_, i) => {
    const far = random() < anomalies;
    return {
      id: i,
      ts: i,
      temp: 20 + 2 * gaussian(random) + (far ? 15 : 0),
      load: 100 + 10 * gaussian(random) - (far ? 60 : 0),
      ratio: 0.5 + 0.1 * gaussian(random),
    };
  });
}

function trained(): Learner {
  const learner = Learner.create(
    { type: 'half_space_trees', trees: 15, height: 6, window_size: 200, seed: 7 },
    new FeatureSpec(FEATURES),
  );
  for (const r of readings(1, 3000)) learner.learn(learner.encode(r, true), 0);
  return learner;
}

test('ONNX export of Half-Space Trees: onnxruntime-node gives the engine’s scores and anomaly flags on held-out readings', async () => {
  const learner = trained();
  const exported = toOnnx(learner);
  assert.equal(exported.output, 'score');
  const fresh = readings(2, 2000, 0.03);
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
  const scores = out.score.data as Float64Array;
  const flags = out.anomaly.data as Uint8Array;
  const threshold = 0.2;
  let anomalies = 0;
  fresh.forEach((r, i) => {
    const own = learner.predict(learner.encode(r, false));
    assert.equal(typeof own.score, 'number');
    // onnxruntime sums the trees' masses in float32: a relative error near 1e-7.
    assert.ok(Math.abs(scores[i] - Number(own.score)) < 1e-6, `row ${i}: ${scores[i]} vs ${own.score}`);
    if (Math.abs(Number(own.score) - threshold) > 1e-6) assert.equal(flags[i] === 1, own.value, `row ${i}`);
    if (own.value === true) anomalies++;
  });
  // The check covers both outcomes: some of the held-out readings are anomalies, most are not.
  assert.ok(anomalies > 20 && anomalies < 400, `${anomalies} anomalies`);
});

test('an exported Half-Space Trees model runs in the score step of another pipeline', async () => {
  const learner = trained();
  const exported = toOnnx(learner);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-hst-onnx-'));
  try {
    const file = join(dir, 'hst.onnx');
    writeFileSync(file, exported.model);
    const fresh = readings(3, 300, 0.05);
    const { results } = await runSteps(
      `
  - id: scored
    type: score
    input: in
    model: ${file}
    inputs: { features: ${JSON.stringify(exported.columns)} }
    outputs: { score: hst_score, anomaly: flagged }`,
      fresh,
      64,
      undefined,
      'scored',
    );
    assert.equal(results.length, fresh.length);
    results.forEach((r, i) => {
      const own = learner.predict(learner.encode(fresh[i], false));
      assert.ok(Math.abs(Number(r.hst_score) - Number(own.score)) < 1e-6, `row ${i}`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Half-Space Trees before their first complete window are not exported', () => {
  const learner = Learner.create({ type: 'half_space_trees', window_size: 100 }, new FeatureSpec(FEATURES));
  for (const r of readings(4, 99)) learner.learn(learner.encode(r, true), 0);
  assert.throws(() => toOnnx(learner), ExportRefused);
  assert.throws(() => toOnnx(learner), /first complete window \(100 records\); this model has learned 99/);
});
