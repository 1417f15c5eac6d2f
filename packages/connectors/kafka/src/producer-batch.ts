/**
 * Kafka record batches (message format v2) written straight into one buffer per partition: the
 * sink's hot path. The client library builds the same bytes through many small buffers; doing
 * it here in one pass is what lets the sink produce several hundred thousand records per
 * CPU-second (see docs/benchmarks.md).
 */

import { createRequire } from 'node:module';
import { type CompressionAlgorithmValue, compressionsAlgorithms, crc32c } from '@platformatic/kafka';
import type { ProducerRecord } from './producer-settings.ts';
import { BATCH_HEADER, TRANSACTIONAL } from './record-batches.ts';

/**
 * CRC-32C of a batch: `@node-rs/crc32` (native, an optional dependency whose binary ships in its
 * registry package) on the bytes as they are — the client library's own `crc32c` copies them
 * into a new array first, which made the CRC four times dearer; without the native package, the
 * library's.
 */
const crc = ((): ((bytes: Buffer) => number) => {
  try {
    const native = createRequire(import.meta.url)('@node-rs/crc32') as {
      crc32c(input: Uint8Array, initialState?: number): number;
    };
    return (bytes) => native.crc32c(bytes);
  } catch {
    return crc32c;
  }
})();
/** Offset of the CRC, and of the attributes it starts covering. */
const CRC_AT = 17;
const ATTRIBUTES_AT = 21;

/** Where a batch belongs and whose it is. */
export interface BatchOptions {
  producerId: bigint;
  producerEpoch: number;
  /** Sequence number of the first record (idempotence). */
  baseSequence: number;
  transactional: boolean;
  compression: CompressionAlgorithmValue;
}

/** Zig-zag encoding of a safe integer (as Kafka's varint and varlong), without 32-bit overflow. */
function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

/** Bytes of the unsigned varint of `n` (n < 2^53). */
function varintLength(n: number): number {
  let length = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    length++;
  }
  return length;
}

function writeVarint(buf: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    buf[at++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[at++] = n;
  return at;
}

/** The varint of the length of `bytes` (-1 when absent) followed by the bytes. */
function bytesLength(bytes: Buffer | undefined): number {
  return bytes === undefined ? 1 : varintLength(bytes.length * 2) + bytes.length;
}

/**
 * The UTF-8 length of `text`: counted here for short text (a key), where a call into the
 * runtime would cost more than the count.
 */
export function utf8Length(text: string): number {
  const n = text.length;
  if (n > 64) return Buffer.byteLength(text);
  let bytes = n;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2; // a surrogate pair: 2 characters, 4 bytes
      i++;
    } else bytes += 2; // 3 bytes (a lone surrogate becomes U+FFFD, also 3)
  }
  return bytes;
}

function writeBytes(buf: Buffer, at: number, bytes: Buffer | undefined): number {
  if (bytes === undefined) {
    buf[at] = 1; // zig-zag of -1
    return at + 1;
  }
  at = writeVarint(buf, at, bytes.length * 2);
  return at + bytes.copy(buf, at);
}

/** A key or value of `length` bytes (-1: none): its length as a varint, then its bytes. */
function writeField(buf: Buffer, at: number, field: Buffer | string | undefined, length: number): number {
  if (field === undefined) {
    buf[at] = 1; // zig-zag of -1
    return at + 1;
  }
  at = writeVarint(buf, at, length * 2);
  if (typeof field !== 'string') return at + field.copy(buf, at);
  if (length === field.length && length <= 32) {
    // Short ASCII text (a key): its bytes are its character codes.
    for (let i = 0; i < length; i++) buf[at + i] = field.charCodeAt(i);
    return at + length;
  }
  return at + buf.write(field, at);
}

/**
 * Encodes `records` (all of one partition, in order) as one record batch. Records without a
 * timestamp get `now`.
 */
export function encodeRecordBatch(
  records: readonly ProducerRecord[],
  options: BatchOptions,
  now: number,
): Buffer {
  const n = records.length;
  let baseTimestamp = records[0].timestamp ?? now;
  for (let i = 1; i < n; i++) {
    const t = records[i].timestamp ?? now;
    if (t < baseTimestamp) baseTimestamp = t;
  }
  let maxTimestamp = baseTimestamp;
  const bodies = new Array<number>(n);
  /** Key and value lengths in bytes, -1 for none (text is measured once, here). */
  const keyLengths = new Array<number>(n);
  const valueLengths = new Array<number>(n);
  let size = 0;
  for (let i = 0; i < n; i++) {
    const r = records[i];
    const t = r.timestamp ?? now;
    if (t > maxTimestamp) maxTimestamp = t;
    const v = r.value;
    const valueLength =
      v === undefined ? -1 : typeof v === 'string' ? (r.valueBytes ?? Buffer.byteLength(v)) : v.length;
    valueLengths[i] = valueLength;
    const k = r.key;
    const keyLength = k === undefined ? -1 : typeof k === 'string' ? (r.keyBytes ?? utf8Length(k)) : k.length;
    keyLengths[i] = keyLength;
    let body =
      1 +
      varintLength(zigzag(t - baseTimestamp)) +
      varintLength(i * 2) +
      (keyLength < 0 ? 1 : varintLength(keyLength * 2) + keyLength) +
      (valueLength < 0 ? 1 : varintLength(valueLength * 2) + valueLength);
    const headers = r.headers;
    if (headers === undefined) body += 1;
    else {
      body += varintLength(headers.size * 2);
      for (const [name, value] of headers) body += bytesLength(name) + bytesLength(value);
    }
    bodies[i] = body;
    size += varintLength(body * 2) + body;
  }
  let buf = Buffer.allocUnsafe(BATCH_HEADER + size);
  let at = BATCH_HEADER;
  for (let i = 0; i < n; i++) {
    const r = records[i];
    at = writeVarint(buf, at, bodies[i] * 2);
    buf[at++] = 0; // record attributes
    at = writeVarint(buf, at, zigzag((r.timestamp ?? now) - baseTimestamp));
    at = writeVarint(buf, at, i * 2);
    at = writeField(buf, at, r.key, keyLengths[i]);
    at = writeField(buf, at, r.value, valueLengths[i]);
    const headers = r.headers;
    if (headers === undefined) buf[at++] = 0;
    else {
      at = writeVarint(buf, at, headers.size * 2);
      for (const [name, value] of headers) {
        at = writeBytes(buf, at, name);
        at = writeBytes(buf, at, value);
      }
    }
  }
  let attributes = options.transactional ? TRANSACTIONAL : 0;
  const algorithm = compressionsAlgorithms[options.compression];
  if (options.compression !== 'none') {
    const compressed = algorithm.compressSync(buf.subarray(BATCH_HEADER));
    const out = Buffer.allocUnsafe(BATCH_HEADER + compressed.length);
    compressed.copy(out, BATCH_HEADER);
    buf = out;
    attributes |= algorithm.bitmask;
  }
  buf.writeBigInt64BE(0n, 0); // base offset: assigned by the broker
  buf.writeInt32BE(buf.length - 12, 8); // batch length: what follows this field
  buf.writeInt32BE(-1, 12); // partition leader epoch: set by the broker
  buf[16] = 2; // magic
  buf.writeInt16BE(attributes, ATTRIBUTES_AT);
  buf.writeInt32BE(n - 1, 23); // last offset delta
  buf.writeBigInt64BE(BigInt(baseTimestamp), 27);
  buf.writeBigInt64BE(BigInt(maxTimestamp), 35);
  buf.writeBigInt64BE(options.producerId, 43);
  buf.writeInt16BE(options.producerEpoch, 51);
  buf.writeInt32BE(options.baseSequence, 53);
  buf.writeInt32BE(n, 57);
  buf.writeUInt32BE(crc(buf.subarray(ATTRIBUTES_AT)), CRC_AT);
  return buf;
}
