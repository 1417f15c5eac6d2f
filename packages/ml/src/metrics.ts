/**
 * Prequential metrics over one window's predictions: accuracy, log-loss and exact ROC AUC for
 * classification; MAE and RMSE for regression. Pure functions over arrays.
 */

/** Probabilities are clipped to [ε, 1 − ε] in the log-loss, as scikit-learn does. */
const CLIP = 1e-15;

/** Mean log-loss of P(y = 1) `scores` against 0/1 `labels`. */
export function logLoss(labels: readonly number[], scores: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = Math.min(1 - CLIP, Math.max(CLIP, scores[i]));
    sum -= labels[i] === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return sum / labels.length;
}

/**
 * Exact area under the ROC curve of `scores` for 0/1 `labels`: the Mann–Whitney statistic with
 * tied scores given their average rank. Null when the window holds only one class.
 */
export function rocAuc(labels: readonly number[], scores: readonly number[]): number | null {
  const n = labels.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let positives = 0;
  let rankSum = 0;
  for (let start = 0; start < n; ) {
    let end = start + 1;
    while (end < n && scores[order[end]] === scores[order[start]]) end++;
    const rank = (start + 1 + end) / 2; // average of ranks start+1 … end
    for (let k = start; k < end; k++)
      if (labels[order[k]] === 1) {
        positives++;
        rankSum += rank;
      }
    start = end;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return null;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Mean absolute error and root mean squared error. */
export function regressionErrors(
  labels: readonly number[],
  predictions: readonly number[],
): { mae: number; rmse: number } {
  let abs = 0;
  let sq = 0;
  for (let i = 0; i < labels.length; i++) {
    const e = predictions[i] - labels[i];
    abs += Math.abs(e);
    sq += e * e;
  }
  return { mae: abs / labels.length, rmse: Math.sqrt(sq / labels.length) };
}
