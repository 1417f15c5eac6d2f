/**
 * The size of a record in bytes, as the byte bounds of queues count it.
 */

import type { Row } from './record.ts';

/** Records of a batch without texts whose size is estimated; the others count their average. */
const SAMPLE = 16;

/** Depth below which nested values are not walked but counted at a flat rate. */
const MAX_DEPTH = 16;
const DEEP_VALUE_BYTES = 64;

/**
 * Bytes a record counts for in a queue bounded in bytes: the length of the text it was decoded
 * from when there is one (`texts` of a batch, a request body's line), else an estimate of its
 * JSON size made in one pass over its values — a string counts its length plus quotes, a number
 * 8, a key its length plus separators. It counts characters, not UTF-8 bytes, and not the heap
 * overhead of the objects (typically two to five times the text), so bounds are approximate.
 */
export function recordBytes(record: Row, text?: string): number {
  return text === undefined ? estimate(record, 0) : text.length;
}

/**
 * Bytes a batch of records counts for: the sum of `recordBytes` over records that have a text,
 * and for a batch without texts an estimate from at most 16 of its records, evenly spread, times
 * the number of records — a sample, so that bounding a queue costs O(1) per batch, not a walk
 * over every record (records of one batch come from one step and are usually alike).
 */
export function batchBytes(records: readonly Row[], texts?: readonly (string | undefined)[]): number {
  const n = records.length;
  if (texts !== undefined) {
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const text = texts[i];
      bytes += text === undefined ? estimate(records[i], 0) : text.length;
    }
    return bytes;
  }
  if (n <= SAMPLE) {
    let bytes = 0;
    for (let i = 0; i < n; i++) bytes += estimate(records[i], 0);
    return bytes;
  }
  let sampled = 0;
  for (let k = 0; k < SAMPLE; k++) sampled += estimate(records[Math.floor((k * n) / SAMPLE)], 0);
  return Math.round((sampled / SAMPLE) * n);
}

function estimate(value: unknown, depth: number): number {
  switch (typeof value) {
    case 'string':
      return value.length + 2;
    case 'number':
      return 8;
    case 'boolean':
      return 5;
    case 'object': {
      if (value === null) return 4;
      if (depth >= MAX_DEPTH) return DEEP_VALUE_BYTES;
      let bytes = 2;
      if (Array.isArray(value)) {
        for (const item of value) bytes += estimate(item, depth + 1) + 1;
        return bytes;
      }
      const fields = value as { [key: string]: unknown };
      for (const key in fields) bytes += key.length + 4 + estimate(fields[key], depth + 1);
      return bytes;
    }
    default:
      return 8;
  }
}
