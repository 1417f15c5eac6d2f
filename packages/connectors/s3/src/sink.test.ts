/**
 * The `s3` sink against S3Proxy: partition folders, rolling by size and age, multipart parts,
 * and recovery of uploads after a crash. Skipped with a reason when S3Proxy is not reachable, a
 * failure under CI=true.
 */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ManualClock, type Row, type SinkBatch, validateConfig } from '@sluice/core';
import { sinkMark } from '@sluice/files';
import { s3Sink } from './sink.ts';
import type { S3SinkState } from './sink-config.ts';
import { openS3Sink, s3Available, TestBucket, uniqueBucket } from './test-support.ts';

const available = await s3Available();
const skip = available ? false : 's3proxy not reachable at 127.0.0.1:9000';

const hour = 3_600_000;
const base = Date.UTC(2026, 11, 6, 13, 0);

function batchOf(records: Row[], times: number[]): SinkBatch {
  return { records, times };
}

describe('s3 sink', { skip }, () => {
  let bucket: TestBucket;
  before(async () => {
    bucket = await TestBucket.create('s3-sink');
  });
  after(async () => {
    await bucket?.dispose();
  });

  test('records go to Hive-style folders from their event time and fields', async () => {
    const prefix = 'partitioned/';
    const sink = await openS3Sink(
      {
        bucket: bucket.name,
        prefix,
        partition_by: { time: 'dt={yyyy-MM-dd}/hour={HH}', fields: ['region'] },
      },
      { pipeline: uniqueBucket('p') },
    );
    const records: Row[] = [];
    const times: number[] = [];
    for (let i = 0; i < 40; i++) {
      records.push({ id: i, region: ['EU', 'US', null][i % 3] ?? null });
      times.push(base + (i % 4) * (hour / 2));
    }
    await sink.write(batchOf(records, times));
    await sink.prepareCommit?.(1);
    await sink.commit?.(1);
    await sink.close();
    const keys = await bucket.keys(prefix);
    const folders = [...new Set(keys.map((k) => k.slice(prefix.length, k.lastIndexOf('/'))))].sort();
    assert.deepEqual(folders, [
      'dt=2026-12-06/hour=13/region=EU',
      'dt=2026-12-06/hour=13/region=US',
      'dt=2026-12-06/hour=13/region=__HIVE_DEFAULT_PARTITION__',
      'dt=2026-12-06/hour=14/region=EU',
      'dt=2026-12-06/hour=14/region=US',
      'dt=2026-12-06/hour=14/region=__HIVE_DEFAULT_PARTITION__',
    ]);
    // Each record is in the folder its own time and region name.
    let seen = 0;
    for (const key of keys) {
      const folder = key.slice(prefix.length, key.lastIndexOf('/'));
      for (const line of Buffer.from(await bucket.get(key))
        .toString('utf8')
        .split('\n')) {
        if (line === '') continue;
        const r = JSON.parse(line) as { id: number; region: string | null };
        const t = new Date(times[r.id] as number);
        const expected = `dt=2026-12-06/hour=${t.getUTCHours()}/region=${r.region ?? '__HIVE_DEFAULT_PARTITION__'}`;
        assert.equal(folder, expected, `record ${r.id}`);
        seen++;
      }
    }
    assert.equal(seen, records.length);
  });

  test('an object is finished at roll.max_bytes; large objects go up in several parts', async () => {
    const prefix = 'rolled/';
    const sink = await openS3Sink(
      { bucket: bucket.name, prefix, roll: { max_bytes: 7 * 1024 * 1024 } },
      { pipeline: uniqueBucket('p') },
    );
    const pad = 'x'.repeat(1000);
    const records: Row[] = Array.from({ length: 12_000 }, (_, i) => ({ id: i, pad }));
    for (let from = 0; from < records.length; from += 1000) {
      const chunk = records.slice(from, from + 1000);
      await sink.write(
        batchOf(
          chunk,
          chunk.map(() => base),
        ),
      );
    }
    const state = (await sink.prepareCommit?.(1)) as S3SinkState;
    assert.deepEqual(
      state.uploads.map((u) => u.parts.length),
      [2, 1],
      'the 7 MiB object: a 5 MiB part while it grew, then the rest; the 4.7 MiB one: one last part',
    );
    await sink.commit?.(1);
    await sink.close();
    const keys = await bucket.keys(prefix);
    assert.equal(keys.length, 2, 'about 12 MB in objects of at least 7 MiB: two objects');
    const first = await bucket.get(keys[0] as string);
    assert.ok(first.length >= 7 * 1024 * 1024, 'the first object reached max_bytes');
    assert.deepEqual(await bucket.jsonLines(prefix), records, 'every record once, in order');
  });

  test('an object open longer than roll.max_age is finished when the next record comes', async () => {
    const prefix = 'aged/';
    const clock = new ManualClock(base);
    const sink = await openS3Sink(
      { bucket: bucket.name, prefix, roll: { max_age: '1m' } },
      { pipeline: uniqueBucket('p'), clock },
    );
    await sink.write(batchOf([{ id: 0 }, { id: 1 }], [base, base]));
    clock.advance(30_000);
    await sink.write(batchOf([{ id: 2 }], [base]));
    clock.advance(31_000);
    await sink.write(batchOf([{ id: 3 }], [base]));
    await sink.prepareCommit?.(1);
    await sink.commit?.(1);
    await sink.close();
    const keys = await bucket.keys(prefix);
    assert.equal(keys.length, 2);
    assert.deepEqual(await bucket.jsonLines(keys[0]), [{ id: 0 }, { id: 1 }, { id: 2 }]);
    assert.deepEqual(await bucket.jsonLines(keys[1]), [{ id: 3 }]);
  });

  test('nothing is visible before commit; a restart aborts its own stray uploads and no one else’s', async () => {
    const prefix = 'crash/';
    const pipeline = uniqueBucket('p');
    const first = await openS3Sink({ bucket: bucket.name, prefix }, { pipeline });
    const other = await openS3Sink({ bucket: bucket.name, prefix }, { pipeline, id: 'other' });
    await first.write(batchOf([{ id: 0 }, { id: 1 }], [base, base]));
    const state = (await first.prepareCommit?.(1)) as S3SinkState;
    assert.equal(state.uploads.length, 1);
    await first.write(batchOf([{ id: 2 }], [base]));
    await other.write(batchOf([{ id: 100 }], [base]));
    assert.deepEqual(await bucket.keys(prefix), [], 'prepared, not committed: not visible');
    // The process dies: no commit, no abort. Three uploads are left unfinished.
    assert.equal((await bucket.uploads(prefix)).length, 3);
    const second = await openS3Sink({ bucket: bucket.name, prefix }, { pipeline, restored: state });
    assert.deepEqual(
      await bucket.jsonLines(prefix),
      [{ id: 0 }, { id: 1 }],
      'the restored checkpoint is published',
    );
    const left = await bucket.uploads(prefix);
    assert.equal(left.length, 1, 'the stray upload of this sink is aborted');
    assert.ok(
      left[0]?.includes(`part-${sinkMark(pipeline, 'other')}-`),
      'the other sink’s upload is left alone',
    );
    await second.close();
    await other.abort?.();
    assert.deepEqual(await bucket.uploads(prefix), []);
  });

  test('a partition template that is not one is a configuration error naming the option', () => {
    const checked = validateConfig(s3Sink.config, { bucket: 'bucket', partition_by: { time: 'dt={YYYY}' } });
    assert.ok(checked.ok);
    assert.throws(
      () => s3Sink.create(checked.value as never),
      (err: Error & { path?: string }) => err.path === 'partition_by.time' && /only yyyy/.test(err.message),
    );
  });
});
