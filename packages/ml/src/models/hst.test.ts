import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '@sluice/core/testing';
import { rocAuc } from '../metrics.ts';
import { HalfSpaceTrees } from './hst.ts';

/** A normal record: two features around (0, 0), sd 0.5. */
function normal(random: () => number): Float64Array {
  const g = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return Float64Array.of(0.5 * g(), 0.5 * g());
}

test('scores injected anomalies above normal records (fixed seed): AUC > 0.95', () => {
  const random = seededRandom(21);
  const model = new HalfSpaceTrees(2, { trees: 25, height: 8, window_size: 250, seed: 5 });
  for (let i = 0; i < 1000; i++) model.learn(normal(random));
  const scores: number[] = [];
  const labels: number[] = [];
  let flagged = 0;
  let falseAlarms = 0;
  for (let i = 0; i < 2000; i++) {
    const anomaly = i % 20 === 0;
    // Anomalies: far from the cloud, 2–3 units out in a random direction.
    const x = anomaly
      ? (() => {
          const angle = 2 * Math.PI * random();
          const r = 2 + random();
          return Float64Array.of(r * Math.cos(angle), r * Math.sin(angle));
        })()
      : normal(random);
    const p = model.predict(x)!;
    scores.push(p.score);
    labels.push(anomaly ? 1 : 0);
    if (p.anomaly && anomaly) flagged++;
    if (p.anomaly && !anomaly) falseAlarms++;
    if (!anomaly) model.learn(x);
  }
  const auc = rocAuc(labels, scores);
  assert.ok(auc !== null && auc > 0.95, `AUC ${auc}`);
  // The default threshold (0.2) flags most anomalies and about 1% of the normal records.
  assert.ok(flagged >= 60, `flagged ${flagged} of 100 anomalies`);
  assert.ok(falseAlarms <= 30, `flagged ${falseAlarms} of 1900 normal records`);
});

test('no score before the first window; the reference masses are the counts of the last complete window', () => {
  const model = new HalfSpaceTrees(1, { trees: 3, height: 3, window_size: 4, seed: 1 });
  for (let i = 0; i < 3; i++) model.learn(Float64Array.of(0));
  assert.equal(model.predict(Float64Array.of(0)), undefined);
  model.learn(Float64Array.of(0));
  // Every record took the same path: the root and every node on it hold the 4 records.
  for (let t = 0; t < 3; t++) {
    assert.equal(model.reference[t][0], 4);
    assert.equal(
      model.latest[t].reduce((a, b) => a + b),
      0,
    );
    assert.equal(
      model.reference[t].reduce((a, b) => a + b),
      4 * 4,
    ); // 4 nodes on a height-3 path
  }
  // A record on the same path reaches the leaf at depth 3 with mass 4: 4·2³/4 = 8 per tree.
  assert.equal(model.mass(Float64Array.of(0)), 8);
  assert.equal(model.predict(Float64Array.of(0))?.score, 1 / 9);
});

test('deterministic given the seed; JSON round trip keeps the trees and masses', () => {
  const random = seededRandom(23);
  const a = new HalfSpaceTrees(3, { seed: 9, window_size: 50 });
  const b = new HalfSpaceTrees(3, { seed: 9, window_size: 50 });
  const c = new HalfSpaceTrees(3, { seed: 10, window_size: 50 });
  assert.deepEqual(a.toJSON(), b.toJSON());
  assert.notDeepEqual(a.toJSON().thresholds, c.toJSON().thresholds);
  for (let i = 0; i < 120; i++) a.learn(Float64Array.of(random(), random(), random()));
  const copy = HalfSpaceTrees.fromJSON(JSON.parse(JSON.stringify(a.toJSON())), 3);
  assert.deepEqual(copy.toJSON(), a.toJSON());
  const x = Float64Array.of(0.2, 0.4, 0.9);
  assert.deepEqual(copy.predict(x), a.predict(x));
  assert.throws(() => HalfSpaceTrees.fromJSON(a.toJSON(), 2), /not a 2-feature/);
});
