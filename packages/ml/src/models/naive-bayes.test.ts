import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { seededRandom } from '@sluice/core/testing';
import { GaussianNb, MultinomialNb } from './naive-bayes.ts';

function close(a: number, b: number, tolerance: number, what: string) {
  assert.ok(Math.abs(a - b) <= tolerance * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
}

describe('Gaussian naive Bayes', () => {
  const random = seededRandom(17);
  const classes = ['a', 'b', 'c'];
  const xs: Float64Array[] = [];
  const labels: string[] = [];
  for (let i = 0; i < 600; i++) {
    const c = Math.floor(random() * 3);
    xs.push(Float64Array.of(c + random() * 2, c * 3 - random() * (c + 1), random()));
    labels.push(classes[c]);
  }

  test('its posteriors are those of per-class means and variances computed directly', () => {
    const model = new GaussianNb(3, { var_smoothing: 1e-9 });
    for (let i = 0; i < xs.length; i++) model.learn(xs[i], labels[i]);
    // The batch estimate: per class, the mean and the population variance of each feature.
    const stats = classes.map((c) => {
      const rows = xs.filter((_, i) => labels[i] === c);
      const mean = [0, 1, 2].map((j) => rows.reduce((s, r) => s + r[j], 0) / rows.length);
      const variance = [0, 1, 2].map(
        (j) => rows.reduce((s, r) => s + (r[j] - mean[j]) ** 2, 0) / rows.length,
      );
      return { prior: rows.length / xs.length, mean, variance };
    });
    const epsilon = 1e-9 * Math.max(...stats.flatMap((s) => s.variance));
    const probe = [
      Float64Array.of(0.5, -0.2, 0.5),
      Float64Array.of(1.7, 2, 0.1),
      Float64Array.of(2.9, 4, 0.9),
    ];
    for (const x of probe) {
      const joint = stats.map(
        (s) =>
          s.prior *
          [0, 1, 2].reduce((p, j) => {
            const v = s.variance[j] + epsilon;
            return (p * Math.exp(-((x[j] - s.mean[j]) ** 2) / (2 * v))) / Math.sqrt(2 * Math.PI * v);
          }, 1),
      );
      const total = joint.reduce((a, b) => a + b, 0);
      const prediction = model.predict(x)!;
      for (let c = 0; c < 3; c++)
        close(prediction.probabilities.get(classes[c])!, joint[c] / total, 1e-9, `P(${classes[c]} | ${x})`);
      assert.equal(prediction.label, classes[joint.indexOf(Math.max(...joint))]);
    }
  });

  test('predicts nothing before learning; round-trips through JSON exactly', () => {
    const model = new GaussianNb(3);
    assert.equal(model.predict(xs[0]), undefined);
    for (let i = 0; i < 300; i++) model.learn(xs[i], labels[i]);
    const copy = GaussianNb.fromJSON(JSON.parse(JSON.stringify(model.toJSON())), 3);
    for (let i = 300; i < 600; i++) {
      assert.deepEqual(copy.predict(xs[i]), model.predict(xs[i]));
      model.learn(xs[i], labels[i]);
      copy.learn(xs[i], labels[i]);
    }
    assert.deepEqual(copy.toJSON(), model.toJSON());
    assert.throws(() => GaussianNb.fromJSON(model.toJSON(), 2), /not a 2-feature/);
  });
});

describe('multinomial naive Bayes', () => {
  test('its posteriors are those of smoothed per-class counts computed directly', () => {
    const random = seededRandom(29);
    const d = 6;
    const docs: { x: Float64Array; label: string }[] = [];
    for (let i = 0; i < 200; i++) {
      const spam = random() < 0.4;
      const x = new Float64Array(d);
      for (let k = 0; k < 8; k++) x[Math.floor(random() * (spam ? 3 : d))] += 1;
      docs.push({ x, label: spam ? 'spam' : 'ham' });
    }
    const alpha = 0.5;
    const model = new MultinomialNb(d, { alpha });
    for (const { x, label } of docs) model.learn(x, label);
    const direct = (label: string, x: Float64Array) => {
      const rows = docs.filter((r) => r.label === label);
      const counts = Array.from({ length: d }, (_, j) => rows.reduce((s, r) => s + r.x[j], 0));
      const total = counts.reduce((a, b) => a + b, 0);
      let logp = Math.log(rows.length / docs.length);
      for (let j = 0; j < d; j++) logp += x[j] * Math.log((counts[j] + alpha) / (total + alpha * d));
      return logp;
    };
    for (const probe of [Float64Array.of(3, 2, 1, 0, 0, 0), Float64Array.of(0, 0, 1, 2, 2, 3)]) {
      const spam = Math.exp(direct('spam', probe));
      const ham = Math.exp(direct('ham', probe));
      const prediction = model.predict(probe)!;
      close(prediction.probabilities.get('spam')!, spam / (spam + ham), 1e-9, 'P(spam)');
      assert.equal(prediction.label, spam > ham ? 'spam' : 'ham');
    }
    const copy = MultinomialNb.fromJSON(JSON.parse(JSON.stringify(model.toJSON())), d);
    assert.deepEqual(copy.predict(docs[0].x), model.predict(docs[0].x));
    assert.deepEqual(copy.toJSON(), model.toJSON());
  });

  test('refuses negative features', () => {
    assert.throws(() => MultinomialNb.check(Float64Array.of(1, -1)), /non-negative/);
  });
});
