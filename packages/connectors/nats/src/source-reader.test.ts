/**
 * The `nats` source's position, without a server: sequences as ranges, and which values are
 * positions this reader wrote (a restored checkpoint's).
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isNatsPosition, toRanges } from './source-reader.ts';

test('sequences become sorted inclusive ranges, gaps and repeats kept apart', () => {
  assert.deepEqual(toRanges([]), []);
  assert.deepEqual(toRanges([5]), [[5, 5]]);
  assert.deepEqual(toRanges([3, 1, 2, 7, 8, 10, 2]), [
    [1, 3],
    [7, 8],
    [10, 10],
  ]);
});

test('a position is a list of ordered integer ranges; anything else is not restored', () => {
  assert.ok(isNatsPosition({ unacked: [] }));
  assert.ok(
    isNatsPosition({
      unacked: [
        [1, 3],
        [9, 9],
      ],
    }),
  );
  assert.ok(!isNatsPosition(null));
  assert.ok(!isNatsPosition({ unacked: [[3, 1]] }), 'a range that ends before it starts');
  assert.ok(!isNatsPosition({ unacked: [[1.5, 2]] }), 'not integers');
  assert.ok(!isNatsPosition({ unacked: [[1, 2, 3]] }));
  assert.ok(!isNatsPosition({ unacked: [[1, 1e12]] }), 'a range too long to be one reader’s');
  assert.ok(!isNatsPosition({ unacked: [[1, 2]].map(String) }));
});
