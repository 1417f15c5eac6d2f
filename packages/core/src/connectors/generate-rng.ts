/**
 * The generator's random numbers: a stream that is a pure function of (seed, record index).
 *
 * Seeding per index (instead of one stream for the whole run) is what makes the `generate`
 * source resumable and partitionable: record `i` is the same whichever partition produces it and
 * however many records came before it in this process.
 */

const TWO_POW_32 = 4294967296;

/** MurmurHash3's 32-bit finalizer: a bijection on 32-bit integers with full avalanche. */
export function fmix32(value: number): number {
  let h = value | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

/** Folds any safe integer (a seed or an index up to 2^53) into 32 bits. */
function fold(value: number): number {
  return fmix32((value >>> 0) ^ fmix32(Math.floor(value / TWO_POW_32) + 0x9e3779b9));
}

/**
 * A mutable random-number stream (mulberry32) positioned with `reset(seed, index)`.
 *
 * One instance is reused for every record a reader produces, so drawing numbers allocates nothing.
 */
export class Rng {
  #seed = 0;
  #state = 0;

  constructor(seed = 0) {
    this.#seed = fold(seed);
  }

  /** Positions the stream at the start of record `index`'s numbers for this instance's seed. */
  reset(index: number): void {
    const lo = index >>> 0;
    const hi = index < TWO_POW_32 ? 0 : Math.floor(index / TWO_POW_32);
    this.#state = fmix32(fmix32(this.#seed ^ hi) ^ lo);
  }

  /** The next number in [0, 2^32). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) | 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** The next number in [0, 1). */
  float(): number {
    return this.next() / TWO_POW_32;
  }

  /** The next integer in [0, n), for n ≤ 2^32. */
  int(n: number): number {
    return Math.floor((this.next() / TWO_POW_32) * n);
  }
}
