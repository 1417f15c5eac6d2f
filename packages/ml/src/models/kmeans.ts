/**
 * Streaming k-means (MacQueen's sequential k-means): the first `k` distinct records become the
 * centers; each later record is assigned to its nearest center (squared Euclidean distance, the
 * lowest index on a tie), which moves to the running mean of the records assigned to it — or,
 * with `decay > 0`, by at least that fraction, so that centers follow a drifting stream.
 * Unsupervised: the prediction is the nearest center's index, the score its distance.
 */

import { Type } from 'typebox';

export const kmeansOptions = Type.Object(
  {
    k: Type.Integer({ minimum: 1, maximum: 1000, description: 'Number of clusters.', default: 3 }),
    decay: Type.Number({
      minimum: 0,
      maximum: 1,
      description:
        'Least step of a center toward each record assigned to it: 0 — the running mean of all of them (MacQueen); larger — recent records weigh more.',
      default: 0,
    }),
  },
  { additionalProperties: false },
);

export interface KMeansJson {
  type: 'streaming_kmeans';
  version: 1;
  options: { k: number; decay: number };
  /** One entry per center found so far (at most k): its records and its coordinates. */
  counts: number[];
  centers: number[][];
}

/** A cluster assignment: the nearest center and the distance to it. */
export interface Assignment {
  cluster: number;
  distance: number;
}

export class StreamingKMeans {
  readonly type = 'streaming_kmeans';
  readonly width: number;
  readonly k: number;
  readonly decay: number;
  readonly counts: number[] = [];
  readonly centers: Float64Array[] = [];

  constructor(width: number, options: { k?: number; decay?: number } = {}) {
    this.width = width;
    this.k = options.k ?? 3;
    this.decay = options.decay ?? 0;
  }

  /** The nearest center of `x`; undefined before the first record. */
  predict(x: Float64Array): Assignment | undefined {
    if (this.centers.length === 0) return undefined;
    let best = 0;
    let bestD = Number.POSITIVE_INFINITY;
    for (let c = 0; c < this.centers.length; c++) {
      const center = this.centers[c];
      let d = 0;
      for (let j = 0; j < this.width; j++) {
        const e = x[j] - center[j];
        d += e * e;
      }
      if (d < bestD) {
        bestD = d;
        best = c;
      }
    }
    return { cluster: best, distance: Math.sqrt(bestD) };
  }

  learn(x: Float64Array): void {
    const nearest = this.predict(x);
    if (this.centers.length < this.k && (nearest === undefined || nearest.distance > 0)) {
      this.centers.push(Float64Array.from(x));
      this.counts.push(1);
      return;
    }
    const c = nearest!.cluster;
    const n = ++this.counts[c];
    const step = Math.max(1 / n, this.decay);
    const center = this.centers[c];
    for (let j = 0; j < this.width; j++) center[j] += step * (x[j] - center[j]);
  }

  toJSON(): KMeansJson {
    return {
      type: 'streaming_kmeans',
      version: 1,
      options: { k: this.k, decay: this.decay },
      counts: [...this.counts],
      centers: this.centers.map((c) => Array.from(c)),
    };
  }

  static fromJSON(json: KMeansJson, width: number): StreamingKMeans {
    if (
      json.type !== 'streaming_kmeans' ||
      json.version !== 1 ||
      !Array.isArray(json.centers) ||
      json.counts?.length !== json.centers.length ||
      json.centers.some((c) => c.length !== width)
    )
      throw new Error(`not a ${width}-feature streaming k-means model`);
    const model = new StreamingKMeans(width, json.options);
    for (let c = 0; c < json.centers.length; c++) {
      model.counts.push(json.counts[c]);
      model.centers.push(Float64Array.from(json.centers[c]));
    }
    return model;
  }
}
