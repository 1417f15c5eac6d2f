/**
 * Crash recovery over MQTT end to end: `sluice run` of mqtt → file is killed with SIGKILL twice
 * (after its first checkpoint, and just after a restarted run restored one), with messages
 * published while it is down, then run again until every message is in the output and stopped
 * with SIGTERM. The broker's persistent session keeps what was published meanwhile and redelivers
 * what no durable checkpoint acknowledged, so every message is in the output at least once.
 */

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { dropSession, mqttAvailable, openMqttReader, publish, uniqueName } from '@sluice/mqtt/testing';
import {
  Cli,
  checkpointIds,
  type KillPoint,
  killRunsAt,
  readJsonLines,
  tempDir,
  waitUntil,
} from './cli-test-support.ts';

const available = await mqttAvailable();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const messages = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => JSON.stringify({ id: from + i }));

describe('SIGKILL mid-stream over MQTT', { skip: !available }, () => {
  test('every message published, before or during the outages, is in the output', async (t) => {
    const dir = await tempDir(t, 'sluice-mqtt-crash-');
    const topic = uniqueName('crash/in');
    const clientId = uniqueName('crash');
    t.after(() => dropSession(clientId));
    await writeFile(
      join(dir, 'pipeline.yaml'),
      `
name: mqtt-crash
settings:
  checkpoint: { interval: 200ms, dir: ./.sluice }
  batch_size: 10
sources:
  in: { type: mqtt, topics: ['${topic}'], client_id: ${clientId}, qos: 1, receive_maximum: 50, metadata: false }
sinks:
  out: { type: file, path: ./out/records.jsonl, roll: { max_bytes: 2048 } }
`,
    );
    // The session exists before anything is published, as for a pipeline that ran before.
    await (await openMqttReader({ topics: [topic], client_id: clientId, qos: 1 })).close();
    const checkpoints = join(dir, '.sluice/mqtt-crash');
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

    await publish(topic, messages(0, 300));
    const kills: KillPoint[] = [
      {
        when: 'after its first checkpoint',
        wait: (cli, before) => waitUntil(async () => (await newest()) > before, 30_000, 'a checkpoint', cli),
      },
      {
        when: 'just after restoring, between two checkpoints',
        wait: async (cli) => {
          await publish(topic, messages(300, 600));
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
      label: 'mqtt',
    });

    // Published while nothing runs: the session queues them.
    await publish(topic, messages(600, 800));
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
    t.diagnostic(
      `${ids.length} output records for 800 messages: ${ids.length - 800} read again after a kill`,
    );
  });
});
