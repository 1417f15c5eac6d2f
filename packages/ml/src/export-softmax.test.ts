import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Row } from '@sluice/core';
import ort from 'onnxruntime-node';
import { ExportRefused, toOnnx } from './export.ts';
import { type FeatureConfig, FeatureSpec } from './features.ts';
import { Learner } from './learner.ts';
import type { SoftmaxRegression } from './models/softmax.ts';
import { gaussian, uniform } from './synthetic-test-data.ts';

const FEATURES: FeatureConfig[] = [
  { numeric: 'a' },
  { numeric: 'b', standardize: false },
  { hashed: 'shop', buckets: 4 },
];
const SHOPS = ['north', 'south', 'east'];

/** Three classes by a known rule over a, b and the shop, with some noise. */
function rows(seed: number, n: number): Row[] {
  const random = uniform(seed);
  return Array.from({ length: n }, () => {
    const a = 50 + 20 * gaussian(random);
    const b = gaussian(random);
    const shop = SHOPS[Math.floor(random() * SHOPS.length)];
    const z = (a - 50) / 20 + (shop === 'east' ? 1 : 0) + 0.5 * gaussian(random);
    return { a, b, shop, cls: z > 0.8 ? 'high' : z < -0.8 ? 'low' : b > 0 ? 'mid' : 'low' };
  });
}

test('ONNX export of softmax regression: onnxruntime-node gives the engine’s class probabilities and classes on held-out records', async () => {
  const learner = Learner.create(
    { type: 'softmax_regression', optimizer: 'adam', learning_rate: 0.05 },
    new FeatureSpec(FEATURES),
  );
  for (const r of rows(1, 4000)) learner.learn(learner.encode(r, true), String(r.cls));
  const exported = toOnnx(learner);
  assert.equal(exported.output, 'probabilities');
  const classes = exported.classes!;
  assert.deepEqual(new Set(classes), new Set(['high', 'low', 'mid']));
  const fresh = rows(2, 1000);
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
  const probabilities = out.probabilities.data as Float64Array;
  const index = out.class_index.data as BigInt64Array;
  let right = 0;
  fresh.forEach((r, i) => {
    const p = learner.predict(learner.encode(r, false));
    const own = (learner.model as SoftmaxRegression).predict(learner.encode(r, false))!;
    classes.forEach((c, k) => {
      assert.ok(Math.abs(probabilities[i * 3 + k] - own.probabilities.get(c)!) < 1e-9, `row ${i} class ${c}`);
    });
    assert.equal(classes[Number(index[i])], p.value, `row ${i}`);
    if (p.value === r.cls) right++;
  });
  assert.ok(right > 700, `${right} of 1000 right`);
});

test('softmax regression that has learned no class is not exported', () => {
  const learner = Learner.create({ type: 'softmax_regression' }, new FeatureSpec(FEATURES));
  assert.throws(() => toOnnx(learner), ExportRefused);
});
