/**
 * The `s3` sink's `parquet` format against S3Proxy: the objects, read back by DuckDB from local
 * copies, hold the input records (nested structs and lists included), with the chosen codec and
 * column statistics; and the sink conformance suite in this format. Skipped with a reason when
 * S3Proxy is not reachable, a failure under CI=true.
 */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Row } from '@sluice/core';
import { sinkConformance } from '@sluice/core/testing';
import { assertParquetReadBack, mixedRecords, writeWithTwoCheckpoints } from '@sluice/files/testing';
import { s3Sink } from './sink.ts';
import {
  openS3Sink,
  REPO_ROOT,
  s3Available,
  serverOptions,
  TestBucket,
  uniqueBucket,
} from './test-support.ts';

const available = await s3Available();
const skip = available ? false : 's3proxy not reachable at 127.0.0.1:9000';

const base = Date.UTC(2026, 11, 6, 13, 0);

describe('s3 sink, parquet', { skip }, () => {
  let bucket: TestBucket;
  before(async () => {
    bucket = await TestBucket.create('s3-parquet');
  });
  after(async () => {
    await bucket?.dispose();
  });

  for (const compression of ['zstd', 'snappy'] as const) {
    test(`DuckDB reads back the input from ${compression} objects, partitioned, with statistics`, async () => {
      const prefix = `pq-${compression}/`;
      const input = mixedRecords(3000, compression === 'zstd' ? 7 : 11);
      const sink = await openS3Sink(
        { bucket: bucket.name, prefix, format: 'parquet', compression, partition_by: { fields: ['region'] } },
        { pipeline: uniqueBucket('p') },
      );
      await writeWithTwoCheckpoints(sink, input, base);
      const keys = await bucket.keys(prefix);
      assert.deepEqual([...new Set(keys.map((k) => k.slice(prefix.length, k.lastIndexOf('/'))))].sort(), [
        'region=APAC',
        'region=EU',
        'region=US',
      ]);
      assert.equal(keys.length, 6, 'each checkpoint finished one object per region');
      assertParquetReadBack(await bucket.parquet(prefix), input, compression, keys.length);
    });
  }

  test('an object holds the input whatever the batch size it was written in', async () => {
    for (const size of [1, 97, 3000]) {
      const prefix = `pq-batch-${size}/`;
      const input = mixedRecords(3000, size);
      const sink = await openS3Sink(
        { bucket: bucket.name, prefix, format: 'parquet' },
        { pipeline: uniqueBucket('p') },
      );
      for (let from = 0; from < input.length; from += size) {
        const chunk = input.slice(from, from + size);
        await sink.write({ records: chunk, times: chunk.map(() => base) });
      }
      await sink.prepareCommit?.(1);
      await sink.commit?.(1);
      await sink.close();
      assert.equal((await bucket.keys(prefix)).length, 1, `batches of ${size}: one object`);
      assertParquetReadBack(await bucket.parquet(prefix), input, 'zstd', 1);
    }
  });
});

sinkConformance({
  spec: s3Sink,
  label: 's3 parquet',
  skip,
  baseDir: REPO_ROOT,
  refused: { record: { id: 1000, amount: 10n }, reason: /cannot be written as JSON/ },
  async target() {
    const bucket = await TestBucket.create('conformance-pq');
    return {
      options: { ...serverOptions, bucket: bucket.name, prefix: 'out/', format: 'parquet' },
      read: async () => (await bucket.parquetRecords('out/')) as Row[],
      dispose: () => bucket.dispose(),
    };
  },
});
