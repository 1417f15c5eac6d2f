/**
 * The ONNX test models: logistic regressions trained by this package's own `logistic_regression`
 * on seeded data, written as ONNX protobuf by a minimal encoder (no Python `onnx` here), so the
 * `score` step's results can be checked against the package's own predictions. Not part of the
 * public surface.
 *
 * Regenerate the fixtures with `node packages/ml/src/onnx-test-model.ts`; a test checks that this
 * gives the shipped files byte for byte.
 *
 * Graph: `features` [N, width] double → MatMul(W [width, 1]) → Add(B [1]) → Sigmoid →
 * `probability` [N, 1] double. Doubles, so the scores equal the package's own within rounding.
 */

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FeatureSpec } from './features.ts';
import { Learner } from './learner.ts';
import type { LinearModelJson } from './models/linear.ts';
import { linearOnnx } from './onnx-writer.ts';
import { denseRows } from './synthetic-test-data.ts';

/** The fixtures' folder. */
export const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

/** The features of the test models: `f0…` numeric, unstandardized (the model file holds no feature state). */
export function testFeatures(width: number): { numeric: string; standardize: false }[] {
  return Array.from({ length: width }, (_, j) => ({ numeric: `f${j}`, standardize: false }));
}

/** An ONNX ModelProto (IR 8, opset 13) of a logistic regression with these weights and bias. */
export function logisticOnnx(weights: readonly number[], bias: number, input = 'features'): Uint8Array {
  return linearOnnx(weights, bias, {
    input,
    output: 'probability',
    sigmoid: true,
    name: 'logistic_regression',
    producer: 'sluice-ml-test',
  });
}

/** A logistic regression of `width` features learned by the package from `n` seeded rows. */
export function trainedLearner(seed: number, n: number, width: number): Learner {
  const learner = Learner.create(
    { type: 'logistic_regression', optimizer: 'sgd', learning_rate: 0.05 },
    new FeatureSpec(testFeatures(width)),
  );
  const { xs, ys } = denseRows(seed, n, width);
  for (let i = 0; i < n; i++) learner.learn(xs[i], ys[i]);
  return learner;
}

/** The learners behind the fixtures, by fixture name: the package's own predictions of them are the reference. */
export const TEST_MODELS = {
  'logistic-a': () => trainedLearner(11, 2000, 4),
  // Same signature, other weights: the hot-swap tests' second version.
  'logistic-b': () => trainedLearner(12, 500, 4),
  // Three features: a signature that does not fit a step declaring four.
  'logistic-3': () => trainedLearner(13, 500, 3),
} as const;

/** Every fixture: file name → contents. */
export function testModelFiles(): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  for (const [name, create] of Object.entries(TEST_MODELS)) {
    const model = create().toJSON().model as LinearModelJson;
    files.set(`${name}.onnx`, logisticOnnx(model.weights, model.bias));
  }
  return files;
}

if (import.meta.main) {
  for (const [name, data] of testModelFiles()) writeFileSync(join(FIXTURES, name), data);
}
