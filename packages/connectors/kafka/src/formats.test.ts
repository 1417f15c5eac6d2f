/**
 * Decoding of record batches (no broker needed): formats, metadata, failures, records before
 * the requested offset. The batches are real message-format-v2 bytes, written by the sink's
 * encoder (producer-batch.ts) and adjusted where a test needs what a producer never writes.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type DecodeOptions, decodeBatches } from './formats.ts';
import { encodeRecordBatch } from './producer-batch.ts';
import { scanBatches } from './record-batches.ts';
import { parseStart, sourceSettings } from './source-config.ts';

type Rec = { value: string | null; key?: string | null; headers?: [string, string | null][]; dt?: number };

/** One record batch at `baseOffset`, as a broker would return it. */
function batch(baseOffset: number, records: Rec[], options: { ts?: number; gap?: number } = {}): Buffer {
  const t0 = options.ts ?? 1_700_000_000_000;
  const bytes = encodeRecordBatch(
    records.map((r, i) => ({
      key: r.key === undefined || r.key === null ? undefined : Buffer.from(r.key),
      value: r.value === null ? undefined : Buffer.from(r.value),
      headers:
        r.headers === undefined
          ? undefined
          : new Map(
              r.headers.map(([k, v]) => [
                Buffer.from(k),
                (v === null ? undefined : Buffer.from(v)) as Buffer,
              ]),
            ),
      timestamp: t0 + (r.dt ?? i),
    })),
    { producerId: -1n, producerEpoch: -1, baseSequence: -1, transactional: false, compression: 'none' },
    0,
  );
  bytes.writeBigInt64BE(BigInt(baseOffset), 0);
  bytes.writeInt32BE(4, 12); // partition leader epoch
  if (options.gap) bytes.writeInt32BE(records.length - 1 + options.gap, 23); // compacted away
  return bytes;
}

/** Decodes every batch of `bytes` from offset `from`. */
function decode(
  topic: string,
  partition: number,
  bytes: Buffer,
  from: number,
  options: DecodeOptions,
  now = 0,
) {
  const scanned = scanBatches(bytes, from, null);
  return {
    scanned,
    ...decodeBatches(topic, partition, scanned, 0, scanned.batches.length, from, options, now),
  };
}

const json = { format: 'json' as const, includeMetadata: true };

test('json: objects become records with _kafka; the rest become failures with coordinates', () => {
  const d = decode(
    'orders',
    2,
    batch(10, [
      {
        value: '{"a":1}',
        key: 'k1',
        headers: [
          ['h', 'v'],
          ['nul', null],
        ],
      },
      { value: 'nope' },
      { value: '[1]' },
      { value: 'null' },
      { value: null },
      { value: '{"b":2}' },
    ]),
    10,
    json,
  );
  assert.deepEqual(d.records, [
    {
      a: 1,
      _kafka: {
        topic: 'orders',
        partition: 2,
        offset: 10,
        timestamp: 1_700_000_000_000,
        key: 'k1',
        headers: { h: 'v', nul: null },
      },
    },
    {
      b: 2,
      _kafka: {
        topic: 'orders',
        partition: 2,
        offset: 15,
        timestamp: 1_700_000_000_005,
        key: null,
        headers: {},
      },
    },
  ]);
  assert.deepEqual(d.offsets, [10, 15]);
  assert.deepEqual(d.times, [1_700_000_000_000, 1_700_000_000_005]);
  assert.equal(d.texts, undefined, 'no texts: they would lack the _kafka field of their records');
  assert.deepEqual(
    d.failures.map((f) => [f.offset, f.payload]),
    [
      [11, 'nope'],
      [12, '[1]'],
      [13, 'null'],
      [14, ''],
    ],
  );
  assert.match(d.failures[0].message, /^record at topic 'orders' partition 2 offset 11 is not valid JSON/);
  assert.match(d.failures[1].message, /is an array, not a JSON object/);
  assert.match(d.failures[2].message, /is null, not a JSON object/);
  assert.match(d.failures[3].message, /tombstone/);
  assert.equal(d.scanned.next, 16);
  assert.equal(d.scanned.leaderEpoch, 4);
});

test('json without metadata: each record comes with the text it was parsed from', () => {
  const d = decode('t', 0, batch(0, [{ value: '{"a":1}' }, { value: 'nope' }, { value: ' {"a": 2.0}' }]), 0, {
    format: 'json',
    includeMetadata: false,
  });
  assert.deepEqual(d.records, [{ a: 1 }, { a: 2 }]);
  assert.deepEqual(d.texts, ['{"a":1}', ' {"a": 2.0}'], 'spelling kept; the failure has none');
});

test('json: a value with its own _kafka field gets no text (the Kafka sink drops that field)', () => {
  const d = decode('t', 0, batch(0, [{ value: '{"_kafka":1,"a":1}' }, { value: ' {"a": 2}' }]), 0, {
    format: 'json',
    includeMetadata: false,
  });
  assert.deepEqual(d.records, [{ _kafka: 1, a: 1 }, { a: 2 }]);
  assert.deepEqual(d.texts, [undefined, ' {"a": 2}']);
});

test('string and bytes formats; metadata left out', () => {
  const b = batch(0, [{ value: 'héllo' }, { value: null }]);
  const s = decode('t', 0, b, 0, { format: 'string', includeMetadata: false });
  assert.deepEqual(s.records, [{ value: 'héllo' }, { value: null }]);
  assert.equal(s.texts, undefined, 'texts are for JSON only');
  const y = decode('t', 0, b, 0, { format: 'bytes', includeMetadata: false });
  assert.deepEqual(y.records, [{ value: Buffer.from('héllo').toString('base64') }, { value: null }]);
});

test('records before the requested offset are skipped; next is one past the last offset covered', () => {
  const bytes = Buffer.concat([
    batch(0, [{ value: '{"i":0}' }, { value: '{"i":1}' }, { value: '{"i":2}' }]),
    batch(4, [{ value: '{"i":4}' }], { gap: 2 }),
  ]);
  const d = decode('t', 0, bytes, 2, json);
  assert.deepEqual(
    d.records.map((r) => r.i),
    [2, 4],
  );
  assert.deepEqual(d.offsets, [2, 4]);
  assert.equal(d.failures.length, 0);
  assert.equal(d.scanned.next, 7, 'one past the last offset the batch covers (compacted away or not)');
});

test('a record without a timestamp gets the processing time', () => {
  const d = decode('t', 0, batch(0, [{ value: '{}' }], { ts: -1 }), 0, json, 42);
  assert.deepEqual(d.times, [42]);
});

test('start: earliest, latest, ISO-8601 or epoch ms; anything else is CONFIG_INVALID', () => {
  assert.equal(parseStart('earliest'), 'earliest');
  assert.equal(parseStart('latest'), 'latest');
  assert.equal(parseStart('2025-01-31T00:00:00Z'), Date.parse('2025-01-31T00:00:00Z'));
  assert.equal(parseStart('1700000000000'), 1_700_000_000_000);
  assert.throws(() => parseStart('soon'), /start: 'soon' is neither/);
});

test('settings: durations parsed; heartbeat must be shorter than the session timeout', () => {
  const base = {
    brokers: ['b:9092'],
    client_id: 'sluice',
    topics: ['a', 'a', 'b'],
    group_id: 'g',
    static_membership: true,
    start: 'earliest',
    format: 'json' as const,
    include_metadata: true,
    isolation_level: 'read_committed' as const,
    session_timeout: '10s',
    heartbeat_interval: '1s',
    fetch_max_wait: '500ms',
    fetch_max_bytes: 1 << 24,
    partition_fetch_max_bytes: 1 << 20,
    max_buffered_records: 20_000,
    max_depth: 1000,
    invalid_utf8: 'dead_letter' as const,
    max_buffered_bytes: 1 << 26,
  };
  const where = { id: 'in', pipeline: 'p', baseDir: '/srv/p' };
  const s = sourceSettings(base, where);
  assert.deepEqual(s.topics, ['a', 'b']);
  assert.equal(s.sessionTimeoutMs, 10_000);
  assert.equal(s.maxWaitMs, 500);
  assert.equal(s.readCommitted, true);
  assert.equal(s.maxBufferedBytes, 1 << 26);
  assert.throws(
    () => sourceSettings({ ...base, heartbeat_interval: '20s' }, where),
    /heartbeat_interval must be shorter/,
  );
});

test('json and string: values too deep, out of range or not UTF-8 are failures; the rest go on', () => {
  const deep = `{"a":${'['.repeat(2000)}${']'.repeat(2000)}}`;
  const bytes = batch(0, [
    { value: '{"a":1}' },
    { value: deep },
    { value: '{"a":1e400}' },
    { value: '{"a":"~~"}' },
  ]);
  bytes.set([0xff, 0xfe], bytes.indexOf('~~'));
  const d = decode('t', 0, bytes, 0, json);
  assert.deepEqual(
    d.records.map((r) => r.a),
    [1],
  );
  assert.deepEqual(
    d.failures.map((f) => [f.offset, f.message.match(/max_depth|out of range|invalid UTF-8/)?.[0]]),
    [
      [1, 'max_depth'],
      [2, 'out of range'],
      [3, 'invalid UTF-8'],
    ],
  );
  assert.equal(
    d.failures[2].payload,
    Buffer.from([...Buffer.from('{"a":"'), 0xff, 0xfe, 0x22, 0x7d]).toString('base64'),
  );
  const text = batch(0, [{ value: '~~' }]);
  text.set([0xff, 0xfe], text.indexOf('~~'));
  const limits = { maxDepth: 1000, invalidUtf8: 'replace' as const };
  assert.equal(decode('t', 0, text, 0, { format: 'string', includeMetadata: false }).failures.length, 1);
  assert.deepEqual(decode('t', 0, text, 0, { format: 'string', includeMetadata: false, limits }).records, [
    { value: '\uFFFD\uFFFD' },
  ]);
});
