/**
 * EWMA z-score anomaly detector: per feature, an exponentially weighted moving mean and
 * variance (West's incremental form); a record's score is the largest |z| of its features
 * against the moments learned before it, and it is an anomaly when that exceeds `threshold`
 * after `warmup` records. Unsupervised: it needs no label.
 */

import { Type } from 'typebox';

export const ewmaOptions = Type.Object(
  {
    alpha: Type.Number({
      exclusiveMinimum: 0,
      maximum: 1,
      description: 'Weight of the newest record in the moving mean and variance (larger: forgets faster).',
      default: 0.05,
    }),
    threshold: Type.Number({
      exclusiveMinimum: 0,
      description: 'A |z| above this is an anomaly.',
      default: 3,
    }),
    warmup: Type.Integer({
      minimum: 0,
      description: 'Records learned before any record can be an anomaly.',
      default: 30,
    }),
  },
  { additionalProperties: false },
);

export interface EwmaJson {
  type: 'ewma_zscore';
  version: 1;
  options: { alpha: number; threshold: number; warmup: number };
  n: number;
  means: number[];
  variances: number[];
}

/** What the detector says of a record. */
export interface AnomalyScore {
  /** The largest |z| over the features (0 while no variance is known). */
  score: number;
  anomaly: boolean;
}

export class EwmaZScore {
  readonly type = 'ewma_zscore';
  readonly alpha: number;
  readonly threshold: number;
  readonly warmup: number;
  n = 0;
  readonly means: Float64Array;
  readonly variances: Float64Array;

  constructor(width: number, options: { alpha?: number; threshold?: number; warmup?: number } = {}) {
    this.alpha = options.alpha ?? 0.05;
    this.threshold = options.threshold ?? 3;
    this.warmup = options.warmup ?? 30;
    this.means = new Float64Array(width);
    this.variances = new Float64Array(width);
  }

  predict(x: Float64Array): AnomalyScore {
    let score = 0;
    if (this.n > 0)
      for (let j = 0; j < x.length; j++) {
        const sd = Math.sqrt(this.variances[j]);
        if (sd > 0) score = Math.max(score, Math.abs(x[j] - this.means[j]) / sd);
      }
    return { score, anomaly: this.n >= this.warmup && score > this.threshold };
  }

  /** Folds `x` into the moving moments; the first record sets the means. */
  learn(x: Float64Array): void {
    const a = this.alpha;
    if (this.n === 0) this.means.set(x);
    else
      for (let j = 0; j < x.length; j++) {
        const diff = x[j] - this.means[j];
        const increment = a * diff;
        this.means[j] += increment;
        this.variances[j] = (1 - a) * (this.variances[j] + diff * increment);
      }
    this.n++;
  }

  toJSON(): EwmaJson {
    return {
      type: 'ewma_zscore',
      version: 1,
      options: { alpha: this.alpha, threshold: this.threshold, warmup: this.warmup },
      n: this.n,
      means: Array.from(this.means),
      variances: Array.from(this.variances),
    };
  }

  static fromJSON(json: EwmaJson, width: number): EwmaZScore {
    if (
      json.type !== 'ewma_zscore' ||
      json.version !== 1 ||
      typeof json.n !== 'number' ||
      json.means?.length !== width ||
      json.variances?.length !== width
    )
      throw new Error(`not a ${width}-feature EWMA z-score model`);
    const model = new EwmaZScore(width, json.options);
    model.n = json.n;
    model.means.set(json.means);
    model.variances.set(json.variances);
    return model;
  }
}
