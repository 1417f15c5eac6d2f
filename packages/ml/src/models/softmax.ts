/**
 * Multiclass logistic regression (softmax regression), learned one record at a time by SGD or
 * Adam with L1 and L2 regularization and a learning-rate schedule — the options of the binary
 * logistic regression.
 *
 * One weight vector and intercept per class; P(k | x) = exp(w_k·x + b_k) / Σ_j exp(w_j·x + b_j).
 * Per record the loss is −log P(y | x) plus `l2 / 2 · Σ_k ‖w_k‖²` and `l1 · Σ_k ‖w_k‖₁`
 * (intercepts not regularized); its gradient for class k is (P(k | x) − [k = y])·x + l2·w_k.
 * Classes are learned as they appear: a new class starts with zero weights (and zero Adam
 * moments) and is predicted from the next record on. The intercepts are identified only up to a
 * common constant, the probabilities exactly — which is what the tests compare.
 */

import type { LinearOptions } from './linear.ts';
import { LINEAR_DEFAULTS } from './linear.ts';

export interface SoftmaxJson {
  type: 'softmax_regression';
  version: 1;
  options: LinearOptions;
  classes: string[];
  /** Per class: its weights. */
  weights: number[][];
  bias: number[];
  /** Records learned. */
  t: number;
  /** Adam's moments per class (weights then the intercept), absent for SGD. */
  m?: number[][];
  v?: number[][];
}

const EPSILON = 1e-8;

export class SoftmaxRegression {
  readonly type = 'softmax_regression';
  readonly width: number;
  readonly options: LinearOptions;
  readonly classes: string[] = [];
  readonly weights: Float64Array[] = [];
  readonly bias: number[] = [];
  t = 0;
  readonly #m: Float64Array[] = [];
  readonly #v: Float64Array[] = [];
  /** Scratch: the probabilities of the last {@link probabilities} call. */
  #p = new Float64Array(0);

  constructor(width: number, options: Partial<LinearOptions> = {}) {
    this.width = width;
    this.options = { ...LINEAR_DEFAULTS, ...options };
  }

  /** The index of class `label`, added (zero weights) if new. */
  #classIndex(label: string): number {
    let k = this.classes.indexOf(label);
    if (k >= 0) return k;
    k = this.classes.length;
    this.classes.push(label);
    this.weights.push(new Float64Array(this.width));
    this.bias.push(0);
    if (this.options.optimizer === 'adam') {
      this.#m.push(new Float64Array(this.width + 1));
      this.#v.push(new Float64Array(this.width + 1));
    }
    this.#p = new Float64Array(this.classes.length);
    return k;
  }

  /** P(k | x) for each class, in {@link classes} order (a view overwritten by the next call). */
  probabilities(x: Float64Array): Float64Array {
    const p = this.#p;
    const n = this.classes.length;
    let max = Number.NEGATIVE_INFINITY;
    for (let k = 0; k < n; k++) {
      const w = this.weights[k];
      let z = this.bias[k];
      for (let j = 0; j < w.length; j++) z += w[j] * x[j];
      p[k] = z;
      if (z > max) max = z;
    }
    let sum = 0;
    for (let k = 0; k < n; k++) {
      p[k] = Math.exp(p[k] - max);
      sum += p[k];
    }
    for (let k = 0; k < n; k++) p[k] /= sum;
    return p;
  }

  /** The most probable class (the first in {@link classes} order on a tie) and every class's probability; undefined before any class. */
  predict(x: Float64Array): { label: string; probabilities: Map<string, number> } | undefined {
    if (this.classes.length === 0) return undefined;
    const p = this.probabilities(x);
    let best = 0;
    const probabilities = new Map<string, number>();
    for (let k = 0; k < p.length; k++) {
      probabilities.set(this.classes[k], p[k]);
      if (p[k] > p[best]) best = k;
    }
    return { label: this.classes[best], probabilities };
  }

  /** The step size for the next record (the schedule of the linear models). */
  rate(): number {
    const { learning_rate: rate, schedule, decay } = this.options;
    if (schedule === 'constant') return rate;
    if (schedule === 'inverse') return rate / (1 + decay * this.t);
    return rate / Math.sqrt(1 + decay * this.t);
  }

  learn(x: Float64Array, label: string): void {
    const y = this.#classIndex(label);
    const p = this.probabilities(x);
    const rate = this.rate();
    const { l1, l2, beta1, beta2 } = this.options;
    const n = this.width;
    this.t++;
    const adam = this.options.optimizer === 'adam';
    const c1 = 1 - beta1 ** this.t;
    const c2 = 1 - beta2 ** this.t;
    for (let k = 0; k < this.classes.length; k++) {
      const residual = p[k] - (k === y ? 1 : 0);
      const w = this.weights[k];
      if (!adam) {
        for (let j = 0; j < n; j++) w[j] -= rate * (residual * x[j] + l2 * w[j]);
        this.bias[k] -= rate * residual;
      } else {
        const m = this.#m[k];
        const v = this.#v[k];
        for (let j = 0; j <= n; j++) {
          const g = j < n ? residual * x[j] + l2 * w[j] : residual;
          m[j] = beta1 * m[j] + (1 - beta1) * g;
          v[j] = beta2 * v[j] + (1 - beta2) * g * g;
          const step = (rate * (m[j] / c1)) / (Math.sqrt(v[j] / c2) + EPSILON);
          if (j < n) w[j] -= step;
          else this.bias[k] -= step;
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
  }

  toJSON(): SoftmaxJson {
    const json: SoftmaxJson = {
      type: 'softmax_regression',
      version: 1,
      options: { ...this.options },
      classes: [...this.classes],
      weights: this.weights.map((w) => Array.from(w)),
      bias: [...this.bias],
      t: this.t,
    };
    if (this.options.optimizer === 'adam') {
      json.m = this.#m.map((a) => Array.from(a));
      json.v = this.#v.map((a) => Array.from(a));
    }
    return json;
  }

  static fromJSON(json: SoftmaxJson, width: number): SoftmaxRegression {
    const k = Array.isArray(json.classes) ? json.classes.length : -1;
    const ok =
      json.type === 'softmax_regression' &&
      json.version === 1 &&
      k >= 0 &&
      Array.isArray(json.weights) &&
      json.weights.length === k &&
      json.weights.every((w) => Array.isArray(w) && w.length === width) &&
      Array.isArray(json.bias) &&
      json.bias.length === k &&
      typeof json.t === 'number';
    if (!ok) throw new Error(`not a ${width}-feature softmax regression`);
    const model = new SoftmaxRegression(width, json.options);
    if (model.options.optimizer === 'adam' && (json.m?.length !== k || json.v?.length !== k))
      throw new Error('an Adam model without its moments');
    json.classes.forEach((c, i) => {
      model.#classIndex(c);
      model.weights[i].set(json.weights[i]);
      model.bias[i] = json.bias[i];
      if (json.m !== undefined && json.v !== undefined && model.options.optimizer === 'adam') {
        model.#m[i].set(json.m[i]);
        model.#v[i].set(json.v[i]);
      }
    });
    model.t = json.t;
    return model;
  }
}
