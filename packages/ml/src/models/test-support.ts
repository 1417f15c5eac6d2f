/**
 * Independent batch fits the online models are compared against: linear least squares by its
 * normal equations and logistic regression by Newton's method, on the same data. Plain dense
 * linear algebra, written here apart from the models.
 */

/** Solves A·x = b by Gaussian elimination with partial pivoting (A is n×n, copied). */
export function solve(a: readonly number[][], b: readonly number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r][col]) > Math.abs(m[pivot][col])) pivot = r;
    [m[col], m[pivot]] = [m[pivot], m[col]];
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = m[r][col] / m[col][col];
      for (let c = col; c <= n; c++) m[r][c] -= f * m[col][c];
    }
  }
  return m.map((row, i) => row[n] / row[i]);
}

/**
 * The minimizer of mean(½(y − w·x − b)²) + ½·l2·‖w‖² (intercept not penalized), from the normal
 * equations over the design matrix with a column of ones: returns [w…, b].
 */
export function ridge(xs: readonly Float64Array[], ys: readonly number[], l2: number): number[] {
  const d = xs[0].length + 1;
  const n = xs.length;
  const a = Array.from({ length: d }, () => new Array(d).fill(0));
  const b = new Array(d).fill(0);
  for (let i = 0; i < n; i++) {
    const row = [...xs[i], 1];
    for (let p = 0; p < d; p++) {
      b[p] += (row[p] * ys[i]) / n;
      for (let q = 0; q < d; q++) a[p][q] += (row[p] * row[q]) / n;
    }
  }
  for (let p = 0; p < d - 1; p++) a[p][p] += l2;
  return solve(a, b);
}

/**
 * The minimizer of mean(log-loss) + ½·l2·‖w‖² (intercept not penalized) by Newton's method to
 * convergence: returns [w…, b].
 */
export function logisticNewton(xs: readonly Float64Array[], ys: readonly number[], l2: number): number[] {
  const d = xs[0].length + 1;
  const n = xs.length;
  let w = new Array(d).fill(0);
  for (let iter = 0; iter < 50; iter++) {
    const grad = new Array(d).fill(0);
    const hess = Array.from({ length: d }, () => new Array(d).fill(0));
    for (let i = 0; i < n; i++) {
      const row = [...xs[i], 1];
      let z = 0;
      for (let p = 0; p < d; p++) z += w[p] * row[p];
      const prob = 1 / (1 + Math.exp(-z));
      for (let p = 0; p < d; p++) {
        grad[p] += ((prob - ys[i]) * row[p]) / n;
        for (let q = 0; q < d; q++) hess[p][q] += (prob * (1 - prob) * row[p] * row[q]) / n;
      }
    }
    for (let p = 0; p < d - 1; p++) {
      grad[p] += l2 * w[p];
      hess[p][p] += l2;
    }
    const step = solve(hess, grad);
    w = w.map((v, p) => v - step[p]);
    if (Math.max(...step.map(Math.abs)) < 1e-12) break;
  }
  return w;
}
