/**
 * Drift detectors over a stream of numbers (a model's errors): ADWIN (Bifet & Gavaldà 2007, the
 * exponential-histogram form ADWIN2) and the Page–Hinkley test. Each `update(x)` returns whether
 * a change was detected at that value. Both are deterministic and go to and from plain JSON.
 */

import { Type } from 'typebox';

export const driftSchema = Type.Object(
  {
    detector: Type.Union([Type.Literal('adwin'), Type.Literal('page_hinkley')], {
      description:
        '`adwin`: adaptive window — a drift when the newer part of the window has a higher mean error than the older part, by more than a bound set by `delta`; `page_hinkley`: a change when the cumulative rise of the error above its mean (less `magnitude`) exceeds `threshold`.',
    }),
    delta: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        exclusiveMaximum: 1,
        description:
          '`adwin`: confidence of a detected change (smaller: fewer false alarms, later detections). Default 0.002.',
      }),
    ),
    clock: Type.Optional(
      Type.Integer({ minimum: 1, description: '`adwin`: values between two checks for a cut. Default 32.' }),
    ),
    min_window: Type.Optional(
      Type.Integer({ minimum: 1, description: '`adwin`: least length of either sub-window. Default 5.' }),
    ),
    threshold: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, description: '`page_hinkley`: the alarm threshold λ. Default 50.' }),
    ),
    magnitude: Type.Optional(
      Type.Number({
        minimum: 0,
        description: '`page_hinkley`: rise tolerated per value (δ). Default 0.005.',
      }),
    ),
    alpha: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        maximum: 1,
        description: '`page_hinkley`: fading factor of the cumulative sum. Default 0.9999.',
      }),
    ),
    min_instances: Type.Optional(
      Type.Integer({ minimum: 1, description: '`page_hinkley`: values before any alarm. Default 30.' }),
    ),
    on_drift: Type.Optional(
      Type.Union([Type.Literal('reset'), Type.Literal('keep'), Type.Literal('fork')], {
        description:
          '`reset`: the key’s model (and its feature state) starts afresh after a drift; `keep`: only report it; `fork`: a candidate model is trained from the drift record on while the model in place keeps predicting, and takes its place once its error summed over the last `fork_window` records (both tested on each before learning it) is lower (`swap`), or is dropped after `fork_patience` records (`discard`). Default `reset`.',
      }),
    ),
    fork_window: Type.Optional(
      Type.Integer({
        minimum: 1,
        description:
          '`on_drift: fork`: records over which the candidate’s and the model in place’s prequential errors are compared. Default 200.',
      }),
    ),
    fork_patience: Type.Optional(
      Type.Integer({
        minimum: 1,
        description:
          '`on_drift: fork`: records after which a candidate that has not beaten the model in place is dropped. Default 5000.',
      }),
    ),
  },
  {
    additionalProperties: false,
    description:
      'Drift detection on the prequential error stream (0/1 misclassification; the absolute error for linear regression): a detected change writes a record to the side output `drift` (read as `input: <step id>.drift`) and, with `on_drift: reset`, resets the key’s model, or with `on_drift: fork` trains a candidate beside it.',
    examples: [{ detector: 'adwin', delta: 0.002 }],
  },
);

export interface DriftConfig {
  detector: 'adwin' | 'page_hinkley';
  delta?: number;
  clock?: number;
  min_window?: number;
  threshold?: number;
  magnitude?: number;
  alpha?: number;
  min_instances?: number;
  on_drift?: 'reset' | 'keep' | 'fork';
  fork_window?: number;
  fork_patience?: number;
}

/** One ADWIN bucket: the sum of its values and the sum of their squared deviations. */
interface Bucket {
  total: number;
  variance: number;
}

export interface AdwinJson {
  detector: 'adwin';
  delta: number;
  clock: number;
  minWindow: number;
  ticks: number;
  width: number;
  total: number;
  variance: number;
  /** rows[i]: buckets of 2^i values, oldest first. */
  rows: Bucket[][];
}

const MAX_BUCKETS = 5;

export class Adwin {
  readonly delta: number;
  readonly clock: number;
  readonly minWindow: number;
  ticks = 0;
  /** Values in the window, their sum and the sum of their squared deviations from its mean. */
  width = 0;
  total = 0;
  variance = 0;
  rows: Bucket[][] = [];

  constructor(options: { delta?: number; clock?: number; min_window?: number } = {}) {
    this.delta = options.delta ?? 0.002;
    this.clock = options.clock ?? 32;
    this.minWindow = options.min_window ?? 5;
  }

  get mean(): number {
    return this.width === 0 ? 0 : this.total / this.width;
  }

  /**
   * Adds `x`; true when the window was cut because the newer values' mean rose above the older
   * ones' (the error grew). A fall also cuts the window (ADWIN keeps only the current regime)
   * but is not a drift: a learning model's error falls as it learns.
   */
  update(x: number): boolean {
    if (this.width > 0) {
      const mean = this.total / this.width;
      this.variance += (this.width * (x - mean) * (x - mean)) / (this.width + 1);
    }
    this.width++;
    this.total += x;
    if (this.rows.length === 0) this.rows.push([]);
    this.rows[0].push({ total: x, variance: 0 });
    this.#compress();
    this.ticks++;
    if (this.ticks % this.clock !== 0 || this.width < 2 * this.minWindow) return false;
    let rose = false;
    for (let cut = this.#cut(); cut !== 0; cut = this.#cut()) {
      this.#dropOldest();
      if (cut > 0) rose = true;
    }
    return rose;
  }

  #compress(): void {
    for (let i = 0; i < this.rows.length; i++) {
      const row = this.rows[i];
      if (row.length <= MAX_BUCKETS) break;
      const a = row.shift()!;
      const b = row.shift()!;
      const n = 2 ** i;
      const d = a.total / n - b.total / n;
      if (i + 1 === this.rows.length) this.rows.push([]);
      this.rows[i + 1].push({
        total: a.total + b.total,
        variance: a.variance + b.variance + (n * n * d * d) / (2 * n),
      });
    }
  }

  /**
   * Whether some split of the window into older and newer parts has means further apart than
   * the bound: 1 when the newer mean is the higher, −1 when lower, 0 for no such split.
   */
  #cut(): number {
    if (this.width < 2 * this.minWindow) return 0;
    const windowVariance = this.variance / this.width;
    const deltaPrime = Math.log((2 * Math.log(this.width)) / this.delta);
    let n0 = 0;
    let t0 = 0;
    // Oldest first: the highest row, each row's buckets oldest first.
    for (let i = this.rows.length - 1; i >= 0; i--) {
      const size = 2 ** i;
      for (const bucket of this.rows[i]) {
        n0 += size;
        t0 += bucket.total;
        const n1 = this.width - n0;
        if (n1 < this.minWindow) return 0;
        if (n0 < this.minWindow) continue;
        const diff = (this.total - t0) / n1 - t0 / n0;
        const m = 1 / (n0 - this.minWindow + 1) + 1 / (n1 - this.minWindow + 1);
        const epsilon = Math.sqrt(2 * m * windowVariance * deltaPrime) + (2 / 3) * deltaPrime * m;
        if (Math.abs(diff) > epsilon) return Math.sign(diff);
      }
    }
    return 0;
  }

  #dropOldest(): void {
    const i = this.rows.length - 1;
    const bucket = this.rows[i].shift()!;
    if (this.rows[i].length === 0) this.rows.pop();
    const n1 = 2 ** i;
    const n0 = this.width - n1;
    const mean1 = bucket.total / n1;
    const mean0 = (this.total - bucket.total) / n0;
    this.variance -= bucket.variance + (n0 * n1 * (mean0 - mean1) * (mean0 - mean1)) / this.width;
    if (this.variance < 0) this.variance = 0;
    this.width = n0;
    this.total -= bucket.total;
  }

  toJSON(): AdwinJson {
    return {
      detector: 'adwin',
      delta: this.delta,
      clock: this.clock,
      minWindow: this.minWindow,
      ticks: this.ticks,
      width: this.width,
      total: this.total,
      variance: this.variance,
      rows: structuredClone(this.rows),
    };
  }

  static fromJSON(json: AdwinJson): Adwin {
    const adwin = new Adwin({ delta: json.delta, clock: json.clock, min_window: json.minWindow });
    adwin.ticks = json.ticks;
    adwin.width = json.width;
    adwin.total = json.total;
    adwin.variance = json.variance;
    adwin.rows = structuredClone(json.rows);
    return adwin;
  }
}

export interface PageHinkleyJson {
  detector: 'page_hinkley';
  threshold: number;
  magnitude: number;
  alpha: number;
  minInstances: number;
  n: number;
  mean: number;
  sum: number;
  min: number;
}

/** The Page–Hinkley test for a rise in the mean (the error growing). */
export class PageHinkley {
  readonly threshold: number;
  readonly magnitude: number;
  readonly alpha: number;
  readonly minInstances: number;
  n = 0;
  mean = 0;
  sum = 0;
  min = 0;

  constructor(
    options: { threshold?: number; magnitude?: number; alpha?: number; min_instances?: number } = {},
  ) {
    this.threshold = options.threshold ?? 50;
    this.magnitude = options.magnitude ?? 0.005;
    this.alpha = options.alpha ?? 0.9999;
    this.minInstances = options.min_instances ?? 30;
  }

  /** Adds `x`; true on a change (the test then starts afresh). */
  update(x: number): boolean {
    this.n++;
    this.mean += (x - this.mean) / this.n;
    this.sum = this.alpha * this.sum + (x - this.mean - this.magnitude);
    if (this.sum < this.min) this.min = this.sum;
    if (this.n >= this.minInstances && this.sum - this.min > this.threshold) {
      this.n = 0;
      this.mean = 0;
      this.sum = 0;
      this.min = 0;
      return true;
    }
    return false;
  }

  toJSON(): PageHinkleyJson {
    return {
      detector: 'page_hinkley',
      threshold: this.threshold,
      magnitude: this.magnitude,
      alpha: this.alpha,
      minInstances: this.minInstances,
      n: this.n,
      mean: this.mean,
      sum: this.sum,
      min: this.min,
    };
  }

  static fromJSON(json: PageHinkleyJson): PageHinkley {
    const ph = new PageHinkley({
      threshold: json.threshold,
      magnitude: json.magnitude,
      alpha: json.alpha,
      min_instances: json.minInstances,
    });
    ph.n = json.n;
    ph.mean = json.mean;
    ph.sum = json.sum;
    ph.min = json.min;
    return ph;
  }
}

export type DriftDetector = Adwin | PageHinkley;
export type DriftJson = AdwinJson | PageHinkleyJson;

export function createDetector(config: DriftConfig): DriftDetector {
  return config.detector === 'adwin' ? new Adwin(config) : new PageHinkley(config);
}

export function detectorFromJson(json: DriftJson): DriftDetector {
  if (json?.detector === 'adwin') return Adwin.fromJSON(json);
  if (json?.detector === 'page_hinkley') return PageHinkley.fromJSON(json);
  throw new Error('not a drift detector');
}
