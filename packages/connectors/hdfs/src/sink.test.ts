/**
 * The `hdfs` sink against the Hadoop minicluster: partition folders, appends and rolling, files
 * renamed into place at commit, recovery after a crash, and how it fails on refusals and on a
 * NameNode that does not answer. Skipped with a reason when the minicluster is not reachable, a
 * failure under CI=true.
 */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  ManualClock,
  type Row,
  type SinkBatch,
  type SluiceError,
  silentLogger,
  validateConfig,
} from '@sluice/core';
import { sinkMark } from '@sluice/files';
import { hdfsSink } from './sink.ts';
import type { HdfsSinkState } from './sink-config.ts';
import {
  deadUrl,
  HDFS_MISSING,
  hdfsAvailable,
  openHdfsSink,
  TestFolder,
  uniqueName,
} from './test-support.ts';

const available = await hdfsAvailable();
const skip = available ? false : HDFS_MISSING;

const hour = 3_600_000;
const base = Date.UTC(2026, 11, 6, 13, 0);

function batchOf(records: Row[], times: number[]): SinkBatch {
  return { records, times };
}

describe('hdfs sink', { skip }, () => {
  let folder: TestFolder;
  before(async () => {
    folder = await TestFolder.create('hdfs-sink');
  });
  after(async () => {
    await folder?.dispose();
  });

  test('records go to Hive-style folders from their event time and fields', async () => {
    const sink = await openHdfsSink(
      {
        path: `${folder.path}/partitioned`,
        partition_by: { time: 'dt={yyyy-MM-dd}/hour={HH}', fields: ['region'] },
      },
      { pipeline: uniqueName('p') },
    );
    const records: Row[] = [];
    const times: number[] = [];
    for (let i = 0; i < 40; i++) {
      records.push({ id: i, region: ['EU', 'US', null, 'a/b=c'][i % 4] ?? null });
      times.push(base + (i % 3) * (hour / 2));
    }
    await sink.write(batchOf(records, times));
    await sink.prepareCommit?.(1);
    await sink.commit?.(1);
    await sink.close();
    const files = await folder.files('partitioned');
    const folders = [...new Set(files.map((f) => f.slice('partitioned/'.length, f.lastIndexOf('/'))))].sort();
    assert.deepEqual(folders, [
      'dt=2026-12-06/hour=13/region=EU',
      'dt=2026-12-06/hour=13/region=US',
      'dt=2026-12-06/hour=13/region=__HIVE_DEFAULT_PARTITION__',
      'dt=2026-12-06/hour=13/region=a%2Fb%3Dc',
      'dt=2026-12-06/hour=14/region=EU',
      'dt=2026-12-06/hour=14/region=US',
      'dt=2026-12-06/hour=14/region=__HIVE_DEFAULT_PARTITION__',
      'dt=2026-12-06/hour=14/region=a%2Fb%3Dc',
    ]);
    let seen = 0;
    for (const file of files) {
      const where = file.slice('partitioned/'.length, file.lastIndexOf('/'));
      for (const line of Buffer.from(await folder.read(file))
        .toString('utf8')
        .split('\n')) {
        if (line === '') continue;
        const r = JSON.parse(line) as { id: number; region: string | null };
        const h = new Date(times[r.id] as number).getUTCHours();
        const region =
          r.region === null ? '__HIVE_DEFAULT_PARTITION__' : r.region.replace('/', '%2F').replace('=', '%3D');
        assert.equal(where, `dt=2026-12-06/hour=${h}/region=${region}`, `record ${r.id}`);
        seen++;
      }
    }
    assert.equal(seen, records.length);
    assert.deepEqual(await folder.inProgress('partitioned'), [], 'nothing left in progress');
  });

  test('partition values with spaces, non-ASCII letters, + and % name the folders as written', async () => {
    const sink = await openHdfsSink(
      { path: `${folder.path}/names`, partition_by: { fields: ['region'] } },
      { pipeline: uniqueName('p') },
    );
    await sink.write(
      batchOf(
        [
          { id: 1, region: 'Zürich EU+1' },
          { id: 2, region: '100%' },
        ],
        [base, base],
      ),
    );
    await sink.prepareCommit?.(1);
    await sink.commit?.(1);
    await sink.close();
    const files = await folder.files('names');
    assert.deepEqual(
      files.map((f) => f.split('/')[1]),
      ['region=100%25', 'region=Zürich EU+1'],
    );
    assert.deepEqual(await folder.jsonLines('names'), [
      { id: 2, region: '100%' },
      { id: 1, region: 'Zürich EU+1' },
    ]);
  });

  test('lines are appended as they come (flush_bytes); a file is finished at roll.max_bytes', async () => {
    const sink = await openHdfsSink(
      { path: `${folder.path}/rolled`, flush_bytes: 2000, roll: { max_bytes: 20_000 } },
      { pipeline: uniqueName('p') },
    );
    const pad = 'x'.repeat(100);
    const records: Row[] = Array.from({ length: 500 }, (_, i) => ({ id: i, pad }));
    for (let from = 0; from < records.length; from += 37) {
      const chunk = records.slice(from, from + 37);
      await sink.write(
        batchOf(
          chunk,
          chunk.map(() => base),
        ),
      );
      if (from === 185) {
        const progress = await folder.inProgress('rolled');
        assert.equal(progress.length, 2, 'one finished file and one open, both in progress');
        assert.deepEqual(await folder.files('rolled'), [], 'nothing published before a commit');
      }
    }
    await sink.prepareCommit?.(1);
    await sink.commit?.(1);
    await sink.close();
    const files = await folder.files('rolled');
    assert.equal(files.length, 3, 'about 58 kB in files of at least 20 kB');
    assert.deepEqual(await folder.jsonLines('rolled'), records, 'every record once, in order');
  });

  test('a file open longer than roll.max_age is finished when the next record comes', async () => {
    const clock = new ManualClock(base);
    const sink = await openHdfsSink(
      { path: `${folder.path}/aged`, roll: { max_age: '1m' } },
      { pipeline: uniqueName('p'), clock },
    );
    await sink.write(batchOf([{ id: 0 }, { id: 1 }], [base, base]));
    clock.advance(30_000);
    await sink.write(batchOf([{ id: 2 }], [base]));
    clock.advance(31_000);
    await sink.write(batchOf([{ id: 3 }], [base]));
    await sink.prepareCommit?.(1);
    await sink.commit?.(1);
    await sink.close();
    const files = await folder.files('aged');
    assert.equal(files.length, 2);
    assert.deepEqual(await folder.linesOf(files[0] as string), [{ id: 0 }, { id: 1 }, { id: 2 }]);
    assert.deepEqual(await folder.linesOf(files[1] as string), [{ id: 3 }]);
  });

  test('nothing is visible before commit; a restart publishes its checkpoint and deletes its own strays only', async () => {
    const path = `${folder.path}/crash`;
    const pipeline = uniqueName('p');
    const first = await openHdfsSink({ path, flush_bytes: 1 }, { pipeline });
    const other = await openHdfsSink({ path, flush_bytes: 1 }, { pipeline, id: 'other' });
    await first.write(batchOf([{ id: 0 }, { id: 1 }], [base, base]));
    const state = (await first.prepareCommit?.(1)) as HdfsSinkState;
    assert.equal(state.files.length, 1);
    await first.write(batchOf([{ id: 2 }], [base]));
    await other.write(batchOf([{ id: 100 }], [base]));
    assert.deepEqual(await folder.files('crash'), [], 'prepared, not committed: not visible');
    // The process dies: no commit, no abort. Three files are left in progress.
    assert.equal((await folder.inProgress('crash')).length, 3);
    const second = await openHdfsSink({ path }, { pipeline, restored: state });
    assert.deepEqual(
      await folder.jsonLines('crash'),
      [{ id: 0 }, { id: 1 }],
      'the restored checkpoint is published',
    );
    const left = await folder.inProgress('crash');
    assert.equal(left.length, 1, 'the stray file of this sink is deleted');
    assert.ok(left[0]?.startsWith(`${sinkMark(pipeline, 'other')}/`), 'the other sink’s file is left alone');
    // A second restart from the same checkpoint (its commit ran before): nothing changes.
    await second.close();
    const third = await openHdfsSink({ path }, { pipeline, restored: state });
    await third.close();
    assert.deepEqual(await folder.jsonLines('crash'), [{ id: 0 }, { id: 1 }], 'published once');
    await other.abort?.();
  });

  test('a path HDFS refuses (a file in the way) fails at once with its reason', async () => {
    await folder.client.create(`${folder.path}/blocker`, Buffer.from('x'));
    const started = Date.now();
    await assert.rejects(
      async () => {
        const sink = await openHdfsSink(
          { path: `${folder.path}/blocker/out` },
          { pipeline: uniqueName('p') },
        );
        await sink.write(batchOf([{ id: 1 }], [base]));
        await sink.prepareCommit?.(1);
      },
      (err: SluiceError) => {
        assert.equal(err.code, 'PATH_UNUSABLE');
        assert.match(err.message, /ParentNotDirectoryException|FileAlreadyExistsException|not a directory/i);
        return true;
      },
    );
    assert.ok(Date.now() - started < 5_000, 'not retried');
  });

  test('a NameNode that does not answer is retried with backoff, then fails as unavailable', async () => {
    const warnings: string[] = [];
    const log = { ...silentLogger, warn: (m: string) => void warnings.push(m) };
    await assert.rejects(
      openHdfsSink(
        {
          url: await deadUrl(),
          path: '/x',
          retry: { max_attempts: 3, initial_backoff: '10ms', max_backoff: '20ms' },
        },
        { pipeline: uniqueName('p'), log },
      ),
      (err: SluiceError) => {
        assert.equal(err.code, 'SINK_UNAVAILABLE');
        assert.match(err.message, /ECONNREFUSED/);
        return true;
      },
    );
    assert.equal(warnings.filter((w) => /retrying/.test(w)).length, 2, 'two retries after the first attempt');
  });

  test('a path that is not a plain absolute folder is a configuration error naming the option', () => {
    for (const path of ['/', '/a/../b', '/a//b']) {
      const checked = validateConfig(hdfsSink.config, { path });
      assert.ok(checked.ok);
      assert.throws(
        () => hdfsSink.create(checked.value as never),
        (err: SluiceError) => err.code === 'CONFIG_INVALID' && err.path === 'path',
        path,
      );
    }
    assert.equal(validateConfig(hdfsSink.config, { path: 'relative' }).ok, false);
  });
});
