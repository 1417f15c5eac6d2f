/**
 * Records → Kafka messages for the `kafka` sink: value, key, headers and timestamp, checked
 * against the topic's limits so that a record Kafka would refuse is rejected here, on its own,
 * before it can fail a whole request (or poison a transaction).
 */

import {
  compileExpression,
  DELETE,
  type Expr,
  type Row,
  type SinkBatch,
  type SinkInfo,
  type SinkRejection,
  SluiceError,
  toEpochMillis,
  UPDATE_AFTER,
  UPDATE_BEFORE,
} from '@sluice/core';
import { METADATA_FIELD } from './formats.ts';
import { utf8Length } from './producer-batch.ts';
import type { ProducerRecord } from './producer-settings.ts';
import type { TopicInfo } from './producer-topic.ts';
import { BATCH_HEADER } from './record-batches.ts';
import type { KafkaSinkConfig } from './sink-config.ts';
import type { SinkSchema } from './sink-schema.ts';

/** Bytes a record batch adds to its records (the v2 batch header). */
export const BATCH_OVERHEAD = BATCH_HEADER;
/** Most bytes a record adds to its key, value and headers (length, attributes, deltas, varints). */
const RECORD_OVERHEAD = 36;
/** Most bytes a header adds to its name and value. */
const HEADER_OVERHEAD = 10;

/** One `write` turned into messages. `messages`, `indexes` and `sizes` are parallel. */
export interface EncodedBatch {
  messages: ProducerRecord[];
  /** Index in the written records of each message. */
  indexes: number[];
  /** Upper bound of the bytes each message takes in a record batch. */
  sizes: number[];
  /** Records that cannot be sent (bad key, bad value, too large, …). */
  rejections: SinkRejection[] | undefined;
}

/**
 * Converts an expression result to the text of a key or header: numbers, booleans as written,
 * objects and arrays as JSON; undefined for NULL (no key / no header).
 */
export function textOf(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'undefined':
      return undefined;
    default:
      return value === null ? undefined : JSON.stringify(value);
  }
}

/** `textOf` as UTF-8 bytes (header values). */
export function bytesOf(value: unknown): Buffer | undefined {
  const text = textOf(value);
  return text === undefined ? undefined : Buffer.from(text);
}

type CompiledExpression = ReturnType<typeof compileExpression>;

interface HeaderExpr {
  readonly name: Buffer;
  readonly label: string;
  readonly expr: CompiledExpression;
}

/**
 * Where a message's timestamp comes from (`timestamp`): the record's event time, the time of
 * writing (no timestamp: the batch's), or an expression over the record.
 */
type TimestampSource =
  | { readonly kind: 'event_time' }
  | { readonly kind: 'now' }
  | { readonly kind: 'expression'; readonly expr: CompiledExpression };

/** Whether `timestamp` names a time rather than holding an expression. */
export function timestampKeyword(text: string): 'event_time' | 'now' | undefined {
  const keyword = text.trim();
  return keyword === 'event_time' || keyword === 'now' ? keyword : undefined;
}

/**
 * The options of a sink config that hold SQL expressions (`kafkaSink.expressions`): `key`, each
 * header, and `timestamp` unless it is a keyword.
 */
export function sinkExpressions(config: KafkaSinkConfig): { [path: string]: string } {
  const options: { [path: string]: string } = {};
  if (config.key !== undefined) options.key = config.key;
  for (const [name, text] of Object.entries(config.headers)) options[`headers.${name}`] = text;
  if (timestampKeyword(config.timestamp) === undefined) options.timestamp = config.timestamp;
  return options;
}

/** `timestamp` compiled; CONFIG_INVALID or the compile error (path `timestamp`) when it is not usable. */
function timestampSource(
  text: string,
  step: string | undefined,
  source: (path: string, text: string) => string | Expr,
): TimestampSource {
  const keyword = timestampKeyword(text);
  if (keyword !== undefined) return { kind: keyword };
  const expr = compileExpression(source('timestamp', text), { step, path: 'timestamp' });
  if (expr.type === 'boolean') {
    throw new SluiceError(
      'CONFIG_INVALID',
      `timestamp: '${text}' gives a boolean, not a time; write event_time, now, or an expression giving ` +
        'epoch milliseconds or ISO-8601 text',
      { step, path: 'timestamp' },
    );
  }
  return { kind: 'expression', expr };
}

/** Encodes written records into messages for one topic. */
export class RecordEncoder {
  readonly #topic: string;
  readonly #format: KafkaSinkConfig['format'];
  readonly #timestamp: TimestampSource;
  readonly #key: CompiledExpression | undefined;
  readonly #headers: readonly HeaderExpr[];
  /** `changelog: upsert`: deletes and retractions become tombstones of their key. */
  readonly #upsert: boolean;
  #info: TopicInfo | undefined;
  #schema: SinkSchema | undefined;
  #onExpired: ((timestamp: number, retentionMs: number) => void) | undefined;

  /**
   * Compiles the expressions — in a job the trees `sink` gives (the plan's, parsed once at its
   * resolution), else the config's text; throws their compile errors (EXPR_SYNTAX, …) with `step`
   * and `path`. (The sink's `create` has refused `changelog: upsert` without a `key`.)
   */
  constructor(config: KafkaSinkConfig, step: string | undefined, sink?: SinkInfo) {
    const source = (path: string, text: string): string | Expr =>
      sink === undefined ? text : sink.expression(path);
    this.#upsert = config.changelog === 'upsert';
    this.#topic = config.topic;
    this.#format = config.format;
    this.#timestamp = timestampSource(config.timestamp, step, source);
    this.#key =
      config.key === undefined
        ? undefined
        : compileExpression(source('key', config.key), { step, path: 'key' });
    this.#headers = Object.entries(config.headers).map(([name, text]) => ({
      name: Buffer.from(name),
      label: name,
      expr: compileExpression(source(`headers.${name}`, text), { step, path: `headers.${name}` }),
    }));
  }

  /** The topic's limits, once known (`open`); records are checked against them. */
  set topicInfo(info: TopicInfo) {
    this.#info = info;
  }

  /** Formats `avro` and `json_schema`: the registered schema values are written with (`open`). */
  set schema(schema: SinkSchema) {
    this.#schema = schema;
  }

  /**
   * Called once, with the first timestamp written that is older than the topic's `retention.ms`
   * (a record the broker deletes soon after it is written). Never called when the topic keeps
   * records for ever or stamps them itself (`LogAppendTime`), nor for timestamps of writing.
   */
  set onExpired(listener: (timestamp: number, retentionMs: number) => void) {
    this.#onExpired = listener;
  }

  /**
   * Encodes a batch's records; its `times` are their event times, `now` the wall-clock time in
   * ms. With format json, a record with a text (see `SinkBatch.texts`) is written as that text; the registry formats
   * ignore texts and need `schema` set. A record that does not fit the schema is rejected.
   *
   * With `changelog: upsert`, `kinds` (absent: all inserts) decide what each record becomes: an
   * insert or update-after is written as usual; a delete, or an update-before that the next
   * record does not replace under the same key, becomes a tombstone (the key, no value); an
   * update-before followed by the update-after of its key becomes no message at all (the
   * update-after overwrites it). A tombstone needs a key: one whose key is NULL is rejected.
   */
  encode(batch: SinkBatch, now: number): EncodedBatch {
    const { records, times, texts, kinds } = batch;
    const n = records.length;
    // Sized for every record, trimmed by the rejections at the end.
    const messages: ProducerRecord[] = new Array(n);
    const indexes: number[] = new Array(n);
    const sizes: number[] = new Array(n);
    let m = 0;
    let rejections: SinkRejection[] | undefined;
    const reject = (index: number, message: string) => {
      rejections ??= [];
      rejections.push({ index, message });
    };
    const info = this.#info;
    const maxBytes = info === undefined ? Number.POSITIVE_INFINITY : info.maxMessageBytes - BATCH_OVERHEAD;
    const stamps = this.#timestamp;
    /** The topic's timestamp window, when the broker checks the timestamps written. */
    const window = info?.createTime && stamps.kind !== 'now' ? info : undefined;
    /** Timestamps before this are past the topic's retention (-∞: nothing to report). */
    let expiredBefore =
      window?.retentionMs !== undefined && this.#onExpired !== undefined
        ? now - window.retentionMs
        : Number.NEGATIVE_INFINITY;
    const keyExpr = this.#key;
    const headerExprs = this.#headers;
    const json = this.#format === 'json';
    const schema = this.#schema;
    if (schema === undefined && (this.#format === 'avro' || this.#format === 'json_schema')) {
      throw new Error(`format ${this.#format} writes nothing before its schema is registered`);
    }
    const changes = this.#upsert ? kinds : undefined;
    for (let i = 0; i < n; i++) {
      const record = records[i];
      let tombstone = false;
      if (changes !== undefined) {
        const kind = changes[i];
        if (
          kind === UPDATE_BEFORE &&
          changes[i + 1] === UPDATE_AFTER &&
          this.#sameKey(record, records[i + 1])
        )
          continue;
        tombstone = kind === UPDATE_BEFORE || kind === DELETE;
      }
      // Text is written as UTF-8 straight into the record batch (no Buffer per record).
      let value: string | Buffer | undefined;
      let valueBytes = 0;
      if (tombstone) {
        // No value: Kafka's tombstone, which compaction and upsert readers take as a delete.
      } else if (schema !== undefined) {
        try {
          value = schema.encode(
            record[METADATA_FIELD] === undefined ? record : withoutMetadata(record),
            schema.id,
          );
        } catch (err) {
          reject(i, `the record ${(err as Error).message}`);
          continue;
        }
        valueBytes = value.length;
      } else if (json) {
        value = texts?.[i];
        if (value === undefined) {
          try {
            value = JSON.stringify(record[METADATA_FIELD] === undefined ? record : withoutMetadata(record));
          } catch (err) {
            reject(i, `the record cannot be written as JSON: ${(err as Error).message}`);
            continue;
          }
        }
        valueBytes = Buffer.byteLength(value);
      } else {
        const v = record.value;
        if (typeof v === 'string') {
          value = v;
          valueBytes = Buffer.byteLength(v);
        } else if (v !== null) {
          reject(
            i,
            v === undefined
              ? 'the record has no field `value` (format: string writes that field)'
              : `field \`value\` is ${describe(v)}, not text (format: string); convert it with CAST(value AS VARCHAR) in a map step`,
          );
          continue;
        }
      }
      // Keys stay text: hashed and written as UTF-8 without a Buffer each (producer-batch.ts).
      let key: string | undefined;
      let keyBytes = 0;
      if (keyExpr !== undefined) {
        try {
          key = textOf(keyExpr.evaluate(record));
        } catch (err) {
          reject(i, `key: ${(err as Error).message}`);
          continue;
        }
        if (key !== undefined) keyBytes = utf8Length(key);
      }
      let headers: Map<Buffer, Buffer> | undefined;
      let headerBytes = 0;
      let failed = false;
      for (let h = 0; h < headerExprs.length; h++) {
        const header = headerExprs[h];
        let bytes: Buffer | undefined;
        try {
          bytes = bytesOf(header.expr.evaluate(record));
        } catch (err) {
          reject(i, `headers.${header.label}: ${(err as Error).message}`);
          failed = true;
          break;
        }
        if (bytes === undefined) continue;
        headers ??= new Map();
        headers.set(header.name, bytes);
        headerBytes += header.name.length + bytes.length + HEADER_OVERHEAD;
      }
      if (failed) continue;
      let t: number | undefined;
      if (stamps.kind === 'event_time') {
        if (Number.isFinite(times[i])) t = times[i];
      } else if (stamps.kind === 'expression') {
        let v: unknown;
        try {
          v = stamps.expr.evaluate(record);
        } catch (err) {
          reject(i, `timestamp: ${(err as Error).message}`);
          continue;
        }
        if (v !== null && v !== undefined) {
          t = toEpochMillis(v);
          if (!Number.isFinite(t)) {
            reject(
              i,
              `timestamp: ${typeof v === 'string' ? `'${v}'` : describeValue(v)} is not a time ` +
                '(epoch milliseconds or ISO-8601 text)',
            );
            continue;
          }
        }
      }
      let timestamp: number | undefined;
      if (t !== undefined) {
        const what = stamps.kind === 'event_time' ? 'event time' : 'timestamp';
        if (t < 0) {
          reject(i, `${what} ${t} is before 1970; Kafka timestamps cannot be negative (use timestamp: now)`);
          continue;
        }
        if (window !== undefined && (t > now + window.maxAheadMs || t < now - window.maxBehindMs)) {
          reject(
            i,
            `${what} ${new Date(t).toISOString()} is outside what topic '${this.#topic}' accepts ` +
              `(message.timestamp.before.max.ms / after.max.ms around the current time; or use timestamp: now)`,
          );
          continue;
        }
        timestamp = Math.floor(t);
        if (timestamp < expiredBefore) {
          const report = this.#onExpired!;
          this.#onExpired = undefined;
          expiredBefore = Number.NEGATIVE_INFINITY;
          report(timestamp, window!.retentionMs!);
        }
      }
      if (tombstone && key === undefined) {
        reject(i, 'key: NULL, but a delete is written as a tombstone of its key (changelog: upsert)');
        continue;
      }
      if (key === undefined && info?.compacted) {
        reject(i, `topic '${this.#topic}' is compacted and a message needs a key, but the key is NULL`);
        continue;
      }
      const size = RECORD_OVERHEAD + keyBytes + valueBytes + headerBytes;
      if (size > maxBytes) {
        reject(
          i,
          `the message takes about ${size} bytes; topic '${this.#topic}' accepts at most ` +
            `${info!.maxMessageBytes} per record batch (max.message.bytes)`,
        );
        continue;
      }
      messages[m] = { key, keyBytes, value, valueBytes, headers, timestamp };
      indexes[m] = i;
      sizes[m] = size;
      m++;
    }
    if (m < n) {
      messages.length = m;
      indexes.length = m;
      sizes.length = m;
    }
    return { messages, indexes, sizes, rejections };
  }

  /** Whether two records have the same message key (false when either key expression fails). */
  #sameKey(a: Row, b: Row): boolean {
    const expr = this.#key!;
    try {
      return textOf(expr.evaluate(a)) === textOf(expr.evaluate(b));
    } catch {
      return false;
    }
  }
}

function withoutMetadata(record: Row): Row {
  const { [METADATA_FIELD]: _metadata, ...rest } = record;
  return rest;
}

/** A value for a message: `true`, `12`, `an object`. */
function describeValue(v: unknown): string {
  if (typeof v === 'object' && v !== null) return describe(v);
  return String(v);
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  const t = typeof v;
  return t === 'object' ? 'an object' : `a ${t}`;
}

/**
 * Splits messages into consecutive runs of at most `maxBytes` (by `sizes`), each at least one
 * message. Returns the end index (exclusive) of each run.
 */
export function chunkEnds(sizes: readonly number[], maxBytes: number): number[] {
  const ends: number[] = [];
  let bytes = 0;
  for (let i = 0; i < sizes.length; i++) {
    if (bytes > 0 && bytes + sizes[i] > maxBytes) {
      ends.push(i);
      bytes = 0;
    }
    bytes += sizes[i];
  }
  if (sizes.length > 0) ends.push(sizes.length);
  return ends;
}
