/**
 * Hoeffding tree classifier (VFDT, Domingos & Hulten 2000) over numeric features. Each leaf keeps
 * its class counts and, per feature and class, a running mean and variance (Welford) and the
 * feature's range. Every `grace_period` records a leaf scores binary splits `x[f] ≤ t` at
 * `split_points` evenly spaced thresholds within each feature's range, estimating each class's
 * share on either side from its Gaussian, by information gain. It splits on the best one when
 * that beats the second best feature by more than the Hoeffding bound
 * ε = √(R²·ln(1/δ) / 2n) (R = log₂ classes, n the leaf's records), or when ε < `tie_threshold`.
 * The prediction is the leaf's majority class (the first learned on a tie), the score its share.
 *
 * Deterministic: no randomness; results depend on the records and their order only.
 */

import { Type } from 'typebox';
import type { ClassPrediction } from './naive-bayes.ts';

export const hoeffdingOptions = Type.Object(
  {
    grace_period: Type.Integer({
      minimum: 1,
      description: 'Records a leaf learns between two attempts to split it.',
      default: 200,
    }),
    delta: Type.Number({
      exclusiveMinimum: 0,
      exclusiveMaximum: 1,
      description:
        'Allowed probability that a split is not the one infinite data would choose (the Hoeffding bound’s δ).',
      default: 1e-7,
    }),
    tie_threshold: Type.Number({
      minimum: 0,
      description:
        'Split on the best candidate anyway once the Hoeffding bound falls below this (two near-equal candidates).',
      default: 0.05,
    }),
    max_depth: Type.Integer({ minimum: 1, maximum: 64, description: 'Deepest a leaf can be.', default: 20 }),
    split_points: Type.Integer({
      minimum: 1,
      maximum: 1000,
      description: 'Thresholds tried per feature, evenly spaced within the range the leaf has seen.',
      default: 10,
    }),
  },
  { additionalProperties: false },
);

export interface HoeffdingOptions {
  grace_period: number;
  delta: number;
  tie_threshold: number;
  max_depth: number;
  split_points: number;
}

/** An inner node: records with `x[feature] ≤ threshold` go left. */
export interface HoeffdingSplit {
  feature: number;
  threshold: number;
  left: number;
  right: number;
}

/** A leaf: its class counts and per-feature statistics since it was made. */
export interface HoeffdingLeaf {
  depth: number;
  /** Weight of each class (in the order of `classes`); a new leaf starts with its share of its parent's. */
  counts: number[];
  /** Records learned since the leaf was made. */
  seen: number;
  /** `seen` at the last split attempt. */
  tried: number;
  /** Per feature × class: [records, mean, sum of squared deviations], flat (feature-major). */
  stats: number[][];
  /** Per feature: the least and greatest value seen (0 before the first record). */
  min: number[];
  max: number[];
}

export type HoeffdingNode = HoeffdingSplit | HoeffdingLeaf;

export interface HoeffdingJson {
  type: 'hoeffding_tree';
  version: 1;
  options: HoeffdingOptions;
  classes: string[];
  /** Node 0 is the root; splits name their children by index. */
  nodes: HoeffdingNode[];
}

const isLeaf = (node: HoeffdingNode): node is HoeffdingLeaf => 'counts' in node;

/** erf by Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7). */
function erf(x: number): number {
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-a * a);
  return sign * y;
}

/** The share of a class's records at or below `t`, from its mean and sum of squared deviations. */
function shareBelow(n: number, mean: number, m2: number, t: number): number {
  const variance = n > 1 ? m2 / (n - 1) : 0;
  if (variance <= 0) return mean <= t ? 1 : 0;
  return 0.5 * (1 + erf((t - mean) / Math.sqrt(2 * variance)));
}

function entropy(counts: readonly number[]): number {
  let total = 0;
  for (const c of counts) total += c;
  if (total <= 0) return 0;
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / total) * Math.log2(c / total);
  return h;
}

interface Candidate {
  merit: number;
  feature: number;
  threshold: number;
  left: number[];
  right: number[];
}

export class HoeffdingTree {
  readonly type = 'hoeffding_tree';
  readonly width: number;
  readonly options: HoeffdingOptions;
  readonly classes: string[] = [];
  readonly nodes: HoeffdingNode[];

  constructor(width: number, options: Partial<HoeffdingOptions> = {}) {
    this.width = width;
    this.options = {
      grace_period: options.grace_period ?? 200,
      delta: options.delta ?? 1e-7,
      tie_threshold: options.tie_threshold ?? 0.05,
      max_depth: options.max_depth ?? 20,
      split_points: options.split_points ?? 10,
    };
    this.nodes = [this.#leaf(0, [])];
  }

  #leaf(depth: number, counts: number[]): HoeffdingLeaf {
    return {
      depth,
      counts,
      seen: 0,
      tried: 0,
      stats: Array.from({ length: this.width }, () => []),
      min: new Array(this.width).fill(0),
      max: new Array(this.width).fill(0),
    };
  }

  /** The index of the leaf `x` falls in. */
  leafOf(x: Float64Array): number {
    let i = 0;
    for (;;) {
      const node = this.nodes[i];
      if (isLeaf(node)) return i;
      i = x[node.feature] <= node.threshold ? node.left : node.right;
    }
  }

  /** The leaf's majority class and each class's share; undefined while the leaf has no weight. */
  predict(x: Float64Array): ClassPrediction | undefined {
    const leaf = this.nodes[this.leafOf(x)] as HoeffdingLeaf;
    let total = 0;
    let best = -1;
    for (let c = 0; c < leaf.counts.length; c++) {
      total += leaf.counts[c];
      if (leaf.counts[c] > 0 && (best < 0 || leaf.counts[c] > leaf.counts[best])) best = c;
    }
    if (best < 0) return undefined;
    const probabilities = new Map<string, number>();
    for (let c = 0; c < this.classes.length; c++)
      probabilities.set(this.classes[c], (leaf.counts[c] ?? 0) / total);
    return { label: this.classes[best], probabilities };
  }

  learn(x: Float64Array, label: string): void {
    let c = this.classes.indexOf(label);
    if (c < 0) {
      c = this.classes.length;
      this.classes.push(label);
    }
    const index = this.leafOf(x);
    const leaf = this.nodes[index] as HoeffdingLeaf;
    while (leaf.counts.length <= c) leaf.counts.push(0);
    leaf.counts[c]++;
    leaf.seen++;
    const first = leaf.seen === 1;
    for (let f = 0; f < this.width; f++) {
      const v = x[f];
      if (first || v < leaf.min[f]) leaf.min[f] = v;
      if (first || v > leaf.max[f]) leaf.max[f] = v;
      const s = leaf.stats[f];
      while (s.length < 3 * (c + 1)) s.push(0);
      const n = ++s[3 * c];
      const d = v - s[3 * c + 1];
      s[3 * c + 1] += d / n;
      s[3 * c + 2] += d * (v - s[3 * c + 1]);
    }
    if (leaf.seen - leaf.tried >= this.options.grace_period && leaf.depth < this.options.max_depth) {
      leaf.tried = leaf.seen;
      this.#trySplit(index, leaf);
    }
  }

  /** The best threshold of feature `f` in `leaf`, by information gain; undefined when it has no range. */
  #bestOf(leaf: HoeffdingLeaf, f: number, parentEntropy: number, classes: number): Candidate | undefined {
    const lo = leaf.min[f];
    const hi = leaf.max[f];
    if (!(hi > lo)) return undefined;
    const s = leaf.stats[f];
    let best: Candidate | undefined;
    const k = this.options.split_points;
    for (let i = 1; i <= k; i++) {
      const t = lo + ((hi - lo) * i) / (k + 1);
      const left = new Array(classes).fill(0);
      const right = new Array(classes).fill(0);
      let nl = 0;
      let nr = 0;
      for (let c = 0; c < classes; c++) {
        const n = s[3 * c] ?? 0;
        if (n === 0) continue;
        const below = n * shareBelow(n, s[3 * c + 1], s[3 * c + 2], t);
        left[c] = below;
        right[c] = n - below;
        nl += below;
        nr += n - below;
      }
      const total = nl + nr;
      if (total <= 0) continue;
      const merit = parentEntropy - (nl / total) * entropy(left) - (nr / total) * entropy(right);
      if (best === undefined || merit > best.merit) best = { merit, feature: f, threshold: t, left, right };
    }
    return best;
  }

  #trySplit(index: number, leaf: HoeffdingLeaf): void {
    const classes = leaf.counts.length;
    if (leaf.counts.filter((n) => n > 0).length < 2) return;
    // The class distribution the features' statistics describe (the leaf's own records).
    const own = new Array(classes).fill(0);
    for (let c = 0; c < classes; c++) own[c] = leaf.stats[0]?.[3 * c] ?? 0;
    const parentEntropy = entropy(own);
    let best: Candidate | undefined;
    let second = 0; // the best merit of any other feature; not splitting has merit 0
    for (let f = 0; f < this.width; f++) {
      const candidate = this.#bestOf(leaf, f, parentEntropy, classes);
      if (candidate === undefined) continue;
      if (best === undefined || candidate.merit > best.merit) {
        if (best !== undefined) second = Math.max(second, best.merit);
        best = candidate;
      } else second = Math.max(second, candidate.merit);
    }
    if (best === undefined || best.merit <= 0) return;
    const range = Math.log2(Math.max(2, this.classes.length));
    const epsilon = Math.sqrt((range * range * Math.log(1 / this.options.delta)) / (2 * leaf.seen));
    if (best.merit - second <= epsilon && epsilon >= this.options.tie_threshold) return;
    const left = this.nodes.length;
    this.nodes.push(this.#leaf(leaf.depth + 1, best.left), this.#leaf(leaf.depth + 1, best.right));
    this.nodes[index] = { feature: best.feature, threshold: best.threshold, left, right: left + 1 };
  }

  /** The depth of the deepest leaf (0: the root is a leaf). */
  get depth(): number {
    let depth = 0;
    for (const node of this.nodes) if (isLeaf(node)) depth = Math.max(depth, node.depth);
    return depth;
  }

  toJSON(): HoeffdingJson {
    return {
      type: 'hoeffding_tree',
      version: 1,
      options: { ...this.options },
      classes: [...this.classes],
      nodes: structuredClone(this.nodes),
    };
  }

  static fromJSON(json: HoeffdingJson, width: number): HoeffdingTree {
    if (
      json.type !== 'hoeffding_tree' ||
      json.version !== 1 ||
      !Array.isArray(json.classes) ||
      !Array.isArray(json.nodes) ||
      json.nodes.length === 0 ||
      json.nodes.some((n) => (isLeaf(n) ? n.stats?.length !== width : !(n.feature < width)))
    )
      throw new Error(`not a ${width}-feature Hoeffding tree`);
    const tree = new HoeffdingTree(width, json.options);
    tree.classes.push(...json.classes);
    tree.nodes.splice(0, 1, ...structuredClone(json.nodes));
    return tree;
  }
}

export { isLeaf as isHoeffdingLeaf };
