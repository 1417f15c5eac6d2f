/**
 * Crash recovery into HDFS end to end: `sluice run` of a generated stream → hdfs (JSON lines,
 * partitioned by a field, small appends, files renamed into place at checkpoints) is killed with
 * SIGKILL twice (after a checkpoint that published records, and just after a restarted run
 * restored one), then run again to the end of its input. The CLI finds `@sluice/hdfs` by the
 * pipeline's `type: hdfs`; the sink renames the restored checkpoint's files and deletes its other
 * in-progress files: each record is published once and nothing is left in progress.
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { HDFS_URL, HDFS_USER, hdfsAvailable, TestFolder } from '@sluice/hdfs/testing';
import { Cli, checkpointIds, type KillPoint, killRunsAt, tempDir, waitUntil } from './cli-test-support.ts';

const available = await hdfsAvailable();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const total = 1500;

describe('SIGKILL mid-stream into HDFS', { skip: !available }, () => {
  test('every record is published once; nothing is left in progress', async (t) => {
    const dir = await tempDir(t, 'sluice-hdfs-crash-');
    const folder = await TestFolder.create('hdfs-crash');
    t.after(() => folder.dispose());
    await writeFile(
      join(dir, 'pipeline.yaml'),
      `
name: hdfs-crash
settings:
  checkpoint: { interval: 200ms, dir: ./.sluice }
  batch_size: 20
sources:
  in: { type: generate, template: orders, count: ${total}, rate: 250, partitions: 1 }
steps:
  - id: shape
    type: map
    select: []
    fields: { id: seq, g: "seq % 3" }
sinks:
  out:
    type: hdfs
    url: ${HDFS_URL}
    user: ${HDFS_USER}
    path: ${folder.path}/out
    partition_by: { fields: [g] }
    flush_bytes: 1024
`,
    );
    const checkpoints = join(dir, '.sluice/hdfs-crash');
    const newest = async () => (await checkpointIds(checkpoints)).at(-1) ?? 0;
    const outputIds = async (): Promise<number[]> =>
      (await folder.jsonLines('out')).map((r) => Number((r as { id: number }).id));

    const kills: KillPoint[] = [
      {
        when: 'after a checkpoint that published records, mid-stream',
        wait: (cli, before) =>
          waitUntil(
            async () => (await newest()) > before && (await outputIds()).length > 0,
            30_000,
            'a checkpoint with published records',
            cli,
          ),
      },
      {
        when: 'just after restoring, between two checkpoints',
        wait: async (cli) => {
          await cli.waitForLog('restored checkpoint', 30_000);
          await sleep(150);
        },
      },
    ];
    await killRunsAt(t, kills, {
      cwd: dir,
      limitMs: 60_000,
      newestCheckpoint: newest,
      behind: async () => `${new Set(await outputIds()).size} distinct ids published`,
      label: 'hdfs',
    });

    const ended = await new Cli(['run', 'pipeline.yaml'], { cwd: dir, limitMs: 60_000 }).exited;
    assert.equal(ended.code, 0, `the last run reads to the end of its input\n${ended.stderr}`);
    const ids = await outputIds();
    const distinct = new Set(ids);
    const missing = Array.from({ length: total }, (_, i) => i).filter((id) => !distinct.has(id));
    assert.deepEqual(missing, [], 'no record lost');
    assert.equal(distinct.size, total, 'nothing that was not generated');
    assert.equal(ids.length, total, 'each record once: what a kill lost was generated again, nothing twice');
    assert.deepEqual(await folder.inProgress('out'), [], 'no file left in progress');
    const folders = new Set((await folder.files('out')).map((f) => f.split('/')[1]));
    assert.deepEqual([...folders].sort(), ['g=0', 'g=1', 'g=2']);
  });
});
