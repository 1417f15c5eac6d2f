/**
 * The Nexmark generator's random numbers: one short stream per event, a pure function of
 * (seed, stream, event number), so that any event can be computed alone.
 *
 * The key of a stream is a 32-bit hash of the seed, the stream's salt and the event number
 * (MurmurHash3's finalizer, a bijection: for event numbers below 2^32 no two events share a key).
 * The key seeds sfc32 (Chris Doty-Humphrey's small fast counting generator, 128 bits of state):
 * events get unrelated streams instead of overlapping windows of one sequence, which is what
 * happens when a generator with a 32-bit state and an additive step is reseeded per event.
 */

import { fmix32 } from './generate-rng.ts';

const TWO_POW_32 = 4294967296;

/** Folds a safe integer (a seed, up to 2^53 in magnitude) into 32 bits. */
function fold(value: number): number {
  const hi = Math.floor(value / TWO_POW_32);
  return fmix32(fmix32((hi ^ 0x5bd1e995) | 0) ^ (value >>> 0));
}

/**
 * A random stream, repositioned per event with `reset`; one instance serves every event of a
 * reader, so drawing allocates nothing.
 */
export class NexmarkRng {
  readonly #key: number;
  #a = 0;
  #b = 0;
  #c = 0;
  #n = 0;

  /** A stream family for `seed`; `salt` separates families of one seed (events, channels). */
  constructor(seed: number, salt: number) {
    this.#key = fmix32(fold(seed) ^ fmix32(salt + 0x632be5ab));
  }

  /** Positions the stream at the start of the numbers of `index` (a safe non-negative integer). */
  reset(index: number): void {
    const lo = index >>> 0;
    const hi = index < TWO_POW_32 ? 0 : Math.floor(index / TWO_POW_32);
    const key = fmix32(fmix32(this.#key ^ hi) ^ lo);
    this.#a = key;
    this.#b = fmix32(key ^ 0x9e3779b9);
    this.#c = fmix32(key + 0x7f4a7c15);
    this.#n = 1;
    // Two rounds spread the key over the whole state before the first number is used.
    this.next();
    this.next();
  }

  /** The next number in [0, 2^32). */
  next(): number {
    const t = (this.#a + this.#b + this.#n) | 0;
    this.#n = (this.#n + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) + t;
    this.#c |= 0;
    return t >>> 0;
  }

  /** The next number in [0, 1), with 32 bits of resolution. */
  float(): number {
    return this.next() / TWO_POW_32;
  }

  /** The next integer in [0, n), for 1 ≤ n ≤ 2^32. */
  int(n: number): number {
    return Math.floor((this.next() / TWO_POW_32) * n);
  }
}
