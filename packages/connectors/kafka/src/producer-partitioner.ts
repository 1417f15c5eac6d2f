/**
 * Partitioners of the `kafka` sink. `murmur2_hash` puts a keyed message where the Java client's
 * default partitioner does: partition `(murmur2(key) & 0x7fffffff) mod partitions`.
 */

const M = 0x5bd1e995;
const SEED = 0x9747b28c;

/**
 * Kafka's murmur2 hash of `data` as a signed 32-bit integer, bit for bit the Java client's
 * `Utils.murmur2` (32-bit arithmetic with `Math.imul`).
 */
export function murmur2(data: Uint8Array, length = data.length): number {
  let h = SEED ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  const rest = length & 3;
  if (rest > 0) {
    if (rest === 3) h ^= data[whole + 2] << 16;
    if (rest >= 2) h ^= data[whole + 1] << 8;
    h ^= data[whole];
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Where short ASCII text is copied to be hashed. */
const scratch = new Uint8Array(256);

/**
 * murmur2 of the UTF-8 bytes of `text`. Short ASCII text, the usual key, is hashed from a
 * scratch array (its bytes are its character codes): no Buffer per key.
 */
export function murmur2Text(text: string): number {
  const n = text.length;
  if (n <= scratch.length) {
    let i = 0;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) break;
      scratch[i] = c;
    }
    if (i === n) return murmur2(scratch, n);
  }
  return murmur2(Buffer.from(text));
}

/** How a message's partition is chosen. */
export type PartitionerKind = 'murmur2_hash' | 'round_robin';

/**
 * A partition chooser: a non-negative number that the producer takes modulo the topic's
 * partition count. `murmur2_hash` hashes keys and rotates key-less messages over the partitions;
 * `round_robin` rotates every message.
 */
export function partitioner(kind: PartitionerKind): (key: Buffer | string | undefined) => number {
  let next = 0;
  const rotate = () => {
    const p = next;
    next = (next + 1) & 0x7fffffff;
    return p;
  };
  if (kind === 'round_robin') return rotate;
  return (key) =>
    key === undefined ? rotate() : (typeof key === 'string' ? murmur2Text(key) : murmur2(key)) & 0x7fffffff;
}
