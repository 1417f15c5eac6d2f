/**
 * Crash recovery over NATS JetStream end to end: `sluice run` of nats → nats, with message ids
 * from the source coordinates, is killed with SIGKILL twice (after its first checkpoint, and just
 * after a restarted run restored one), with messages published while it is down, then run again
 * until every message is in the output stream and stopped with SIGTERM. The durable consumer
 * redelivers what no durable checkpoint acknowledged, and the output stream's duplicate window
 * drops what a restart publishes again: every message is in the output exactly once.
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  createStream,
  deleteStream,
  natsAvailable,
  publish,
  streamMessages,
  uniqueName,
} from '@sluice/nats/testing';
import { Cli, checkpointIds, type KillPoint, killRunsAt, tempDir, waitUntil } from './cli-test-support.ts';

const available = await natsAvailable();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const messages = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => JSON.stringify({ id: from + i }));

describe('SIGKILL mid-stream over NATS JetStream', { skip: !available }, () => {
  test('every message published, before or during the outages, is in the output stream once', async (t) => {
    const dir = await tempDir(t, 'sluice-nats-crash-');
    const input = uniqueName('crash_in');
    const output = uniqueName('crash_out');
    await createStream(input, [`${input}.>`]);
    await createStream(output, [`${output}.>`]);
    t.after(async () => {
      await deleteStream(input);
      await deleteStream(output);
    });
    await writeFile(
      join(dir, 'pipeline.yaml'),
      `
name: nats-crash
settings:
  checkpoint: { interval: 200ms, dir: ./.sluice }
  batch_size: 10
sources:
  in: { type: nats, stream: ${input}, create: true, ack_wait: 2s, max_ack_pending: 50, pull_batch: 20 }
sinks:
  out:
    type: nats
    subject: ${output}.records
    msg_id_expression: "_nats.stream || ':' || CAST(_nats.sequence AS TEXT)"
`,
    );
    const checkpoints = join(dir, '.sluice/nats-crash');
    const newest = async () => (await checkpointIds(checkpoints)).at(-1) ?? 0;
    const outputIds = async (): Promise<number[]> =>
      (await streamMessages(output)).map((m) => (JSON.parse(m.data) as { id: number }).id);

    await publish(`${input}.a`, messages(0, 300));
    const kills: KillPoint[] = [
      {
        when: 'after its first checkpoint',
        wait: (cli, before) => waitUntil(async () => (await newest()) > before, 30_000, 'a checkpoint', cli),
      },
      {
        when: 'just after restoring, between two checkpoints',
        wait: async (cli) => {
          await publish(`${input}.a`, messages(300, 600));
          await cli.waitForLog('restored checkpoint', 30_000);
          await sleep(150);
        },
      },
    ];
    await killRunsAt(t, kills, {
      cwd: dir,
      limitMs: 60_000,
      newestCheckpoint: newest,
      behind: async () => `${new Set(await outputIds()).size} distinct ids in the output stream`,
      label: 'nats',
    });

    // Published while nothing runs: the stream keeps them for the consumer.
    await publish(`${input}.a`, messages(600, 800));
    const cli = new Cli(['run', 'pipeline.yaml'], { cwd: dir, limitMs: 60_000 });
    try {
      await waitUntil(
        async () => new Set(await outputIds().catch(() => [])).size >= 800,
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
    assert.equal(ids.length, 800, 'each message once: the duplicate window dropped what was published again');
  });
});
