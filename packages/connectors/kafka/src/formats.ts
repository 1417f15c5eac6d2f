/**
 * Decoding of fetched Kafka record batches into Sluice records, one partition at a time.
 *
 * The decoder walks the library's parsed record batches once and fills parallel arrays (records,
 * offsets, times): no per-record promise, no wrapper object besides the record itself (and its
 * `_kafka` metadata object when metadata is included).
 */

import type { RecordsBatch } from '@platformatic/kafka';
import type { DecodeFailure, Row } from '@sluice/core';

/** How a record's value becomes a Sluice record. */
export type ValueFormat = 'json' | 'string' | 'bytes';

/** The field that carries a record's Kafka coordinates when metadata is included. */
export const METADATA_FIELD = '_kafka';

/** What `_kafka` holds. */
export interface KafkaMetadata {
  topic: string;
  partition: number;
  offset: number;
  /** Kafka timestamp, epoch ms (create or log-append time, as the topic is configured). */
  timestamp: number;
  /** The key as UTF-8 text; null when the record has none. */
  key: string | null;
  /** Headers as UTF-8 text by name (the last wins when a name repeats); null values stay null. */
  headers: { [name: string]: string | null };
}

export interface DecodeOptions {
  readonly format: ValueFormat;
  readonly includeMetadata: boolean;
}

/** Records of one partition decoded from one fetch. Arrays are parallel. */
export interface DecodedChunk {
  records: Row[];
  offsets: number[];
  times: number[];
  /** Failures in offset order, each with its numeric offset. */
  failures: (DecodeFailure & { offset: number })[];
  /** The offset to fetch next: one past the last offset the batches covered. */
  next: number;
  /** Leader epoch of the last batch, for commits. */
  leaderEpoch: number;
}

/** Attribute bit of control batches (transaction markers): they carry no records to read. */
const IS_CONTROL = 1 << 5;

const EMPTY = Buffer.alloc(0);

function text(b: Buffer | null): string | null {
  return b === null ? null : b.toString('utf8');
}

/**
 * Decodes the batches fetched for one partition from offset `from`: records before `from` (a
 * compacted or re-fetched batch may start earlier) are skipped; control batches only move
 * `next`. A value that does not decode becomes a failure with its coordinates; the rest goes on.
 */
export function decodeBatches(
  topic: string,
  partition: number,
  batches: readonly RecordsBatch[],
  from: number,
  options: DecodeOptions,
  now: number,
): DecodedChunk {
  const records: Row[] = [];
  const offsets: number[] = [];
  const times: number[] = [];
  const failures: (DecodeFailure & { offset: number })[] = [];
  const { format, includeMetadata } = options;
  let next = from;
  let leaderEpoch = -1;
  for (let b = 0; b < batches.length; b++) {
    const batch = batches[b];
    const base = Number(batch.firstOffset);
    const end = base + batch.lastOffsetDelta + 1;
    if (end > next) next = end;
    leaderEpoch = batch.partitionLeaderEpoch;
    if (batch.attributes & IS_CONTROL) continue;
    const ts0 = Number(batch.firstTimestamp);
    const list = batch.records;
    for (let i = 0; i < list.length; i++) {
      const rec = list[i];
      const offset = base + rec.offsetDelta;
      if (offset < from) continue;
      let ts = ts0 + Number(rec.timestampDelta);
      if (!(ts >= 0)) ts = now;
      let row: Row;
      const value = rec.value;
      if (format === 'json') {
        if (value === null) {
          failures.push({
            payload: '',
            message: where(topic, partition, offset, 'has no value (a tombstone), not a JSON object'),
            offset,
          });
          continue;
        }
        const raw = value.toString('utf8');
        let parsed: unknown;
        try {
          parsed = JSON.parse(raw);
        } catch (err) {
          failures.push({
            payload: raw,
            message: where(topic, partition, offset, `is not valid JSON: ${(err as Error).message}`),
            offset,
          });
          continue;
        }
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
          const kind = parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : `a ${typeof parsed}`;
          failures.push({
            payload: raw,
            message: where(topic, partition, offset, `is ${kind}, not a JSON object`),
            offset,
          });
          continue;
        }
        row = parsed as Row;
      } else if (format === 'string') {
        row = { value: text(value) };
      } else {
        row = { value: value === null ? null : (value ?? EMPTY).toString('base64') };
      }
      if (includeMetadata) {
        const headers: { [name: string]: string | null } = {};
        const h = rec.headers;
        for (let j = 0; j < h.length; j++) {
          const name = h[j][0];
          if (name !== null) headers[name.toString('utf8')] = text(h[j][1]);
        }
        const meta: KafkaMetadata = { topic, partition, offset, timestamp: ts, key: text(rec.key), headers };
        row[METADATA_FIELD] = meta;
      }
      records.push(row);
      offsets.push(offset);
      times.push(ts);
    }
  }
  return { records, offsets, times, failures, next, leaderEpoch };
}

function where(topic: string, partition: number, offset: number, what: string): string {
  return `record at topic '${topic}' partition ${partition} offset ${offset} ${what}`;
}
