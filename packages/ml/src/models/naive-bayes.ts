/**
 * Naive Bayes classifiers, learned online: Gaussian (per class, a running mean and variance of
 * each feature, Welford) and multinomial (per class, summed feature counts with additive
 * smoothing, for non-negative count features such as hashed text tokens). Classes are the
 * label's text and appear as they are first learned.
 */

import { Type } from 'typebox';

export const gaussianNbOptions = Type.Object(
  {
    var_smoothing: Type.Number({
      minimum: 0,
      description:
        'Added to every variance, times the largest variance of any feature in any class (as scikit-learn does), so a constant feature does not give infinite densities.',
      default: 1e-9,
    }),
  },
  { additionalProperties: false },
);

export const multinomialNbOptions = Type.Object(
  {
    alpha: Type.Number({
      exclusiveMinimum: 0,
      description: 'Additive (Laplace) smoothing of the counts.',
      default: 1,
    }),
  },
  { additionalProperties: false },
);

/** A class prediction: the most probable class and each class's posterior probability. */
export interface ClassPrediction {
  label: string;
  /** The posterior of each class, in the order classes were first learned. */
  probabilities: Map<string, number>;
}

/** Posterior probabilities from per-class log joint likelihoods (log-sum-exp). */
function posteriors(classes: readonly string[], logJoint: Float64Array): ClassPrediction {
  let best = 0;
  for (let c = 1; c < classes.length; c++) if (logJoint[c] > logJoint[best]) best = c;
  let sum = 0;
  for (let c = 0; c < classes.length; c++) sum += Math.exp(logJoint[c] - logJoint[best]);
  const probabilities = new Map<string, number>();
  for (let c = 0; c < classes.length; c++)
    probabilities.set(classes[c], Math.exp(logJoint[c] - logJoint[best]) / sum);
  return { label: classes[best], probabilities };
}

export interface GaussianNbJson {
  type: 'gaussian_nb';
  version: 1;
  options: { var_smoothing: number };
  classes: string[];
  /** Per class: records learned, then per feature mean and sum of squared deviations. */
  counts: number[];
  means: number[][];
  m2s: number[][];
}

/** Gaussian naive Bayes over `width` features. */
export class GaussianNb {
  readonly type = 'gaussian_nb';
  readonly width: number;
  readonly varSmoothing: number;
  readonly classes: string[] = [];
  readonly counts: number[] = [];
  readonly means: Float64Array[] = [];
  readonly m2s: Float64Array[] = [];
  #logJoint = new Float64Array(0);

  constructor(width: number, options: { var_smoothing?: number } = {}) {
    this.width = width;
    this.varSmoothing = options.var_smoothing ?? 1e-9;
  }

  #classIndex(label: string): number {
    let c = this.classes.indexOf(label);
    if (c < 0) {
      c = this.classes.length;
      this.classes.push(label);
      this.counts.push(0);
      this.means.push(new Float64Array(this.width));
      this.m2s.push(new Float64Array(this.width));
    }
    return c;
  }

  learn(x: Float64Array, label: string): void {
    const c = this.#classIndex(label);
    const n = ++this.counts[c];
    const mean = this.means[c];
    const m2 = this.m2s[c];
    for (let j = 0; j < this.width; j++) {
      const d = x[j] - mean[j];
      mean[j] += d / n;
      m2[j] += d * (x[j] - mean[j]);
    }
  }

  /** The class posteriors of `x`; undefined before any record was learned. */
  predict(x: Float64Array): ClassPrediction | undefined {
    const k = this.classes.length;
    if (k === 0) return undefined;
    let maxVar = 0;
    for (let c = 0; c < k; c++)
      for (let j = 0; j < this.width; j++) maxVar = Math.max(maxVar, this.m2s[c][j] / this.counts[c]);
    const epsilon = this.varSmoothing * maxVar;
    if (this.#logJoint.length !== k) this.#logJoint = new Float64Array(k);
    let total = 0;
    for (let c = 0; c < k; c++) total += this.counts[c];
    for (let c = 0; c < k; c++) {
      let lj = Math.log(this.counts[c] / total);
      const mean = this.means[c];
      const m2 = this.m2s[c];
      for (let j = 0; j < this.width; j++) {
        const variance = m2[j] / this.counts[c] + epsilon;
        if (variance === 0) {
          // One record (or identical ones) and no smoothing: the density is a point mass.
          if (x[j] !== mean[j]) lj = Number.NEGATIVE_INFINITY;
          continue;
        }
        const d = x[j] - mean[j];
        lj += -0.5 * Math.log(2 * Math.PI * variance) - (d * d) / (2 * variance);
      }
      this.#logJoint[c] = lj;
    }
    if (this.#logJoint.every((v) => v === Number.NEGATIVE_INFINITY)) this.#logJoint.fill(0);
    return posteriors(this.classes, this.#logJoint);
  }

  toJSON(): GaussianNbJson {
    return {
      type: 'gaussian_nb',
      version: 1,
      options: { var_smoothing: this.varSmoothing },
      classes: [...this.classes],
      counts: [...this.counts],
      means: this.means.map((m) => Array.from(m)),
      m2s: this.m2s.map((m) => Array.from(m)),
    };
  }

  static fromJSON(json: GaussianNbJson, width: number): GaussianNb {
    const k = Array.isArray(json.classes) ? json.classes.length : -1;
    if (
      json.type !== 'gaussian_nb' ||
      json.version !== 1 ||
      k < 0 ||
      json.counts?.length !== k ||
      json.means?.length !== k ||
      json.m2s?.length !== k ||
      json.means.some((m) => m.length !== width) ||
      json.m2s.some((m) => m.length !== width)
    )
      throw new Error(`not a ${width}-feature Gaussian naive Bayes model`);
    const model = new GaussianNb(width, json.options);
    for (let c = 0; c < k; c++) {
      model.classes.push(String(json.classes[c]));
      model.counts.push(json.counts[c]);
      model.means.push(Float64Array.from(json.means[c]));
      model.m2s.push(Float64Array.from(json.m2s[c]));
    }
    return model;
  }
}

export interface MultinomialNbJson {
  type: 'multinomial_nb';
  version: 1;
  options: { alpha: number };
  classes: string[];
  /** Per class: records learned, and the summed count of each feature. */
  counts: number[];
  featureCounts: number[][];
  /** Per class, the sum of its feature counts (kept, not re-summed, so a restore is exact). */
  totals: number[];
}

/** Multinomial naive Bayes over `width` non-negative count features. */
export class MultinomialNb {
  readonly type = 'multinomial_nb';
  readonly width: number;
  readonly alpha: number;
  readonly classes: string[] = [];
  readonly counts: number[] = [];
  readonly featureCounts: Float64Array[] = [];
  /** Per class, the sum of its feature counts. */
  readonly #totals: number[] = [];
  #logJoint = new Float64Array(0);

  constructor(width: number, options: { alpha?: number } = {}) {
    this.width = width;
    this.alpha = options.alpha ?? 1;
  }

  /** Throws when a feature is negative: counts cannot be. */
  static check(x: Float64Array): void {
    for (let j = 0; j < x.length; j++)
      if (x[j] < 0)
        throw new Error(`multinomial naive Bayes needs non-negative features; column ${j} is ${x[j]}`);
  }

  learn(x: Float64Array, label: string): void {
    let c = this.classes.indexOf(label);
    if (c < 0) {
      c = this.classes.length;
      this.classes.push(label);
      this.counts.push(0);
      this.featureCounts.push(new Float64Array(this.width));
      this.#totals.push(0);
    }
    this.counts[c]++;
    const fc = this.featureCounts[c];
    let sum = 0;
    for (let j = 0; j < this.width; j++) {
      fc[j] += x[j];
      sum += x[j];
    }
    this.#totals[c] += sum;
  }

  predict(x: Float64Array): ClassPrediction | undefined {
    const k = this.classes.length;
    if (k === 0) return undefined;
    if (this.#logJoint.length !== k) this.#logJoint = new Float64Array(k);
    let total = 0;
    for (let c = 0; c < k; c++) total += this.counts[c];
    for (let c = 0; c < k; c++) {
      const fc = this.featureCounts[c];
      const logDenominator = Math.log(this.#totals[c] + this.alpha * this.width);
      let lj = Math.log(this.counts[c] / total);
      for (let j = 0; j < this.width; j++)
        if (x[j] !== 0) lj += x[j] * (Math.log(fc[j] + this.alpha) - logDenominator);
      this.#logJoint[c] = lj;
    }
    return posteriors(this.classes, this.#logJoint);
  }

  toJSON(): MultinomialNbJson {
    return {
      type: 'multinomial_nb',
      version: 1,
      options: { alpha: this.alpha },
      classes: [...this.classes],
      counts: [...this.counts],
      featureCounts: this.featureCounts.map((f) => Array.from(f)),
      totals: [...this.#totals],
    };
  }

  static fromJSON(json: MultinomialNbJson, width: number): MultinomialNb {
    const k = Array.isArray(json.classes) ? json.classes.length : -1;
    if (
      json.type !== 'multinomial_nb' ||
      json.version !== 1 ||
      k < 0 ||
      json.counts?.length !== k ||
      json.featureCounts?.length !== k ||
      json.totals?.length !== k ||
      json.featureCounts.some((f) => f.length !== width)
    )
      throw new Error(`not a ${width}-feature multinomial naive Bayes model`);
    const model = new MultinomialNb(width, json.options);
    for (let c = 0; c < k; c++) {
      model.classes.push(String(json.classes[c]));
      model.counts.push(json.counts[c]);
      model.featureCounts.push(Float64Array.from(json.featureCounts[c]));
      model.#totals.push(json.totals[c]);
    }
    return model;
  }
}
