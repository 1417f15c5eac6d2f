/**
 * Crash recovery over a Redis stream end to end: `sluice run` of redis (stream, consumer group) →
 * file is killed with SIGKILL twice (after its first checkpoint, and just after a restarted run
 * restored one), with entries added while it is down, then run again until every entry is in the
 * output and stopped with SIGTERM. The group keeps every entry no durable checkpoint acknowledged
 * pending under the pipeline's consumer, which a restart reads again (skipping those the restored
 * checkpoint covers): with the file sink's exactly-once parts, each entry is in the output once,
 * and none is left pending.
 */

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { redisAvailable, testClient, uniqueName } from '@sluice/redis/testing';
import {
  Cli,
  checkpointIds,
  type KillPoint,
  killRunsAt,
  readJsonLines,
  tempDir,
  waitUntil,
} from './cli-test-support.ts';

const available = await redisAvailable();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SIGKILL mid-stream over a Redis stream', { skip: !available }, () => {
  test('every entry, added before or during the outages, is in the output once; none is left pending', async (t) => {
    const dir = await tempDir(t, 'sluice-redis-crash-');
    const stream = uniqueName('crash');
    const client = await testClient();
    t.after(async () => {
      await client.del(stream);
      await client.close();
    });
    const add = async (from: number, to: number) => {
      for (let i = from; i < to; i++) await client.xAdd(stream, '*', { id: String(i) });
    };
    await writeFile(
      join(dir, 'pipeline.yaml'),
      `
name: redis-crash
settings:
  checkpoint: { interval: 200ms, dir: ./.sluice }
  batch_size: 10
sources:
  in: { type: redis, stream: '${stream}', group: crash, consumer: worker-1, start: '0', max_pending: 50 }
sinks:
  out: { type: file, path: ./out/records.jsonl, roll: { max_bytes: 2048 } }
`,
    );
    const checkpoints = join(dir, '.sluice/redis-crash');
    const newest = async () => (await checkpointIds(checkpoints)).at(-1) ?? 0;
    /** Ids in the published parts, and with `open` in the part being written too. */
    const outputIds = async (open = false): Promise<number[]> => {
      const folder = join(dir, 'out');
      if (!existsSync(folder)) return [];
      const parts = (await readdir(folder)).filter(
        (name) => name.endsWith('.jsonl') || (open && name.endsWith('.inprogress')),
      );
      return parts.flatMap((part) =>
        readJsonLines<{ id: string }>(join(folder, part)).map((r) => Number(r.id)),
      );
    };

    await add(0, 300);
    const kills: KillPoint[] = [
      {
        when: 'after its first checkpoint',
        wait: (cli, before) => waitUntil(async () => (await newest()) > before, 30_000, 'a checkpoint', cli),
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
      label: 'redis',
    });

    // Added while nothing runs: the stream keeps them for the group.
    await add(600, 800);
    const cli = new Cli(['run', 'pipeline.yaml'], { cwd: dir, limitMs: 60_000 });
    try {
      await waitUntil(
        async () => new Set(await outputIds(true).catch(() => [])).size >= 800,
        40_000,
        'every entry in the output',
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
    assert.deepEqual(missing, [], 'no entry lost');
    assert.equal(distinct.size, 800, 'nothing that was not added');
    assert.equal(
      ids.length,
      800,
      'each entry once: what a kill lost was read again, what a checkpoint covered was not',
    );
    const pending = (await client.sendCommand(['XPENDING', stream, 'crash'])) as [number];
    assert.equal(Number(pending[0]), 0, 'the final checkpoint acknowledged every entry');
  });
});
