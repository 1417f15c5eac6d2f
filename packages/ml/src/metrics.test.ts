import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '@sluice/core/testing';
import { logLoss, regressionErrors, rocAuc } from './metrics.ts';

/** AUC as the share of (positive, negative) pairs ranked right, ties counting half: O(n²). */
function pairwiseAuc(labels: number[], scores: number[]): number {
  let right = 0;
  let pairs = 0;
  for (let i = 0; i < labels.length; i++)
    for (let j = 0; j < labels.length; j++)
      if (labels[i] === 1 && labels[j] === 0) {
        pairs++;
        right += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
      }
  return right / pairs;
}

test('exact ROC AUC equals the pairwise count, ties included; null for one class', () => {
  const random = seededRandom(9);
  for (let round = 0; round < 20; round++) {
    const n = 5 + Math.floor(random() * 200);
    const labels = Array.from({ length: n }, () => (random() < 0.3 ? 1 : 0));
    // Scores rounded to one decimal: many ties.
    const scores = labels.map((l) => Math.round((random() + 0.3 * l) * 10) / 10);
    if (!labels.includes(1) || !labels.includes(0)) continue;
    assert.ok(Math.abs(rocAuc(labels, scores)! - pairwiseAuc(labels, scores)) < 1e-12);
  }
  assert.equal(rocAuc([1, 1], [0.2, 0.9]), null);
});

test('log-loss, MAE and RMSE by their definitions', () => {
  assert.ok(
    Math.abs(logLoss([1, 0, 1], [0.8, 0.3, 0.6]) - -(Math.log(0.8) + Math.log(0.7) + Math.log(0.6)) / 3) <
      1e-15,
  );
  assert.ok(Number.isFinite(logLoss([1], [0])), 'clipped, not infinite');
  assert.deepEqual(regressionErrors([1, 2, 3], [2, 2, 5]), { mae: 1, rmse: Math.sqrt(5 / 3) });
});
