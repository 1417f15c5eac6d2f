import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '@sluice/core/testing';
import { EwmaZScore } from './ewma.ts';

test('the moving mean and variance equal the exponentially weighted sums over the history', () => {
  const random = seededRandom(41);
  const alpha = 0.1;
  const xs = Array.from({ length: 120 }, () => 10 + 5 * random());
  const model = new EwmaZScore(1, { alpha, warmup: 0 });
  xs.forEach((x, t) => {
    model.learn(Float64Array.of(x));
    // Closed form: record i of t+1 weighs α(1−α)^(t−i), the first (1−α)^t.
    const weights = xs
      .slice(0, t + 1)
      .map((_, i) => (i === 0 ? (1 - alpha) ** t : alpha * (1 - alpha) ** (t - i)));
    const mean = weights.reduce((s, w, i) => s + w * xs[i], 0);
    const variance = weights.reduce((s, w, i) => s + w * (xs[i] - mean) ** 2, 0);
    assert.ok(Math.abs(model.means[0] - mean) < 1e-9, `mean at ${t}`);
    assert.ok(
      Math.abs(model.variances[0] - variance) < 1e-9,
      `variance at ${t}: ${model.variances[0]} vs ${variance}`,
    );
  });
});

test('scores the largest |z| against the moments before the record; flags only after the warm-up', () => {
  const random = seededRandom(43);
  const model = new EwmaZScore(2, { alpha: 0.05, threshold: 4, warmup: 50 });
  for (let i = 0; i < 49; i++) model.learn(Float64Array.of(random(), 100 + random()));
  assert.equal(model.predict(Float64Array.of(0.5, 150)).anomaly, false, 'still warming up');
  model.learn(Float64Array.of(0.5, 100.5));
  const spike = model.predict(Float64Array.of(0.5, 150));
  const z = Math.abs(150 - model.means[1]) / Math.sqrt(model.variances[1]);
  assert.equal(spike.score, Math.max(z, Math.abs(0.5 - model.means[0]) / Math.sqrt(model.variances[0])));
  assert.equal(spike.anomaly, true);
  assert.equal(model.predict(Float64Array.of(model.means[0], model.means[1])).anomaly, false);
  const copy = EwmaZScore.fromJSON(JSON.parse(JSON.stringify(model.toJSON())), 2);
  assert.deepEqual(copy.predict(Float64Array.of(0.2, 101)), model.predict(Float64Array.of(0.2, 101)));
  assert.deepEqual(copy.toJSON(), model.toJSON());
});
