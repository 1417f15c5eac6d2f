import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '@sluice/core/testing';
import { type HoeffdingSplit, HoeffdingTree, isHoeffdingLeaf } from './hoeffding.ts';

/** Three classes: x0 ≤ 0.5 → a; above it, x1 ≤ 0.7 → b, else c; x2 is noise. */
function known(x: Float64Array): string {
  if (x[0] <= 0.5) return 'a';
  return x[1] <= 0.7 ? 'b' : 'c';
}

function sample(random: () => number): Float64Array {
  return Float64Array.of(random(), random(), random());
}

test('learns the known two-level tree: the root splits x0 near 0.5, its right child x1 near 0.7', () => {
  const random = seededRandom(7);
  const tree = new HoeffdingTree(3, { grace_period: 200, split_points: 19 });
  for (let i = 0; i < 20_000; i++) {
    const x = sample(random);
    tree.learn(x, known(x));
  }
  const root = tree.nodes[0] as HoeffdingSplit;
  assert.ok(!isHoeffdingLeaf(root));
  assert.equal(root.feature, 0);
  assert.ok(Math.abs(root.threshold - 0.5) < 0.06, `root threshold ${root.threshold}`);
  // The right side holds classes b and c, split on x1 (its first split, whatever follows).
  const right = tree.nodes[root.right] as HoeffdingSplit;
  assert.ok(!isHoeffdingLeaf(right), 'the right child split');
  assert.equal(right.feature, 1);
  assert.ok(Math.abs(right.threshold - 0.7) < 0.06, `right threshold ${right.threshold}`);
  // The left side is pure: it never splits.
  assert.ok(isHoeffdingLeaf(tree.nodes[root.left]));
  // Accuracy on fresh records, against the rule itself.
  let correct = 0;
  for (let i = 0; i < 5000; i++) {
    const x = sample(random);
    if (tree.predict(x)?.label === known(x)) correct++;
  }
  assert.ok(correct / 5000 > 0.95, `accuracy ${correct / 5000}`);
});

test('does not split on noise: labels independent of the features leave the root a leaf (no forced tie split)', () => {
  const random = seededRandom(11);
  const tree = new HoeffdingTree(3, { tie_threshold: 0 });
  for (let i = 0; i < 5000; i++) tree.learn(sample(random), random() < 0.5 ? 'x' : 'y');
  assert.equal(tree.depth, 0);
  assert.equal(tree.nodes.length, 1);
});

test('predicts nothing before learning; the majority class and its share after', () => {
  const tree = new HoeffdingTree(1);
  assert.equal(tree.predict(Float64Array.of(0)), undefined);
  for (const label of ['p', 'q', 'q']) tree.learn(Float64Array.of(1), label);
  const p = tree.predict(Float64Array.of(0));
  assert.equal(p?.label, 'q');
  assert.equal(p?.probabilities.get('q'), 2 / 3);
});

test('JSON round trip: the copy predicts and learns as the original', () => {
  const random = seededRandom(13);
  const a = new HoeffdingTree(3, { grace_period: 100 });
  for (let i = 0; i < 3000; i++) {
    const x = sample(random);
    a.learn(x, known(x));
  }
  const b = HoeffdingTree.fromJSON(JSON.parse(JSON.stringify(a.toJSON())), 3);
  assert.deepEqual(b.toJSON(), a.toJSON());
  for (let i = 0; i < 3000; i++) {
    const x = sample(random);
    assert.deepEqual(b.predict(x), a.predict(x));
    a.learn(x, known(x));
    b.learn(x, known(x));
  }
  assert.deepEqual(b.toJSON(), a.toJSON());
  assert.throws(() => HoeffdingTree.fromJSON(a.toJSON(), 2), /not a 2-feature Hoeffding tree/);
});
