import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32c, Reader, readRecordsBatch } from '@platformatic/kafka';
import { encodeRecordBatch, utf8Length } from './producer-batch.ts';
import type { ProducerRecord } from './producer-settings.ts';

const records: ProducerRecord[] = [
  { key: Buffer.from('k1'), value: Buffer.from('{"a":1}'), headers: undefined, timestamp: 1_700_000_000_500 },
  // Text is written as UTF-8 (two bytes per é here), as Buffers are written as they are.
  { key: undefined, value: 'é'.repeat(200), headers: undefined, timestamp: 1_700_000_000_000 },
  {
    key: Buffer.alloc(0),
    value: undefined,
    headers: new Map([
      [Buffer.from('h1'), Buffer.from('v1')],
      [Buffer.from('h2'), Buffer.alloc(300, 1)],
    ]),
    timestamp: undefined,
  },
];

for (const compression of ['none', 'gzip', 'zstd', 'lz4', 'snappy'] as const) {
  test(`a batch the client library reads back (${compression})`, () => {
    const now = 1_700_000_001_000;
    const bytes = encodeRecordBatch(
      records,
      {
        producerId: 4242n,
        producerEpoch: 7,
        baseSequence: 99,
        transactional: compression === 'none',
        compression,
      },
      now,
    );
    assert.equal(bytes.readInt32BE(8), bytes.length - 12, 'batch length');
    assert.equal(bytes.readUInt32BE(17), crc32c(bytes.subarray(21)), 'CRC-32C');
    const batch = readRecordsBatch(Reader.from(bytes));
    assert.equal(batch.magic, 2);
    assert.equal(batch.producerId, 4242n);
    assert.equal(batch.producerEpoch, 7);
    assert.equal(batch.firstSequence, 99);
    assert.equal(batch.lastOffsetDelta, 2);
    assert.equal(batch.attributes & 0x10, compression === 'none' ? 0x10 : 0, 'transactional bit');
    assert.equal(batch.maxTimestamp, BigInt(now));
    assert.equal(batch.records.length, 3);
    const times = batch.records.map((r) => Number(batch.firstTimestamp + r.timestampDelta));
    assert.deepEqual(times, [1_700_000_000_500, 1_700_000_000_000, now]);
    assert.deepEqual(
      batch.records.map((r) => r.offsetDelta),
      [0, 1, 2],
    );
    const [a, b, c] = batch.records;
    assert.equal(a.key?.toString(), 'k1');
    assert.equal(a.value?.toString(), '{"a":1}');
    assert.deepEqual(a.headers, []);
    assert.equal(b.key, null);
    assert.equal(b.value?.toString(), 'é'.repeat(200));
    assert.equal(c.key?.length, 0, 'an empty key is not a null key');
    assert.equal(c.value, null, 'a tombstone');
    assert.deepEqual(
      c.headers.map(([k, v]) => [k?.toString(), v?.length]),
      [
        ['h1', 2],
        ['h2', 300],
      ],
    );
  });
}

test('text keys and values: ASCII, accented, astral and lone surrogates, short and long', () => {
  const texts = [
    'user-42',
    '',
    'ключ',
    'k'.repeat(40),
    '😀-key',
    `a${'\ud800'}b`,
    'é'.repeat(70),
    'x'.repeat(500),
  ];
  for (const t of texts) assert.equal(utf8Length(t), Buffer.byteLength(t), JSON.stringify(t.slice(0, 10)));
  const keyed: ProducerRecord[] = texts.map((t, i) => ({
    key: t,
    keyBytes: i % 2 === 0 ? utf8Length(t) : undefined, // measured by the caller, or here
    value: t,
    headers: undefined,
    timestamp: 1_700_000_000_000,
  }));
  const bytes = encodeRecordBatch(
    keyed,
    { producerId: 1n, producerEpoch: 0, baseSequence: 0, transactional: false, compression: 'none' },
    1_700_000_000_000,
  );
  const batch = readRecordsBatch(Reader.from(bytes));
  assert.deepEqual(
    batch.records.map((r) => r.key?.toString()),
    texts.map((t) => Buffer.from(t).toString()),
  );
  assert.deepEqual(
    batch.records.map((r) => r.value?.toString()),
    texts.map((t) => Buffer.from(t).toString()),
  );
});
