/**
 * Scale-out over Kafka end to end (issue 16): `sluice run --worker-id` workers share a pipeline of
 * kafka → one-second tumbling counts per user → PostgreSQL upsert, with their task state in the
 * shared PostgreSQL checkpoint store. Three workers start; while records flow one is killed with
 * SIGKILL and a fourth joins; at the end every window count in the table must equal the count
 * computed here from the records produced (nothing lost, nothing counted twice), although every
 * partition's state moved between workers at least once for most partitions.
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  KAFKA_BROKER,
  kafkaAvailable,
  type ProducedRecord,
  produce,
  Topics,
  uniqueName,
} from '@sluice/kafka/testing';
import { PG_URL, pgQuery, postgresMissing } from '@sluice/postgres/testing';
import { Cli, tempDir, waitUntil } from './cli-test-support.ts';

const kafka = await kafkaAvailable();
const pgMissing = await postgresMissing();
const skip = !kafka ? 'kafka not reachable' : pgMissing;
const topics = new Topics();
after(() => topics.cleanup());

const PARTITIONS = 6;
const USERS = 24;
/** Records per user; each user's records are one second of event time apart every 4. */
const PER_USER = 300;
const WINDOW_MS = 1000;
const T0 = 1_767_225_600_000;

function pipeline(input: string, group: string, table: string): string {
  return `
name: ${table}
settings:
  checkpoint: { interval: 300ms, dir: ./.sluice }
  batch_size: 50
sources:
  in:
    type: kafka
    brokers: ['${KAFKA_BROKER}']
    topics: ['${input}']
    group_id: '${group}'
    include_metadata: false
    session_timeout: 6s
    heartbeat_interval: 500ms
    event_time: { field: ts, max_out_of_orderness: 0s }
steps:
  - id: counts
    type: aggregate
    input: in
    key: [account]
    window: { type: tumbling, size: 1s }
    fields:
      n: count(*)
sinks:
  out:
    type: postgres
    input: counts
    url: ${PG_URL}
    table: ${table}
    mode: upsert
    key: [account, window_start]
    create_table: true
    columns: { account: text, window_start: bigint, window_end: bigint, n: bigint }
`;
}

/** User `u` lives on partition `u % PARTITIONS`; its i-th record is at T0 + floor(i / 4) s. */
function records(from: number, to: number): ProducedRecord[] {
  const out: ProducedRecord[] = [];
  for (let i = from; i < to; i++) {
    for (let u = 0; u < USERS; u++) {
      out.push({
        partition: u % PARTITIONS,
        key: `u${u}`,
        value: JSON.stringify({ account: `u${u}`, ts: T0 + Math.floor(i / 4) * WINDOW_MS + (i % 4) }),
      });
    }
  }
  return out;
}

/** The counts an independent computation gives: `user/window_start` → count. */
function expectedCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < PER_USER; i++) {
    for (let u = 0; u < USERS; u++) {
      const start = T0 + Math.floor(i / 4) * WINDOW_MS;
      const k = `u${u}/${start}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
  }
  return counts;
}

test('three workers, one killed with SIGKILL and one added while records flow: the windows equal an independent count', {
  skip,
  timeout: 240_000,
}, async (t) => {
  const input = await topics.create('workers-in', PARTITIONS);
  const group = uniqueName('workers-g');
  const table = `sluice_workers_${process.pid}_${Date.now().toString(36)}`;
  t.after(async () => {
    await pgQuery(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
    await pgQuery('DELETE FROM sluice_checkpoints WHERE pipeline = $1', [table]).catch(() => {});
    await pgQuery('DELETE FROM sluice_checkpoints_owners WHERE pipeline = $1', [table]).catch(() => {});
  });
  const dir = await tempDir(t, 'sluice-workers-');
  await writeFile(join(dir, 'pipeline.yaml'), pipeline(input, group, table));
  const workers = new Map<string, Cli>();
  const start = (id: string) => {
    const cli = new Cli(
      [
        'run',
        'pipeline.yaml',
        '--worker-id',
        id,
        '--checkpoint-store',
        PG_URL,
        '--lease',
        '3s',
        '--log-format',
        'json',
      ],
      { cwd: dir, limitMs: 200_000 },
    );
    workers.set(id, cli);
    return cli;
  };
  t.after(() => {
    for (const w of workers.values()) w.child.kill('SIGKILL');
  });
  const rows = async () => {
    try {
      return await pgQuery<{ account: string; window_start: string; n: string }>(`SELECT * FROM ${table}`);
    } catch {
      return []; // not created yet
    }
  };
  const tasksStarted = (cli: Cli) => (cli.stderr.match(/worker: task started/g) ?? []).length;
  /** The tasks a worker runs now, from its log (`task started` / `task stopped`). */
  const running = (cli: Cli) => {
    const tasks = new Set<number>();
    for (const line of cli.stderr.split('\n')) {
      if (!line.startsWith('{')) continue;
      const l = JSON.parse(line) as { msg?: string; task?: number };
      if (l.msg === 'worker: task started') tasks.add(l.task!);
      if (l.msg === 'worker: task stopped') tasks.delete(l.task!);
    }
    return tasks;
  };

  /** Rethrows a failed wait with the workers' recent log lines. */
  const withLogs = (err: unknown): never => {
    const logs = [...workers].map(([id, w]) => `--- ${id}\n${w.stderr.slice(-6000)}`).join('\n');
    throw new Error(`${(err as Error).message}\n${logs}`);
  };

  const w1 = start('w1');
  const w2 = start('w2');
  const w3 = start('w3');
  await waitUntil(
    () => {
      const sets = [w1, w2, w3].map(running);
      return sets.every((s) => s.size > 0) && sets.reduce((n, s) => n + s.size, 0) === PARTITIONS;
    },
    90_000,
    'the six tasks running, spread over the three workers',
  ).catch(withLogs);
  await produce(input, records(0, 100));
  await waitUntil(async () => (await rows()).length > 0, 60_000, 'the first windows in the table').catch(
    withLogs,
  );
  assert.ok(running(w2).size > 0, `w2 runs tasks when it is killed:\n${w2.stderr}`);
  // Records keep flowing (in small waves) while w2 is killed and w4 joins.
  let flowing = true;
  const flow = (async () => {
    for (let i = 100; i < 250; i += 10) {
      await produce(input, records(i, i + 10));
      await new Promise((r) => setTimeout(r, flowing ? 400 : 0));
    }
  })();
  await new Promise((r) => setTimeout(r, 500));
  w2.child.kill('SIGKILL');
  const w4 = start('w4');
  await waitUntil(
    () => {
      const sets = [w1, w3, w4].map(running);
      return sets[2].size > 0 && new Set(sets.flatMap((s) => [...s])).size === PARTITIONS;
    },
    90_000,
    "w2's tasks taken over and w4 running tasks",
  ).catch(withLogs);
  flowing = false;
  await flow;
  await produce(input, records(250, PER_USER));
  // One record per partition far ahead in event time closes every window of the input.
  const closing: ProducedRecord[] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    const user = [...Array(USERS).keys()].find((u) => u % PARTITIONS === p)!;
    closing.push({ partition: p, value: JSON.stringify({ account: `end${user}`, ts: T0 + 3_600_000 }) });
  }
  await produce(input, closing);

  const expected = expectedCounts();
  const actual = async () => {
    const m = new Map<string, number>();
    for (const r of await rows())
      if (!r.account.startsWith('end')) m.set(`${r.account}/${r.window_start}`, Number(r.n));
    return m;
  };
  await waitUntil(
    async () => {
      const got = await actual();
      return got.size === expected.size && [...expected].every(([k, n]) => got.get(k) === n);
    },
    150_000,
    'every window count in the table',
  ).catch(async (err: unknown) => {
    const got = await actual();
    const wrong = [...expected].filter(([k, n]) => got.get(k) !== n).slice(0, 10);
    const logs = [...workers].map(([id, w]) => `--- ${id}\n${w.stderr.slice(-4000)}`).join('\n');
    throw new Error(
      `${(err as Error).message}: ${got.size}/${expected.size} windows; wrong: ${JSON.stringify(wrong.map(([k, n]) => [k, n, got.get(k)]))}\n${logs}`,
    );
  });
  assert.ok(tasksStarted(w4) > 0, `the added worker took tasks over:\n${w4.stderr}`);
  // The state moved with the partitions: each task w4 took over restored a checkpoint and resumed
  // at its offsets (re-reading from the start with empty state would give the same counts).
  const starts = w4.stderr
    .split('\n')
    .filter((l) => l.includes('"msg":"kafka source: partitions start at"'))
    .flatMap((l) => Object.values((JSON.parse(l) as { offsets: { [p: string]: string } }).offsets));
  assert.ok(starts.length > 0, 'w4 started partitions');
  for (const start of starts)
    assert.match(start, /\(checkpoint\)$/, `w4 resumed from a checkpoint: ${starts}`);
  assert.match(w4.stderr, /"msg":"restored checkpoint"/);

  for (const id of ['w1', 'w3', 'w4']) workers.get(id)!.child.kill('SIGTERM');
  for (const id of ['w1', 'w3', 'w4']) {
    const r = await workers.get(id)!.exited;
    assert.equal(r.code, 0, `${id} stops cleanly on SIGTERM:\n${r.stderr.slice(-3000)}`);
  }
  const owners = await pgQuery<{ slot: string; released: boolean }>(
    'SELECT slot, released FROM sluice_checkpoints_owners WHERE pipeline = $1',
    [table],
  );
  assert.equal(owners.length, PARTITIONS, 'one checkpoint slot per task');
  for (const o of owners) {
    assert.equal(o.released, true, `${o.slot} is released after the graceful stop`);
  }
});
