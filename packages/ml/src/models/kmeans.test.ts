import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '@sluice/core/testing';
import { StreamingKMeans } from './kmeans.ts';

/** Three blobs in the plane, interleaved at random. */
function blobs(seed: number, n: number): Float64Array[] {
  const random = seededRandom(seed);
  const centers = [
    [0, 0],
    [10, 0],
    [0, 10],
  ];
  return Array.from({ length: n }, () => {
    const c = centers[Math.floor(random() * 3)];
    return Float64Array.of(c[0] + random() * 2 - 1, c[1] + random() * 2 - 1);
  });
}

test('each center is the mean of the records assigned to it, computed directly from the assignments', () => {
  const xs = blobs(3, 900);
  const model = new StreamingKMeans(2, { k: 3 });
  const assigned: number[] = [];
  for (const x of xs) {
    const before = model.centers.length;
    const nearest = model.predict(x);
    model.learn(x);
    // A record that opened a center belongs to it; otherwise to the nearest center.
    assigned.push(model.centers.length > before ? model.centers.length - 1 : nearest!.cluster);
  }
  assert.equal(model.centers.length, 3);
  for (let c = 0; c < 3; c++) {
    const members = xs.filter((_, i) => assigned[i] === c);
    assert.equal(model.counts[c], members.length);
    for (let j = 0; j < 2; j++) {
      const mean = members.reduce((s, x) => s + x[j], 0) / members.length;
      assert.ok(
        Math.abs(model.centers[c][j] - mean) < 1e-9,
        `center ${c}[${j}] ${model.centers[c][j]} vs ${mean}`,
      );
    }
  }
  // The blobs are far apart: each center lands on one blob, within its spread.
  const found = model.centers.map((c) => [Math.round(c[0] / 10) * 10, Math.round(c[1] / 10) * 10].join(','));
  assert.deepEqual([...found].sort(), ['0,0', '0,10', '10,0']);
});

test('predicts the nearest center and its distance; round-trips through JSON exactly', () => {
  const xs = blobs(5, 300);
  const model = new StreamingKMeans(2, { k: 3, decay: 0.01 });
  assert.equal(model.predict(xs[0]), undefined);
  for (const x of xs.slice(0, 150)) model.learn(x);
  const copy = StreamingKMeans.fromJSON(JSON.parse(JSON.stringify(model.toJSON())), 2);
  for (const x of xs.slice(150)) {
    const p = model.predict(x)!;
    const d = model.centers.map((c) => Math.hypot(x[0] - c[0], x[1] - c[1]));
    assert.equal(p.cluster, d.indexOf(Math.min(...d)));
    assert.ok(Math.abs(p.distance - Math.min(...d)) < 1e-12);
    assert.deepEqual(copy.predict(x), p);
    model.learn(x);
    copy.learn(x);
  }
  assert.deepEqual(copy.toJSON(), model.toJSON());
});
