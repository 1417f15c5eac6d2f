/**
 * Decoding of fetched Kafka record batches into Sluice records, one partition at a time.
 *
 * The decoder walks the fetched bytes (record-batches.ts) and fills parallel arrays (records,
 * offsets, times): a value goes from its bytes to a row with no Buffer, BigInt, promise or
 * wrapper object in between — only the row itself (and its `_kafka` metadata object when
 * metadata is included).
 */

import {
  DEFAULT_INPUT_LIMITS,
  type DecodeFailure,
  decodedUtf8Problem,
  type InputLimits,
  jsonValueProblem,
  type Row,
} from '@sluice/core';
import { forEachRecord, type RecordVisitor, readHeaders, type ScannedBatches } from './record-batches.ts';
import { type ValueDecoder, WIRE_HEADER, wireSchemaId } from './schema-decoders.ts';

/** How a record's value becomes a Sluice record. */
export type ValueFormat = 'json' | 'string' | 'bytes' | 'avro' | 'json_schema';

/** Compiled registry schemas by id (see `SchemaResolver`): no I/O. */
export interface SchemaLookup {
  /** The decoder of schema `id`, `{ error }` when it is unusable, undefined when not fetched yet. */
  get(id: number): { ok: ValueDecoder } | { error: string } | undefined;
}

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
  /** The schemas of the registry formats (`avro`, `json_schema`); required for them. */
  readonly schemas?: SchemaLookup;
  /** `json` and `string`: JSON depth and what invalid UTF-8 becomes (DEFAULT_INPUT_LIMITS when absent). */
  readonly limits?: InputLimits;
}

/** Records of one partition decoded from some batches of a fetch. Arrays are parallel. */
export interface DecodedChunk {
  records: Row[];
  offsets: number[];
  times: number[];
  /** Format json without metadata: the text each record was parsed from (see `SourceBatch.texts`). */
  texts?: (string | undefined)[];
  /** Failures in offset order, each with its numeric offset. */
  failures: (DecodeFailure & { offset: number })[];
  /**
   * Registry schema ids the batches use that `schemas` does not know yet. When present the chunk
   * is incomplete: fetch these (`SchemaResolver.resolve`) and decode the same batches again.
   */
  missing?: Set<number>;
}

/**
 * Decodes batches `first` to `last - 1` of a scanned fetch: records before `from` (a compacted
 * or re-fetched batch may start earlier) are skipped. A value that does not decode becomes a
 * failure with its coordinates; the rest goes on. Registry formats read the Confluent wire
 * format (magic byte 0, a 4-byte big-endian schema id, the payload) and decode with the schema
 * of that id; an id not known yet makes the chunk incomplete (`missing`), the rest is skipped.
 */
export function decodeBatches(
  topic: string,
  partition: number,
  scanned: ScannedBatches,
  first: number,
  last: number,
  from: number,
  options: DecodeOptions,
  now: number,
): DecodedChunk {
  // Sized for every record of the batches (the headers count them), trimmed at the end: no
  // regrowth of four arrays per chunk.
  let capacity = 0;
  for (let b = first; b < last; b++) capacity += scanned.batches[b].count;
  const records: Row[] = new Array(capacity);
  const offsets: number[] = new Array(capacity);
  const times: number[] = new Array(capacity);
  let n = 0;
  const failures: (DecodeFailure & { offset: number })[] = [];
  const { format, includeMetadata, schemas } = options;
  const { maxDepth, invalidUtf8 } = options.limits ?? DEFAULT_INPUT_LIMITS;
  // Texts must parse to their records: not when the source adds `_kafka` to them.
  const texts: (string | undefined)[] | undefined =
    format === 'json' && !includeMetadata ? new Array(capacity) : undefined;
  let text: string | undefined;
  if ((format === 'avro' || format === 'json_schema') && schemas === undefined) {
    throw new Error(`format ${format} needs schemas`);
  }
  let missing: Set<number> | undefined;
  const fail = (offset: number, payload: string, what: string) => {
    failures.push({ payload, message: where(topic, partition, offset, what), offset });
  };
  const visit: RecordVisitor = (
    buf,
    offset,
    timestamp,
    keyStart,
    keyEnd,
    valueStart,
    valueEnd,
    headersAt,
  ) => {
    if (offset < from) return;
    const ts = timestamp >= 0 ? timestamp : now;
    let row: Row;
    if (format === 'json') {
      if (valueStart < 0) {
        fail(offset, '', 'has no value (a tombstone), not a JSON object');
        return;
      }
      const raw = buf.toString('utf8', valueStart, valueEnd);
      const notUtf8 = decodedUtf8Problem(raw, buf, valueStart, valueEnd, invalidUtf8);
      if (notUtf8 !== undefined) {
        fail(offset, buf.toString('base64', valueStart, valueEnd), notUtf8);
        return;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch (err) {
        fail(offset, raw, `is not valid JSON: ${(err as Error).message}`);
        return;
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        const kind = parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : `a ${typeof parsed}`;
        fail(offset, raw, `is ${kind}, not a JSON object`);
        return;
      }
      const problem = jsonValueProblem(raw, parsed, maxDepth);
      if (problem !== undefined) {
        fail(offset, raw, problem);
        return;
      }
      row = parsed as Row;
      // A value with its own `_kafka` field is not the record a sink sees (it drops that field).
      text = row[METADATA_FIELD] === undefined ? raw : undefined;
    } else if (schemas !== undefined) {
      if (valueStart < 0) {
        fail(
          offset,
          '',
          `has no value (a tombstone), not ${format === 'avro' ? 'an Avro' : 'a JSON Schema'} value`,
        );
        return;
      }
      const id = wireSchemaId(buf, valueStart, valueEnd);
      if (id < 0) {
        fail(
          offset,
          buf.toString('base64', valueStart, valueEnd),
          'is not in the Confluent wire format (magic byte 0, a 4-byte schema id, then the payload)',
        );
        return;
      }
      const entry = schemas.get(id);
      if (entry === undefined) {
        missing ??= new Set();
        missing.add(id);
        return;
      }
      if (missing !== undefined) return;
      if ('error' in entry) {
        fail(offset, buf.toString('base64', valueStart, valueEnd), `cannot be decoded: ${entry.error}`);
        return;
      }
      try {
        row = entry.ok(buf, valueStart + WIRE_HEADER, valueEnd);
      } catch (err) {
        fail(
          offset,
          buf.toString('base64', valueStart, valueEnd),
          `(schema id ${id}) ${(err as Error).message}`,
        );
        return;
      }
    } else if (format === 'string') {
      const value = valueStart < 0 ? null : buf.toString('utf8', valueStart, valueEnd);
      const notUtf8 =
        value === null ? undefined : decodedUtf8Problem(value, buf, valueStart, valueEnd, invalidUtf8);
      if (notUtf8 !== undefined) {
        fail(offset, buf.toString('base64', valueStart, valueEnd), notUtf8);
        return;
      }
      row = { value };
    } else {
      row = { value: valueStart < 0 ? null : buf.toString('base64', valueStart, valueEnd) };
    }
    if (includeMetadata) {
      const meta: KafkaMetadata = {
        topic,
        partition,
        offset,
        timestamp: ts,
        key: keyStart < 0 ? null : buf.toString('utf8', keyStart, keyEnd),
        headers: readHeaders(buf, headersAt),
      };
      row[METADATA_FIELD] = meta;
    }
    records[n] = row;
    offsets[n] = offset;
    times[n] = ts;
    if (texts !== undefined) texts[n] = text;
    n++;
  };
  for (let b = first; b < last; b++) forEachRecord(scanned, scanned.batches[b], visit);
  if (missing !== undefined) return { records: [], offsets: [], times: [], failures: [], missing };
  if (n < capacity) {
    // Failures, records before `from`, control records: fewer rows than the headers counted.
    records.length = n;
    offsets.length = n;
    times.length = n;
    if (texts !== undefined) texts.length = n;
  }
  return texts === undefined
    ? { records, offsets, times, failures }
    : { records, offsets, times, texts, failures };
}

function where(topic: string, partition: number, offset: number, what: string): string {
  return `record at topic '${topic}' partition ${partition} offset ${offset} ${what}`;
}
