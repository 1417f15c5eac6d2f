/**
 * Crash recovery from S3 to S3 end to end: `sluice run` of s3 (objects under a prefix, followed)
 * → s3 (JSON lines, partitioned by a field, multipart uploads completed with checkpoints) is
 * killed with SIGKILL twice (after a checkpoint that published records, and just after a restarted run restored
 * one), with objects added while it is down, then run again until every record is in the output
 * and stopped with SIGTERM. The source resumes at its checkpointed object and byte; the sink
 * completes the restored checkpoint's uploads and aborts its other ones: each record is published
 * once and no upload is left unfinished.
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { s3Available, serverOptions, TestBucket } from '@sluice/s3/testing';
import { Cli, checkpointIds, type KillPoint, killRunsAt, tempDir, waitUntil } from './cli-test-support.ts';

const available = await s3Available();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SIGKILL mid-stream from S3 to S3', { skip: !available }, () => {
  test('every record, added before or during the outages, is published once; no upload is left', async (t) => {
    const dir = await tempDir(t, 'sluice-s3-crash-');
    const bucket = await TestBucket.create('s3-crash');
    t.after(() => bucket.dispose());
    let seq = 0;
    /** Adds records from..to - 1 as objects of 20 records each, in key order. */
    const add = async (from: number, to: number) => {
      for (let at = from; at < to; at += 20) {
        let text = '';
        for (let i = at; i < Math.min(to, at + 20); i++) text += `${JSON.stringify({ id: i, g: i % 3 })}\n`;
        await bucket.put(`in/${String(seq++).padStart(6, '0')}.jsonl`, text);
      }
    };
    const connection = Object.entries(serverOptions)
      .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
      .join(', ');
    await writeFile(
      join(dir, 'pipeline.yaml'),
      `
name: s3-crash
settings:
  checkpoint: { interval: 200ms, dir: ./.sluice }
  batch_size: 10
sources:
  in: { type: s3, ${connection}, bucket: '${bucket.name}', prefix: in/, poll_interval: 100ms }
sinks:
  out: { type: s3, ${connection}, bucket: '${bucket.name}', prefix: out/, partition_by: { fields: [g] } }
`,
    );
    const checkpoints = join(dir, '.sluice/s3-crash');
    const newest = async () => (await checkpointIds(checkpoints)).at(-1) ?? 0;
    const outputIds = async (): Promise<number[]> =>
      (await bucket.jsonLines('out/')).map((r) => Number((r as { id: number }).id));

    await add(0, 300);
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
          await add(300, 600);
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
      label: 's3',
    });

    // Added while nothing runs: the source finds them after its checkpointed position.
    await add(600, 800);
    const cli = new Cli(['run', 'pipeline.yaml'], { cwd: dir, limitMs: 60_000 });
    try {
      await waitUntil(
        async () => new Set(await outputIds().catch(() => [])).size >= 800,
        40_000,
        'every record in the output',
        cli,
      );
    } finally {
      cli.kill('SIGTERM');
    }
    const ended = await cli.exited;
    assert.equal(ended.code, 0, `the last run exits 0 on SIGTERM\n${ended.stderr}`);
    const ids = await outputIds();
    const distinct = new Set(ids);
    const missing = Array.from({ length: 800 }, (_, i) => i).filter((id) => !distinct.has(id));
    assert.deepEqual(missing, [], 'no record lost');
    assert.equal(distinct.size, 800, 'nothing that was not added');
    assert.equal(
      ids.length,
      800,
      'each record once: what a kill lost was read again, what a checkpoint covered was not',
    );
    assert.deepEqual(await bucket.uploads('out/'), [], 'no multipart upload left unfinished');
    const folders = new Set((await bucket.keys('out/')).map((k) => k.split('/')[1]));
    assert.deepEqual([...folders].sort(), ['g=0', 'g=1', 'g=2']);
  });
});
