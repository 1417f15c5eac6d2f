/**
 * Half-Space Trees (Tan, Ting & Liu 2011): an ensemble of random, fully grown binary trees over
 * a work space around the features' expected range, built from a seed before any record. Each
 * node counts the records that pass through it in the current window (`latest`) and kept the
 * count of the window before (`reference`); every `window_size` records learned, the latest
 * counts become the reference. A record's mass is, per tree, `reference · 2^depth` at the first
 * node on its path whose reference count is below `size_limit · window_size` (or at the leaf),
 * averaged over the trees and divided by `window_size`: about 1 where the data is as dense as a
 * uniform spread, more in dense regions, 0 in empty ones. The score is 1 / (1 + mass): near 1
 * for records in regions the last window left empty, lower the denser; a record is an anomaly
 * when its score exceeds `threshold`. No score before the first window is complete.
 *
 * Deterministic given `seed`: the trees are drawn from a seeded generator.
 */

import { Type } from 'typebox';

export const hstOptions = Type.Object(
  {
    trees: Type.Integer({ minimum: 1, maximum: 1000, description: 'Trees in the ensemble.', default: 25 }),
    height: Type.Integer({ minimum: 1, maximum: 20, description: 'Depth of every tree.', default: 8 }),
    window_size: Type.Integer({
      minimum: 1,
      description: 'Records per window: the reference masses are those of the last complete window.',
      default: 250,
    }),
    size_limit: Type.Number({
      minimum: 0,
      maximum: 1,
      description:
        'A record’s walk stops at a node whose reference count is below this fraction of `window_size`.',
      default: 0.1,
    }),
    lower: Type.Number({
      description:
        'Least value the features are expected to take (features are standardized by default, hence −3); with `upper` it places the trees’ work space.',
      default: -3,
    }),
    upper: Type.Number({ description: 'Greatest value the features are expected to take.', default: 3 }),
    threshold: Type.Number({
      exclusiveMinimum: 0,
      maximum: 1,
      description:
        'A score above this is an anomaly (0.2: the record’s region held under four times the mass a uniform spread would give it, where the data’s usual regions hold tens of times more). Tune it on your data.',
      default: 0.2,
    }),
    seed: Type.Integer({ description: 'Seed of the random trees.', default: 42 }),
  },
  { additionalProperties: false },
);

export interface HstOptions {
  trees: number;
  height: number;
  window_size: number;
  size_limit: number;
  lower: number;
  upper: number;
  threshold: number;
  seed: number;
}

export interface HstJson {
  type: 'half_space_trees';
  version: 1;
  options: HstOptions;
  /** Records learned. */
  n: number;
  /** Complete windows. */
  windows: number;
  /** Per tree, per inner node (heap order: children of i are 2i+1, 2i+2): the feature split. */
  features: number[][];
  /** Per tree, per inner node: the split value (the middle of the node's work range). */
  thresholds: number[][];
  /** Per tree, per node (inner and leaves, heap order): the reference and latest counts. */
  reference: number[][];
  latest: number[][];
}

/** A 32-bit seeded generator (mulberry32), uniform in [0, 1). */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What the detector says of a record. */
export interface HstScore {
  score: number;
  anomaly: boolean;
}

export class HalfSpaceTrees {
  readonly type = 'half_space_trees';
  readonly width: number;
  readonly options: HstOptions;
  n = 0;
  windows = 0;
  readonly features: Int32Array[];
  readonly thresholds: Float64Array[];
  readonly reference: Float64Array[];
  readonly latest: Float64Array[];

  constructor(width: number, options: Partial<HstOptions> = {}) {
    this.width = width;
    this.options = {
      trees: options.trees ?? 25,
      height: options.height ?? 8,
      window_size: options.window_size ?? 250,
      size_limit: options.size_limit ?? 0.1,
      lower: options.lower ?? -3,
      upper: options.upper ?? 3,
      threshold: options.threshold ?? 0.2,
      seed: options.seed ?? 42,
    };
    const inner = 2 ** this.options.height - 1;
    const nodes = 2 ** (this.options.height + 1) - 1;
    this.features = [];
    this.thresholds = [];
    this.reference = [];
    this.latest = [];
    const random = generator(this.options.seed);
    const { lower, upper } = this.options;
    for (let t = 0; t < this.options.trees; t++) {
      const features = new Int32Array(inner);
      const thresholds = new Float64Array(inner);
      // The work space: per feature, a random point s in [lower, upper] and s ± 2·max(s − lower, upper − s).
      const lo = new Float64Array(width);
      const hi = new Float64Array(width);
      for (let f = 0; f < width; f++) {
        const s = lower + (upper - lower) * random();
        const r = 2 * Math.max(s - lower, upper - s);
        lo[f] = s - r;
        hi[f] = s + r;
      }
      const build = (node: number, lo: Float64Array, hi: Float64Array): void => {
        if (node >= inner) return;
        const f = width === 0 ? 0 : Math.floor(random() * width);
        const mid = width === 0 ? 0 : (lo[f] + hi[f]) / 2;
        features[node] = f;
        thresholds[node] = mid;
        if (width === 0) return;
        const leftHi = Float64Array.from(hi);
        leftHi[f] = mid;
        build(2 * node + 1, lo, leftHi);
        const rightLo = Float64Array.from(lo);
        rightLo[f] = mid;
        build(2 * node + 2, rightLo, hi);
      };
      build(0, lo, hi);
      this.features.push(features);
      this.thresholds.push(thresholds);
      this.reference.push(new Float64Array(nodes));
      this.latest.push(new Float64Array(nodes));
    }
  }

  /** The record's mass relative to a uniform spread (see the module comment); undefined before the first window. */
  mass(x: Float64Array): number | undefined {
    if (this.windows === 0) return undefined;
    const { height, window_size, size_limit } = this.options;
    const inner = 2 ** height - 1;
    const limit = size_limit * window_size;
    let total = 0;
    for (let t = 0; t < this.features.length; t++) {
      const features = this.features[t];
      const thresholds = this.thresholds[t];
      const reference = this.reference[t];
      let node = 0;
      let depth = 0;
      while (node < inner && reference[node] >= limit) {
        node = x[features[node]] <= thresholds[node] ? 2 * node + 1 : 2 * node + 2;
        depth++;
      }
      total += reference[node] * 2 ** depth;
    }
    return total / this.features.length / window_size;
  }

  predict(x: Float64Array): HstScore | undefined {
    const mass = this.mass(x);
    if (mass === undefined) return undefined;
    const score = 1 / (1 + mass);
    return { score, anomaly: score > this.options.threshold };
  }

  learn(x: Float64Array): void {
    const inner = 2 ** this.options.height - 1;
    for (let t = 0; t < this.features.length; t++) {
      const features = this.features[t];
      const thresholds = this.thresholds[t];
      const latest = this.latest[t];
      let node = 0;
      for (;;) {
        latest[node]++;
        if (node >= inner) break;
        node = x[features[node]] <= thresholds[node] ? 2 * node + 1 : 2 * node + 2;
      }
    }
    this.n++;
    if (this.n % this.options.window_size === 0) {
      for (let t = 0; t < this.features.length; t++) {
        this.reference[t].set(this.latest[t]);
        this.latest[t].fill(0);
      }
      this.windows++;
    }
  }

  toJSON(): HstJson {
    return {
      type: 'half_space_trees',
      version: 1,
      options: { ...this.options },
      n: this.n,
      windows: this.windows,
      features: this.features.map((a) => Array.from(a)),
      thresholds: this.thresholds.map((a) => Array.from(a)),
      reference: this.reference.map((a) => Array.from(a)),
      latest: this.latest.map((a) => Array.from(a)),
    };
  }

  static fromJSON(json: HstJson, width: number): HalfSpaceTrees {
    const ok =
      json.type === 'half_space_trees' &&
      json.version === 1 &&
      typeof json.n === 'number' &&
      typeof json.windows === 'number' &&
      Array.isArray(json.features) &&
      json.features.length === json.options?.trees &&
      json.features.every((f) => f.every((v) => v < width));
    if (!ok) throw new Error(`not a ${width}-feature Half-Space Trees model`);
    // The trees come from the JSON (not regrown from the seed): an exported model stays itself.
    const model = new HalfSpaceTrees(width, json.options);
    model.n = json.n;
    model.windows = json.windows;
    for (let t = 0; t < model.features.length; t++) {
      model.features[t].set(json.features[t]);
      model.thresholds[t].set(json.thresholds[t]);
      model.reference[t].set(json.reference[t]);
      model.latest[t].set(json.latest[t]);
    }
    return model;
  }
}
