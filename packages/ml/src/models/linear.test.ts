import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { seededRandom } from '@sluice/core/testing';
import { LinearModel, type LinearOptions } from './linear.ts';
import { logisticNewton, ridge } from './test-support.ts';

/** A standard normal draw (Box–Muller) from a seeded uniform. */
function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

function data(seed: number, n: number, d: number, logistic: boolean) {
  const random = seededRandom(seed);
  const truth = Array.from({ length: d }, (_, j) => (j % 2 === 0 ? 1 : -0.5) * (j + 1) * 0.4);
  const xs: Float64Array[] = [];
  const ys: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = Float64Array.from({ length: d }, () => gaussian(random));
    let z = 0.3;
    for (let j = 0; j < d; j++) z += truth[j] * x[j];
    xs.push(x);
    ys.push(logistic ? (random() < 1 / (1 + Math.exp(-z)) ? 1 : 0) : z + 0.5 * gaussian(random));
  }
  return { xs, ys };
}

/** Learns `passes` passes over the data in order; returns [w…, b]. */
function fit(
  type: 'logistic_regression' | 'linear_regression',
  xs: Float64Array[],
  ys: number[],
  options: Partial<LinearOptions>,
  passes: number,
): number[] {
  const model = new LinearModel(type, xs[0].length, options);
  for (let p = 0; p < passes; p++) for (let i = 0; i < xs.length; i++) model.learn(xs[i], ys[i]);
  return [...model.weights, model.bias];
}

function assertClose(actual: number[], expected: number[], tolerance: number, what: string) {
  const worst = Math.max(...actual.map((v, j) => Math.abs(v - expected[j])));
  assert.ok(worst < tolerance, `${what}: max |Δ| ${worst} ≥ ${tolerance}\n got ${actual}\nwant ${expected}`);
}

describe('linear regression', () => {
  const { xs, ys } = data(11, 300, 4, false);

  test('SGD converges to the least-squares solution of the normal equations', () => {
    const online = fit(
      'linear_regression',
      xs,
      ys,
      { schedule: 'inverse', learning_rate: 0.05, decay: 0.0005 },
      300,
    );
    assertClose(online, ridge(xs, ys, 0), 0.01, 'SGD vs normal equations');
  });

  test('SGD with L2 converges to the ridge solution', () => {
    const online = fit(
      'linear_regression',
      xs,
      ys,
      { schedule: 'inverse', learning_rate: 0.05, decay: 0.0005, l2: 0.5 },
      300,
    );
    const batch = ridge(xs, ys, 0.5);
    assertClose(online, batch, 0.01, 'SGD+L2 vs ridge');
    assert.ok(Math.abs(batch[3]) < Math.abs(ridge(xs, ys, 0)[3]), 'the penalty shrinks the weights');
  });

  test('Adam converges to the least-squares solution', () => {
    const online = fit(
      'linear_regression',
      xs,
      ys,
      { optimizer: 'adam', schedule: 'inverse', learning_rate: 0.02, decay: 0.001 },
      300,
    );
    assertClose(online, ridge(xs, ys, 0), 0.01, 'Adam vs normal equations');
  });

  test('SGD with L1 converges to the batch lasso (proximal gradient) solution, which zeroes the noise features', () => {
    // Two informative features and two pure-noise ones.
    const random = seededRandom(5);
    const lx: Float64Array[] = [];
    const ly: number[] = [];
    for (let i = 0; i < 300; i++) {
      const x = Float64Array.from({ length: 4 }, () => gaussian(random));
      lx.push(x);
      ly.push(2 * x[0] - 1 * x[1] + 0.5 * gaussian(random));
    }
    const l1 = 0.1;
    // Batch lasso by ISTA on mean(½ residual²) + l1·‖w‖₁.
    let w = [0, 0, 0, 0, 0];
    for (let iter = 0; iter < 5000; iter++) {
      const g = [0, 0, 0, 0, 0];
      for (let i = 0; i < lx.length; i++) {
        let r = w[4] - ly[i];
        for (let j = 0; j < 4; j++) r += w[j] * lx[i][j];
        for (let j = 0; j < 4; j++) g[j] += (r * lx[i][j]) / lx.length;
        g[4] += r / lx.length;
      }
      const step = 0.1;
      w = w.map((v, j) => {
        const u = v - step * g[j];
        if (j === 4) return u;
        return Math.sign(u) * Math.max(0, Math.abs(u) - step * l1);
      });
    }
    const online = fit(
      'linear_regression',
      lx,
      ly,
      { schedule: 'inverse', learning_rate: 0.05, decay: 0.0005, l1 },
      300,
    );
    assert.ok(w[2] === 0 && w[3] === 0, 'the lasso drops the noise features');
    assertClose(online, w, 0.02, 'SGD+L1 vs ISTA lasso');
  });
});

describe('logistic regression', () => {
  const { xs, ys } = data(23, 400, 5, true);

  test('SGD with L2 converges to the batch Newton fit of the same penalized log-loss', () => {
    const online = fit(
      'logistic_regression',
      xs,
      ys,
      { schedule: 'inverse', learning_rate: 0.1, decay: 0.0005, l2: 0.01 },
      300,
    );
    assertClose(online, logisticNewton(xs, ys, 0.01), 0.02, 'SGD vs Newton');
  });

  test('Adam converges to the batch Newton fit', () => {
    const online = fit(
      'logistic_regression',
      xs,
      ys,
      { optimizer: 'adam', schedule: 'inverse', learning_rate: 0.02, decay: 0.001, l2: 0.01 },
      300,
    );
    assertClose(online, logisticNewton(xs, ys, 0.01), 0.02, 'Adam vs Newton');
  });

  test('predicts a probability; the step size follows the schedule', () => {
    const m = new LinearModel('logistic_regression', 2, {
      schedule: 'inverse_sqrt',
      learning_rate: 0.5,
      decay: 0.25,
    });
    assert.equal(m.predict(Float64Array.of(1, 2)), 0.5);
    assert.equal(m.rate(), 0.5);
    for (let i = 0; i < 100; i++) m.learn(Float64Array.of(1, 0), 1);
    assert.equal(m.rate(), 0.5 / Math.sqrt(1 + 0.25 * 100));
    assert.ok(m.predict(Float64Array.of(1, 0)) > 0.9);
  });
});

describe('JSON round trip', () => {
  for (const optimizer of ['sgd', 'adam'] as const)
    test(`a ${optimizer} model restored from JSON predicts and learns exactly as the original`, () => {
      const { xs, ys } = data(31, 200, 3, true);
      const a = new LinearModel('logistic_regression', 3, { optimizer, l1: 0.001, l2: 0.001 });
      for (let i = 0; i < 100; i++) a.learn(xs[i], ys[i]);
      const b = LinearModel.fromJSON(JSON.parse(JSON.stringify(a.toJSON())), 3);
      for (let i = 100; i < 200; i++) {
        assert.equal(b.predict(xs[i]), a.predict(xs[i]));
        a.learn(xs[i], ys[i]);
        b.learn(xs[i], ys[i]);
      }
      assert.deepEqual(b.toJSON(), a.toJSON());
      assert.throws(() => LinearModel.fromJSON(a.toJSON(), 4), /not a 4-feature linear model/);
    });
});
