/**
 * The `hdfs` sink's `parquet` format against the Hadoop minicluster: the files, read back by
 * DuckDB, hold the input records (nested structs and lists included), partitioned, with the chosen
 * codec and column statistics. Skipped with a reason when the minicluster is not reachable, a
 * failure under CI=true.
 */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertParquetReadBack, mixedRecords, writeWithTwoCheckpoints } from '@sluice/files/testing';
import { HDFS_MISSING, hdfsAvailable, openHdfsSink, TestFolder, uniqueName } from './test-support.ts';

const available = await hdfsAvailable();
const skip = available ? false : HDFS_MISSING;

const base = Date.UTC(2026, 11, 6, 13, 0);

describe('hdfs sink, parquet', { skip }, () => {
  let folder: TestFolder;
  before(async () => {
    folder = await TestFolder.create('hdfs-parquet');
  });
  after(async () => {
    await folder?.dispose();
  });

  for (const compression of ['zstd', 'snappy'] as const) {
    test(`DuckDB reads back the input from ${compression} files, partitioned, with statistics`, async () => {
      const sub = `pq-${compression}`;
      const input = mixedRecords(3000, compression === 'zstd' ? 7 : 11);
      const sink = await openHdfsSink(
        {
          path: `${folder.path}/${sub}`,
          format: 'parquet',
          compression,
          partition_by: { fields: ['region'] },
        },
        { pipeline: uniqueName('p') },
      );
      await writeWithTwoCheckpoints(sink, input, base);
      const files = await folder.files(sub);
      assert.deepEqual([...new Set(files.map((f) => f.slice(sub.length + 1, f.lastIndexOf('/'))))].sort(), [
        'region=APAC',
        'region=EU',
        'region=US',
      ]);
      assert.equal(files.length, 6, 'each checkpoint finished one file per region');
      assert.ok(
        files.every((f) => f.endsWith('.parquet')),
        'published under the final name',
      );
      assertParquetReadBack(await folder.parquet(sub), input, compression, files.length);
    });
  }
});
