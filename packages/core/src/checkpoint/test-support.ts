/**
 * A fixed checkpoint holding every kind of value the format carries, for the golden files in
 * `testdata/`: `checkpoint-v1.ckpt` (written by the version-1 encoder, `v8.serialize`, before the
 * version-2 codec replaced it) and `checkpoint-v2.ckpt` (the version-2 bytes of this value; a
 * test fails when the format changes by accident).
 */

import type { CheckpointData } from './checkpoint-format.ts';

/** The value of both golden files. Never change it: the files are compared byte for byte. */
export function goldenCheckpoint(): CheckpointData {
  return {
    id: 42,
    pipeline: 'orders',
    createdAt: 1_765_000_000_000,
    watermark: Number.NEGATIVE_INFINITY,
    sources: { kafka: { '0': 1234, '1': 'seq-9', '2': 90071992547409931n } },
    operators: {
      agg: {
        format: 1,
        shape: 'count,sum',
        progress: 1_765_000_059_999,
        keyedInput: true,
        store: {
          windows: [
            {
              start: 0,
              end: 60_000,
              fired: false,
              groups: new Map<unknown, unknown>([
                ['eu', { keyValues: ['eu'], accumulators: [3, 7.25] }],
                [12, { keyValues: [12], accumulators: [1, -0] }],
                [null, { keyValues: null, accumulators: [0, Number.NaN] }],
                [true, { keyValues: [true], accumulators: [2, Number.POSITIVE_INFINITY] }],
                [-5n, { keyValues: [-5n], accumulators: [1, 2 ** 53 + 2] }],
              ]),
            },
          ],
        },
      },
      dedupe: {
        version: 1,
        watermark: 1000,
        state: new Map([
          [
            'seen',
            new Map([
              ['k1', 10],
              ['k2', 11],
            ]),
          ],
        ]),
      },
      sketch: {
        distinct: new Set<unknown>(['a', 1, 2n, null, 'é']),
        registers: new Uint8Array([0, 1, 2, 255]),
        histogram: new Float64Array([1.5, -0, Number.NaN, Number.NEGATIVE_INFINITY]),
        counts: new Int32Array([-1, 0, 2_147_483_647]),
        wide: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]),
        bytes: Buffer.from('buffer bytes', 'latin1'),
      },
      text: {
        ascii: 'plain',
        latin1: 'café',
        cjk: '流れ',
        emoji: '🚰',
        empty: '',
        lone: 'a\ud800b',
        when: new Date(Date.UTC(2026, 11, 6, 12, 0, 0)),
        nothing: undefined,
        nested: [[1, [2, [3, []]]], {}],
      },
    },
    sinks: { file: { path: 'out/part-3.jsonl', length: 4096, nextSeq: 4 } },
    counters: { recordsIn: 10, recordsOut: 9, dead: 0, late: 1 },
    partitionTimes: { 'kafka/0': 1_765_000_060_000 },
  };
}
