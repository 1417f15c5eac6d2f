import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Row } from '@sluice/core';
import { seededRandom } from '@sluice/core/testing';
import { type FeatureConfig, FeatureSpec } from '../features.ts';
import { Learner, type ModelConfig } from '../learner.ts';
import { runSteps } from '../test-support.ts';
import type { LinearOptions } from './linear.ts';
import { SoftmaxRegression } from './softmax.ts';

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

const CLASSES = ['a', 'b', 'c'];

/** Records of `d` features whose class is drawn from a known softmax model. */
function data(seed: number, n: number, d: number) {
  const random = seededRandom(seed);
  const truth = CLASSES.map((_, k) => Array.from({ length: d }, (_, j) => ((k + j) % 3) - 1 + 0.3 * k));
  const xs: Float64Array[] = [];
  const ys: string[] = [];
  for (let i = 0; i < n; i++) {
    const x = Float64Array.from({ length: d }, () => gaussian(random));
    const z = truth.map((w, k) => 0.2 * k + w.reduce((s, wj, j) => s + wj * x[j], 0));
    const e = z.map((v) => Math.exp(v));
    const total = e.reduce((s, v) => s + v, 0);
    let u = random() * total;
    let k = 0;
    while (k < 2 && u >= e[k]) u -= e[k++];
    xs.push(x);
    ys.push(CLASSES[k]);
  }
  return { xs, ys };
}

/**
 * The batch fit, written here apart from the model: full-batch gradient descent on the mean
 * log-loss plus l2/2 · Σ‖w_k‖² until the gradient vanishes; returns the probability function.
 */
function batchFit(xs: Float64Array[], ys: string[], l2: number): (x: Float64Array) => number[] {
  const d = xs[0].length;
  const K = CLASSES.length;
  const W = Array.from({ length: K }, () => new Array<number>(d + 1).fill(0)); // last: intercept
  const probs = (x: Float64Array) => {
    const z = W.map((w) => w[d] + x.reduce((s, v, j) => s + w[j] * v, 0));
    const max = Math.max(...z);
    const e = z.map((v) => Math.exp(v - max));
    const t = e.reduce((s, v) => s + v, 0);
    return e.map((v) => v / t);
  };
  for (let iter = 0; iter < 20_000; iter++) {
    const g = Array.from({ length: K }, () => new Array<number>(d + 1).fill(0));
    xs.forEach((x, i) => {
      const p = probs(x);
      for (let k = 0; k < K; k++) {
        const r = p[k] - (CLASSES[k] === ys[i] ? 1 : 0);
        for (let j = 0; j < d; j++) g[k][j] += (r * x[j]) / xs.length;
        g[k][d] += r / xs.length;
      }
    });
    let norm = 0;
    for (let k = 0; k < K; k++)
      for (let j = 0; j <= d; j++) {
        if (j < d) g[k][j] += l2 * W[k][j];
        norm = Math.max(norm, Math.abs(g[k][j]));
        W[k][j] -= 0.5 * g[k][j];
      }
    if (norm < 1e-9) break;
  }
  return probs;
}

function online(xs: Float64Array[], ys: string[], options: Partial<LinearOptions>, passes: number) {
  const model = new SoftmaxRegression(xs[0].length, options);
  // Learn the classes in the batch fit's order first seen, so the probabilities line up by name.
  for (let p = 0; p < passes; p++) for (let i = 0; i < xs.length; i++) model.learn(xs[i], ys[i]);
  return model;
}

function assertSameProbabilities(
  model: SoftmaxRegression,
  batch: (x: Float64Array) => number[],
  xs: Float64Array[],
  tolerance: number,
) {
  let worst = 0;
  for (const x of xs) {
    const want = batch(x);
    const got = model.predict(x)!.probabilities;
    CLASSES.forEach((c, k) => {
      worst = Math.max(worst, Math.abs(got.get(c)! - want[k]));
    });
  }
  assert.ok(worst < tolerance, `max |Δp| ${worst} ≥ ${tolerance}`);
}

describe('softmax regression', () => {
  const { xs, ys } = data(41, 400, 4);
  const batch = batchFit(xs, ys, 0.01);

  test('SGD with L2 converges to the batch fit of the same penalized log-loss (probabilities)', () => {
    assert.deepEqual(new Set(ys), new Set(CLASSES));
    const model = online(xs, ys, { schedule: 'inverse', learning_rate: 0.1, decay: 0.002, l2: 0.01 }, 300);
    assertSameProbabilities(model, batch, xs, 0.01);
  });

  test('Adam converges to the batch fit', () => {
    const model = online(
      xs,
      ys,
      { optimizer: 'adam', schedule: 'inverse', learning_rate: 0.02, decay: 0.001, l2: 0.01 },
      300,
    );
    assertSameProbabilities(model, batch, xs, 0.01);
  });

  test('predicts the most probable class; a class first seen is added with zero weights', () => {
    const m = new SoftmaxRegression(2);
    assert.equal(m.predict(Float64Array.of(1, 2)), undefined);
    m.learn(Float64Array.of(1, 0), 'x');
    assert.deepEqual(m.predict(Float64Array.of(1, 0)), { label: 'x', probabilities: new Map([['x', 1]]) });
    m.learn(Float64Array.of(0, 1), 'y');
    const p = m.predict(Float64Array.of(0, 1))!;
    assert.equal(
      [...p.probabilities.values()].reduce((s, v) => s + v, 0),
      1,
    );
    for (let i = 0; i < 200; i++) {
      m.learn(Float64Array.of(1, 0), 'x');
      m.learn(Float64Array.of(0, 1), 'y');
    }
    assert.equal(m.predict(Float64Array.of(1, 0))!.label, 'x');
    assert.equal(m.predict(Float64Array.of(0, 1))!.label, 'y');
  });

  for (const optimizer of ['sgd', 'adam'] as const)
    test(`a ${optimizer} model restored from JSON predicts and learns exactly as the original`, () => {
      const a = new SoftmaxRegression(4, { optimizer, l1: 0.001, l2: 0.001 });
      for (let i = 0; i < 100; i++) a.learn(xs[i], ys[i]);
      const b = SoftmaxRegression.fromJSON(JSON.parse(JSON.stringify(a.toJSON())), 4);
      for (let i = 100; i < 200; i++) {
        assert.deepEqual(b.predict(xs[i]), a.predict(xs[i]));
        a.learn(xs[i], ys[i]);
        b.learn(xs[i], ys[i]);
      }
      assert.deepEqual(b.toJSON(), a.toJSON());
      assert.throws(() => SoftmaxRegression.fromJSON(a.toJSON(), 3), /not a 3-feature softmax regression/);
    });
});

describe('softmax_regression in learn_predict', () => {
  const { xs, ys } = data(43, 3000, 3);
  const rows: Row[] = xs.map((x, i) => ({ ts: i, f0: x[0], f1: x[1], f2: x[2], cls: ys[i] }));
  const features: FeatureConfig[] = [{ numeric: 'f0' }, { numeric: 'f1' }, { numeric: 'f2' }];
  const config: ModelConfig = { type: 'softmax_regression', optimizer: 'adam', learning_rate: 0.05 };

  test('equals the library predict-then-learn loop for batch sizes 1, 7, 1024 and across a crash-restore', async () => {
    const learner = Learner.create(config, new FeatureSpec(features));
    const want: Row[] = rows.map((r) => {
      const x = learner.encode(r, true);
      const p = learner.predict(x);
      learner.learn(x, String(r.cls));
      return { ...r, prediction: p.value, score: p.score };
    });
    const yaml = `
  - id: scored
    type: learn_predict
    input: in
    model: { type: softmax_regression, optimizer: adam, learning_rate: 0.05 }
    features: [{ numeric: f0 }, { numeric: f1 }, { numeric: f2 }]
    label: cls`;
    for (const batch of [1, 7, 1024]) {
      const { results } = await runSteps(yaml, rows, batch, undefined, 'scored');
      assert.deepEqual(results, want, `batch ${batch}`);
    }
    const restored = await runSteps(yaml, rows, 64, { checkpointAt: 1000, crashAt: 2200 }, 'scored');
    assert.deepEqual(restored.results, want);
    // It learned the three classes: well above the 1/3 of guessing on the last thousand.
    const right = want.slice(2000).filter((r) => r.prediction === r.cls).length;
    assert.ok(right > 550, `${right} of 1000 right`);
  });
});
