/**
 * Online linear models: logistic regression (binary) and linear regression, learned one record
 * at a time by SGD or Adam, with L1 (truncated-gradient proximal step) and L2 regularization and
 * a learning-rate schedule.
 *
 * Per record the loss is the log-loss (logistic) or half the squared error (linear) plus
 * `l2 / 2 · ‖w‖²` and `l1 · ‖w‖₁`; the intercept is not regularized. Learning from a record
 * takes one step along that record's gradient, so many passes with a decaying rate converge to
 * the minimum of the mean loss — the batch fit the tests compare against.
 */

import { type Static, Type } from 'typebox';

export const linearOptions = Type.Object(
  {
    optimizer: Type.Union([Type.Literal('sgd'), Type.Literal('adam')], {
      description: 'Plain stochastic gradient descent, or Adam (per-weight adaptive rates).',
      default: 'sgd',
    }),
    learning_rate: Type.Number({ exclusiveMinimum: 0, description: 'Base step size.', default: 0.05 }),
    schedule: Type.Union([Type.Literal('constant'), Type.Literal('inverse_sqrt'), Type.Literal('inverse')], {
      description:
        'How the step size decays with the number of records learned t: `constant`; `inverse_sqrt` — rate / sqrt(1 + decay·t); `inverse` — rate / (1 + decay·t).',
      default: 'inverse_sqrt',
    }),
    decay: Type.Number({ minimum: 0, description: 'Decay speed of the schedule.', default: 0.01 }),
    l1: Type.Number({
      minimum: 0,
      description: 'L1 penalty per record (drives weights to exactly 0).',
      default: 0,
    }),
    l2: Type.Number({ minimum: 0, description: 'L2 penalty per record.', default: 0 }),
    beta1: Type.Number({
      minimum: 0,
      exclusiveMaximum: 1,
      description: 'Adam: first-moment decay.',
      default: 0.9,
    }),
    beta2: Type.Number({
      minimum: 0,
      exclusiveMaximum: 1,
      description: 'Adam: second-moment decay.',
      default: 0.999,
    }),
  },
  { additionalProperties: false },
);

export type LinearOptions = Static<typeof linearOptions>;

export const LINEAR_DEFAULTS: LinearOptions = {
  optimizer: 'sgd',
  learning_rate: 0.05,
  schedule: 'inverse_sqrt',
  decay: 0.01,
  l1: 0,
  l2: 0,
  beta1: 0.9,
  beta2: 0.999,
};

/** The JSON form of a linear model (checkpoints, exports, `predict`'s model file). */
export interface LinearModelJson {
  type: 'logistic_regression' | 'linear_regression';
  version: 1;
  options: LinearOptions;
  weights: number[];
  bias: number;
  /** Records learned. */
  t: number;
  /** Adam's moments (weights then bias), absent for SGD. */
  m?: number[];
  v?: number[];
}

const EPSILON = 1e-8;

/** The logistic function, without overflow for large |z|. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/** A logistic or linear regression over `width` features. */
export class LinearModel {
  readonly type: 'logistic_regression' | 'linear_regression';
  readonly options: LinearOptions;
  readonly weights: Float64Array;
  bias = 0;
  /** Records learned. */
  t = 0;
  /** Adam's moments: `width` weights then the bias. */
  readonly #m: Float64Array | undefined;
  readonly #v: Float64Array | undefined;

  constructor(
    type: 'logistic_regression' | 'linear_regression',
    width: number,
    options: Partial<LinearOptions>,
  ) {
    this.type = type;
    this.options = { ...LINEAR_DEFAULTS, ...options };
    this.weights = new Float64Array(width);
    if (this.options.optimizer === 'adam') {
      this.#m = new Float64Array(width + 1);
      this.#v = new Float64Array(width + 1);
    }
  }

  /** w·x + b. */
  margin(x: Float64Array): number {
    const w = this.weights;
    let z = this.bias;
    for (let j = 0; j < w.length; j++) z += w[j] * x[j];
    return z;
  }

  /** P(y = 1 | x) for logistic regression, the expected y for linear regression. */
  predict(x: Float64Array): number {
    const z = this.margin(x);
    return this.type === 'logistic_regression' ? sigmoid(z) : z;
  }

  /** The step size for the next record. */
  rate(): number {
    const { learning_rate: rate, schedule, decay } = this.options;
    if (schedule === 'constant') return rate;
    if (schedule === 'inverse') return rate / (1 + decay * this.t);
    return rate / Math.sqrt(1 + decay * this.t);
  }

  /** One step on record (x, y): y ∈ {0, 1} for logistic regression, any finite number for linear. */
  learn(x: Float64Array, y: number): void {
    const residual = this.predict(x) - y; // d loss / d margin for both losses
    const rate = this.rate();
    const { l1, l2 } = this.options;
    const w = this.weights;
    const n = w.length;
    this.t++;
    const m = this.#m;
    const v = this.#v;
    if (m === undefined || v === undefined) {
      for (let j = 0; j < n; j++) {
        const g = residual * x[j] + l2 * w[j];
        w[j] -= rate * g;
      }
      this.bias -= rate * residual;
    } else {
      const { beta1, beta2 } = this.options;
      const c1 = 1 - beta1 ** this.t;
      const c2 = 1 - beta2 ** this.t;
      for (let j = 0; j <= n; j++) {
        const g = j < n ? residual * x[j] + l2 * w[j] : residual;
        m[j] = beta1 * m[j] + (1 - beta1) * g;
        v[j] = beta2 * v[j] + (1 - beta2) * g * g;
        const step = (rate * (m[j] / c1)) / (Math.sqrt(v[j] / c2) + EPSILON);
        if (j < n) w[j] -= step;
        else this.bias -= step;
      }
    }
    if (l1 > 0) {
      const shrink = rate * l1;
      for (let j = 0; j < n; j++) {
        const wj = w[j];
        w[j] = wj > shrink ? wj - shrink : wj < -shrink ? wj + shrink : 0;
      }
    }
  }

  toJSON(): LinearModelJson {
    const json: LinearModelJson = {
      type: this.type,
      version: 1,
      options: { ...this.options },
      weights: Array.from(this.weights),
      bias: this.bias,
      t: this.t,
    };
    if (this.#m && this.#v) {
      json.m = Array.from(this.#m);
      json.v = Array.from(this.#v);
    }
    return json;
  }

  /** The model a {@link toJSON} result describes; throws when `json` is not one of `width` features. */
  static fromJSON(json: LinearModelJson, width: number): LinearModel {
    if (
      (json.type !== 'logistic_regression' && json.type !== 'linear_regression') ||
      json.version !== 1 ||
      !Array.isArray(json.weights) ||
      json.weights.length !== width ||
      typeof json.bias !== 'number' ||
      typeof json.t !== 'number'
    ) {
      throw new Error(`not a ${width}-feature linear model`);
    }
    const model = new LinearModel(json.type, width, json.options);
    model.weights.set(json.weights);
    model.bias = json.bias;
    model.t = json.t;
    if (model.#m && model.#v) {
      if (!Array.isArray(json.m) || !Array.isArray(json.v) || json.m.length !== width + 1)
        throw new Error('an Adam model without its moments');
      model.#m.set(json.m);
      model.#v.set(json.v);
    }
    return model;
  }
}
