/**
 * Crash recovery over RabbitMQ end to end: `sluice run` of rabbitmq → file is killed with SIGKILL
 * twice (after its first checkpoint, and just after a restarted run restored one), with messages
 * published while it is down, then run again until every message is in the output and stopped
 * with SIGTERM. The queue keeps what was published meanwhile and redelivers what no durable
 * checkpoint acknowledged; what the restored checkpoint covers is skipped, and the file sink
 * publishes only what a checkpoint covers, so every message is in the output exactly once.
 */

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Broker, rabbitmqAvailable, uniqueName } from '@sluice/rabbitmq/testing';
import {
  Cli,
  checkpointIds,
  type KillPoint,
  killRunsAt,
  readJsonLines,
  tempDir,
  waitUntil,
} from './cli-test-support.ts';

const available = await rabbitmqAvailable();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const messages = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => JSON.stringify({ id: from + i }));

describe('SIGKILL mid-stream over RabbitMQ', { skip: !available }, () => {
  test('every message published, before or during the outages, is in the output once', async (t) => {
    const dir = await tempDir(t, 'sluice-rabbitmq-crash-');
    const queue = uniqueName('crash');
    const broker = await Broker.open();
    t.after(async () => {
      await broker.deleteQueue(queue);
      await broker.close();
    });
    await broker.channel.assertQueue(queue, { durable: true });
    await writeFile(
      join(dir, 'pipeline.yaml'),
      `
name: rabbitmq-crash
settings:
  checkpoint: { interval: 200ms, dir: ./.sluice }
  batch_size: 10
sources:
  in: { type: rabbitmq, queue: ${queue}, prefetch: 50, metadata: false }
sinks:
  out: { type: file, path: ./out/records.jsonl, roll: { max_bytes: 2048 } }
`,
    );
    const checkpoints = join(dir, '.sluice/rabbitmq-crash');
    const newest = async () => (await checkpointIds(checkpoints)).at(-1) ?? 0;
    /** Ids in the published parts, and with `open` in the part being written too. */
    const outputIds = async (open = false): Promise<number[]> => {
      const folder = join(dir, 'out');
      if (!existsSync(folder)) return [];
      const parts = (await readdir(folder)).filter(
        (name) => name.endsWith('.jsonl') || (open && name.endsWith('.inprogress')),
      );
      return parts.flatMap((part) => readJsonLines<{ id: number }>(join(folder, part)).map((r) => r.id));
    };

    await broker.send(queue, messages(0, 300));
    const kills: KillPoint[] = [
      {
        when: 'after its first checkpoint',
        wait: (cli, before) => waitUntil(async () => (await newest()) > before, 30_000, 'a checkpoint', cli),
      },
      {
        when: 'just after restoring, between two checkpoints',
        wait: async (cli) => {
          await broker.send(queue, messages(300, 600));
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
      label: 'rabbitmq',
    });

    // Published while nothing runs: the queue keeps them.
    await broker.send(queue, messages(600, 800));
    const cli = new Cli(['run', 'pipeline.yaml'], { cwd: dir, limitMs: 60_000 });
    try {
      await waitUntil(
        async () => new Set(await outputIds(true).catch(() => [])).size >= 800,
        40_000,
        'every message in the output',
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
    assert.deepEqual(missing, [], 'no message lost');
    assert.equal(distinct.size, 800, 'nothing that was not published');
    assert.equal(ids.length, 800, 'none twice: the file sink publishes only what a checkpoint covers');
    assert.equal(await broker.ready(queue), 0, 'every message acknowledged');
  });
});
