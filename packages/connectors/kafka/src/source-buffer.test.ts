import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ScannedBatches } from './record-batches.ts';
import { FetchBuffer, type PartitionState } from './source-buffer.ts';

const state = (key: string): PartitionState => ({
  key,
  topic: 't',
  partition: 0,
  fetchAt: 0,
  returned: 0,
  leaderEpoch: 0,
});

/** A fetch of `size` bytes holding no readable batch (e.g. only control batches). */
const fetched = (size: number, next: number): ScannedBatches => ({
  bytes: Buffer.alloc(size),
  batches: [],
  count: 0,
  next,
  leaderEpoch: 0,
});

test('the fetch buffer counts the bytes it holds, until they are handed out or dropped', () => {
  const buffer = new FetchBuffer(() => undefined);
  const a = state('t/0');
  const b = state('t/1');
  buffer.push(a, fetched(1000, 5), 0);
  buffer.push(b, fetched(300, 7), 0);
  assert.equal(buffer.bytes, 1300);
  buffer.drop(new Set(['t/1']));
  assert.equal(buffer.bytes, 1000);
  assert.equal(
    buffer.take(10, () => true),
    undefined,
  );
  assert.equal(buffer.bytes, 0);
  assert.equal(a.returned, 5);
});
