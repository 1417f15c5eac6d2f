/**
 * Reading record batches from fetched bytes (no broker needed): what the header scan keeps and
 * leaves out — control batches, aborted transactions (read_committed), a batch cut short at the
 * end of a fetch — and the record walk over plain, compressed and log-append-time batches. The
 * bytes are real message-format-v2 batches written by the sink's encoder, adjusted where a test
 * needs what that producer never writes (control markers, a broker-assigned offset).
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CompressionAlgorithmValue } from '@platformatic/kafka';
import { encodeRecordBatch } from './producer-batch.ts';
import {
  forEachRecord,
  RecordBatchError,
  readHeaders,
  type ScannedBatches,
  scanBatches,
} from './record-batches.ts';

interface BatchOptions {
  producerId?: number;
  transactional?: boolean;
  compression?: CompressionAlgorithmValue;
  /** A transaction marker: 0 abort, 1 commit. */
  control?: 0 | 1;
  logAppendTime?: number;
}

/** A batch of `values` at `baseOffset` (timestamps 1000, 1001, …). */
function batch(baseOffset: number, values: string[], o: BatchOptions = {}): Buffer {
  const records = o.control === undefined ? values : ['marker'];
  const bytes = encodeRecordBatch(
    records.map((v, i) => ({
      key: o.control === undefined ? Buffer.from(`k${i}`) : Buffer.from([0, 0, 0, o.control]),
      value: Buffer.from(v),
      headers: new Map([[Buffer.from('h'), Buffer.from(`v${i}`)]]),
      timestamp: 1000 + i,
    })),
    {
      producerId: BigInt(o.producerId ?? -1),
      producerEpoch: 0,
      baseSequence: 0,
      transactional: o.transactional ?? o.control !== undefined,
      compression: o.compression ?? 'none',
    },
    0,
  );
  bytes.writeBigInt64BE(BigInt(baseOffset), 0);
  let attributes = bytes.readInt16BE(21);
  if (o.control !== undefined) attributes |= 0x20;
  if (o.logAppendTime !== undefined) {
    attributes |= 0x08;
    bytes.writeBigInt64BE(BigInt(o.logAppendTime), 35);
  }
  bytes.writeInt16BE(attributes, 21);
  return bytes;
}

function values(scanned: ScannedBatches): { offset: number; value: string; time: number }[] {
  const out: { offset: number; value: string; time: number }[] = [];
  for (const b of scanned.batches) {
    forEachRecord(scanned, b, (buf, offset, time, _ks, _ke, vs, ve) => {
      out.push({ offset, value: buf.toString('utf8', vs, ve), time });
    });
  }
  return out;
}

test('data batches are kept in order; control batches only move next', () => {
  const bytes = Buffer.concat([
    batch(0, ['a', 'b']),
    batch(2, [], { control: 1, producerId: 7 }),
    batch(3, ['c']),
  ]);
  const s = scanBatches(bytes, 0, null);
  assert.equal(s.batches.length, 2);
  assert.equal(s.count, 3);
  assert.equal(s.next, 4);
  assert.deepEqual(
    values(s).map((r) => [r.offset, r.value]),
    [
      [0, 'a'],
      [1, 'b'],
      [3, 'c'],
    ],
  );
  const onlyMarker = scanBatches(batch(9, [], { control: 0, producerId: 7 }), 9, null);
  assert.deepEqual([onlyMarker.batches.length, onlyMarker.next], [0, 10]);
});

test('read_committed: an aborted transaction is left out up to its abort marker; committed ones and other producers stay', () => {
  const bytes = Buffer.concat([
    batch(0, ['p1-aborted-1', 'p1-aborted-2'], { producerId: 1, transactional: true }),
    batch(2, ['p2-committed'], { producerId: 2, transactional: true }),
    batch(3, ['p1-aborted-3'], { producerId: 1, transactional: true }),
    batch(4, [], { control: 0, producerId: 1 }),
    batch(5, [], { control: 1, producerId: 2 }),
    batch(6, ['p1-next-transaction'], { producerId: 1, transactional: true }),
    batch(7, ['plain'], {}),
  ]);
  const s = scanBatches(bytes, 0, [{ producerId: 1, firstOffset: 0 }]);
  assert.deepEqual(
    values(s).map((r) => r.value),
    ['p2-committed', 'p1-next-transaction', 'plain'],
  );
  assert.equal(s.next, 8);
  // Without the aborted list (read_uncommitted), every data batch is read.
  assert.equal(values(scanBatches(bytes, 0, null)).length, 6);
});

test('a batch cut short at the end of the fetch is left for the next fetch', () => {
  const whole = Buffer.concat([batch(0, ['a']), batch(1, ['b', 'c'])]);
  const s = scanBatches(whole.subarray(0, whole.length - 5), 0, null);
  assert.deepEqual(
    values(s).map((r) => r.value),
    ['a'],
  );
  assert.equal(s.next, 1);
  const empty = scanBatches(whole.subarray(0, 30), 0, null);
  assert.deepEqual([empty.batches.length, empty.next], [0, 0]);
});

test('batches wholly before the requested offset are skipped, and next never goes back', () => {
  const s = scanBatches(Buffer.concat([batch(0, ['a', 'b']), batch(2, ['c'])]), 2, null);
  assert.deepEqual(
    s.batches.map((b) => b.baseOffset),
    [2],
  );
  assert.equal(scanBatches(Buffer.alloc(0), 5, null).next, 5);
});

test('compressed batches are read like plain ones', () => {
  for (const compression of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
    const many = Array.from({ length: 50 }, (_, i) => `value-${i}-${'x'.repeat(i)}`);
    const s = scanBatches(batch(100, many, { compression }), 100, null);
    assert.deepEqual(
      values(s).map((r) => r.value),
      many,
      compression,
    );
    assert.equal(values(s)[49].offset, 149);
  }
});

test('timestamps: create time per record, or the batch max timestamp with log-append time', () => {
  assert.deepEqual(
    values(scanBatches(batch(0, ['a', 'b']), 0, null)).map((r) => r.time),
    [1000, 1001],
  );
  assert.deepEqual(
    values(scanBatches(batch(0, ['a', 'b'], { logAppendTime: 5555 }), 0, null)).map((r) => r.time),
    [5555, 5555],
  );
});

test('keys and headers are read from their byte ranges', () => {
  const s = scanBatches(batch(0, ['a', 'b']), 0, null);
  const seen: [string, { [k: string]: string | null }][] = [];
  forEachRecord(s, s.batches[0], (buf, _o, _t, ks, ke, _vs, _ve, headersAt) => {
    seen.push([buf.toString('utf8', ks, ke), readHeaders(buf, headersAt)]);
  });
  assert.deepEqual(seen, [
    ['k0', { h: 'v0' }],
    ['k1', { h: 'v1' }],
  ]);
});

test('an old message format is refused with the offset', () => {
  const bytes = batch(42, ['a']);
  bytes[16] = 1;
  assert.throws(() => scanBatches(bytes, 0, null), RecordBatchError);
  assert.throws(() => scanBatches(bytes, 0, null), /offset 42 uses message format v1/);
});
