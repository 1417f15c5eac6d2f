/**
 * A stable 64-bit hash of a record value, as two 32-bit halves, for the cardinality sketch.
 *
 * Two independent 32-bit lanes (an FNV-1a lane and a multiply–xorshift lane) each end in the
 * MurmurHash3 finalizer, so every input bit reaches every output bit. Values of different types
 * hash differently (`1`, `'1'`, `1n` and `true` are four values); numbers hash by their IEEE-754
 * bits with `-0` folded into `0`. The output is part of the checkpoint format: it must never
 * change.
 */

const SEED_STRING = 0x6a09e667;
const SEED_NUMBER = 0xbb67ae85;
const SEED_BIGINT = 0x3c6ef372;
const SEED_BOOLEAN = 0xa54ff53a;
const SEED_OBJECT = 0x510e527f;

const float = new Float64Array(1);
const floatWords = new Uint32Array(float.buffer);

let laneA = 0;
let laneB = 0;

/** The MurmurHash3 32-bit finalizer. */
function fmix32(h: number): number {
  let x = h;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

function start(seed: number): void {
  laneA = (0x811c9dc5 ^ seed) >>> 0;
  laneB = (0x9e3779b9 ^ Math.imul(seed, 0x5bd1e995)) >>> 0;
}

function feed(word: number): void {
  laneA = Math.imul(laneA ^ word, 0x01000193);
  const b = Math.imul(laneB ^ word, 0x5bd1e995);
  laneB = b ^ (b >>> 15);
}

function finish(length: number, out: Uint32Array): void {
  const a = fmix32(laneA ^ length);
  out[0] = a;
  out[1] = fmix32(laneB ^ Math.imul(length, 0x27d4eb2f) ^ (a >>> 7));
}

function hashString(text: string, seed: number, out: Uint32Array): void {
  start(seed);
  const n = text.length;
  for (let i = 0; i < n; i++) feed(text.charCodeAt(i));
  finish(n, out);
}

/**
 * Hashes `value` into `out[0]` (high half) and `out[1]` (low half).
 * Objects and arrays hash by their JSON text.
 */
export function hashValue(value: unknown, out: Uint32Array): void {
  switch (typeof value) {
    case 'string':
      hashString(value, SEED_STRING, out);
      return;
    case 'number':
      float[0] = value === 0 ? 0 : value;
      start(SEED_NUMBER);
      feed(floatWords[0]);
      feed(floatWords[1]);
      finish(8, out);
      return;
    case 'bigint':
      hashString(value.toString(), SEED_BIGINT, out);
      return;
    case 'boolean':
      start(SEED_BOOLEAN);
      feed(value ? 1 : 0);
      finish(1, out);
      return;
    default:
      hashString(
        JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ?? '',
        SEED_OBJECT,
        out,
      );
  }
}
