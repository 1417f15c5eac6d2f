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
import { after, type TestContext, test } from 'node:test';
import {
  consoleConsume,
  KAFKA_BROKER,
  kafkaAvailable,
  type ProducedRecord,
  produce,
  Topics,
  uniqueName,
} from '@sluice/kafka/testing';
import { PG_URL, pgQuery, postgresMissing } from '@sluice/postgres/testing';
import { readS3CheckpointSlots, s3StoreLocation } from '@sluice/s3';
import {
  S3_ACCESS_KEY_ID,
  S3_ENDPOINT,
  S3_SECRET_ACCESS_KEY,
  s3Available,
  TestBucket,
} from '@sluice/s3/testing';
import { Cli, tempDir, waitUntil } from './cli-test-support.ts';
import { cleanUpPipeline, tasksOf, windowCountsPipeline, workerArgs } from './worker-test-support.ts';

const kafka = await kafkaAvailable();
const pgMissing = await postgresMissing();
const skip = !kafka ? 'kafka not reachable' : pgMissing;
const topics = new Topics();
after(() => topics.cleanup());

// The S3 checkpoint store the kill-and-add test also runs with; the workers take its credentials
// from the AWS SDK's default chain, as a deployment would.
const s3Bucket = (await s3Available()) ? await TestBucket.create('sluice-workers') : undefined;
after(() => s3Bucket?.dispose());
process.env.AWS_ACCESS_KEY_ID = S3_ACCESS_KEY_ID;
process.env.AWS_SECRET_ACCESS_KEY = S3_SECRET_ACCESS_KEY;
const S3_STORE = `s3://${s3Bucket?.name}/checkpoints/?endpoint=${encodeURIComponent(S3_ENDPOINT)}&force_path_style=true`;
const stores = [
  { kind: 'postgres', url: PG_URL, skip },
  { kind: 's3', url: S3_STORE, skip: skip || (s3Bucket ? false : 's3proxy not reachable at 127.0.0.1:9000') },
] as const;

const PARTITIONS = 6;
const USERS = 24;
/** Records per user; each user's records are one second of event time apart every 4. */
const PER_USER = 300;
const WINDOW_MS = 1000;
const T0 = 1_767_225_600_000;

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

/** Starts and watches `sluice run --worker-id` processes in `dir`; kills them when `t` ends. */
function workerGroup(t: TestContext, dir: string, store = PG_URL) {
  const workers = new Map<string, Cli>();
  const start = (id: string) => {
    const cli = new Cli(workerArgs(id, 1, store), { cwd: dir, limitMs: 440_000 });
    workers.set(id, cli);
    return cli;
  };
  t.after(() => {
    for (const w of workers.values()) w.child.kill('SIGKILL');
  });
  const tasksStarted = (cli: Cli) => (cli.stderr.match(/worker: task started/g) ?? []).length;
  /** The tasks a worker runs now, from its log (`task started` / `task stopped`). */
  const running = (cli: Cli) => tasksOf(cli.stderr);
  /** Rethrows a failed wait with the workers' recent log lines. */
  const withLogs = (err: unknown): never => {
    const logs = [...workers].map(([id, w]) => `--- ${id}\n${w.stderr.slice(-6000)}`).join('\n');
    throw new Error(`${(err as Error).message}\n${logs}`);
  };
  /** Waits until the tasks run on exactly `clis`, each running some, all six covered. */
  const spread = (clis: readonly Cli[], what: string) =>
    waitUntil(
      () => {
        const sets = clis.map(running);
        return sets.every((x) => x.size > 0) && new Set(sets.flatMap((x) => [...x])).size === PARTITIONS;
      },
      90_000,
      what,
    ).catch(withLogs);
  return { workers, start, running, tasksStarted, withLogs, spread };
}

for (const store of stores)
  test(`three workers, one killed with SIGKILL and one added while records flow: the windows equal an independent count (${store.kind} checkpoint store)`, {
    skip: store.skip,
    timeout: 300_000,
  }, async (t) => {
    const input = await topics.create('workers-in', PARTITIONS);
    const group = uniqueName('workers-g');
    const table = `sluice_workers_${process.pid}_${Date.now().toString(36)}`;
    cleanUpPipeline(t, table, [table]);
    const dir = await tempDir(t, 'sluice-workers-');
    await writeFile(join(dir, 'pipeline.yaml'), windowCountsPipeline(input, group, table));
    const { start, running, tasksStarted, withLogs, workers } = workerGroup(t, dir, store.url);
    const rows = async () => {
      try {
        return await pgQuery<{ account: string; window_start: string; n: string }>(`SELECT * FROM ${table}`);
      } catch {
        return []; // not created yet
      }
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
    // A rebalance can move w2's tasks for a while on a loaded machine: kill it while it runs some.
    await waitUntil(() => running(w2).size > 0, 60_000, 'w2 running tasks when it is killed').catch(withLogs);
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
    // A task killed before its first checkpoint has none to hand over: w4 starts it from the
    // earliest offset with empty state, which is as correct (the counts above hold either way).
    assert.ok(
      starts.some((start) => /\(checkpoint\)$/.test(start)),
      `w4 resumed a partition from a checkpoint: ${starts}`,
    );
    for (const start of starts) assert.match(start, /\((checkpoint|earliest)\)$/, `w4 started at ${start}`);
    assert.match(w4.stderr, /"msg":"restored checkpoint"/);

    for (const id of ['w1', 'w3', 'w4']) workers.get(id)!.child.kill('SIGTERM');
    for (const id of ['w1', 'w3', 'w4']) {
      const r = await workers.get(id)!.exited;
      assert.equal(r.code, 0, `${id} stops cleanly on SIGTERM:\n${r.stderr.slice(-3000)}`);
    }
    const owners =
      store.kind === 'postgres'
        ? await pgQuery<{ slot: string; released: boolean }>(
            'SELECT slot, released FROM sluice_checkpoints_owners WHERE pipeline = $1',
            [table],
          )
        : (await readS3CheckpointSlots(s3StoreLocation(store.url), table)).slots;
    assert.equal(owners.length, PARTITIONS, 'one checkpoint slot per task');
    for (const o of owners) {
      assert.equal(o.released, true, `${o.slot} is released after the graceful stop`);
    }
  });

test("a graceful rebalance moves each partition's windows: every window is emitted once, none missing, none repeated", {
  skip,
  timeout: 300_000,
}, async (t) => {
  const input = await topics.create('workers-rebalance-in', PARTITIONS);
  const table = `sluice_workers_rb_${process.pid}_${Date.now().toString(36)}`;
  cleanUpPipeline(t, table, [table]);
  const dir = await tempDir(t, 'sluice-workers-rb-');
  // Append: every window result the tasks emit is a row, so a repeat would show.
  await writeFile(
    join(dir, 'pipeline.yaml'),
    windowCountsPipeline(input, uniqueName('workers-rb-g'), table, 'append'),
  );
  const { start, spread, workers, withLogs } = workerGroup(t, dir);
  const r1 = start('r1');
  const r2 = start('r2');
  await spread([r1, r2], 'the six tasks spread over two workers');
  await produce(input, records(0, 100));
  const rows = async () => {
    try {
      return await pgQuery<{ account: string; window_start: string; n: string }>(`SELECT * FROM ${table}`);
    } catch {
      return [];
    }
  };
  await waitUntil(async () => (await rows()).length > 0, 60_000, 'the first windows in the table').catch(
    withLogs,
  );
  // A third worker joins (the group rebalances), then the first leaves gracefully (again).
  const r3 = start('r3');
  await produce(input, records(100, 200));
  await spread([r1, r2, r3], 'the tasks spread over three workers');
  r1.child.kill('SIGTERM');
  assert.equal((await r1.exited).code, 0, 'r1 stops cleanly');
  await produce(input, records(200, PER_USER));
  await spread([r2, r3], "r1's tasks taken over");
  const closing: ProducedRecord[] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    closing.push({ partition: p, value: JSON.stringify({ account: `end${p}`, ts: T0 + 3_600_000 }) });
  }
  await produce(input, closing);
  const expected = expectedCounts();
  const emitted = async () => (await rows()).filter((r) => !r.account.startsWith('end'));
  await waitUntil(
    async () => (await emitted()).length >= expected.size,
    120_000,
    'every window emitted',
  ).catch(withLogs);
  // Let anything that would repeat arrive, then stop the workers (their final checkpoints).
  for (const id of ['r2', 'r3']) workers.get(id)!.child.kill('SIGTERM');
  for (const id of ['r2', 'r3']) assert.equal((await workers.get(id)!.exited).code, 0, `${id} stops cleanly`);
  const got = new Map<string, number[]>();
  for (const r of await emitted()) {
    const k = `${r.account}/${r.window_start}`;
    got.set(k, [...(got.get(k) ?? []), Number(r.n)]);
  }
  const repeated = [...got].filter(([, ns]) => ns.length > 1);
  const wrong = [...expected].filter(([k, n]) => got.get(k)?.[0] !== n);
  assert.deepEqual({ repeated: repeated.slice(0, 5), wrong: wrong.slice(0, 5) }, { repeated: [], wrong: [] });
  assert.equal(got.size, expected.size);
});

function passthrough(input: string, output: string, group: string, name: string): string {
  return `
name: ${name}
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
steps:
  - id: doubled
    type: map
    fields: { double: id * 2 }
sinks:
  out:
    type: kafka
    brokers: ['${KAFKA_BROKER}']
    topic: '${output}'
    key: id
    delivery: exactly_once
`;
}

test('exactly-once across workers: after a SIGKILL and a new worker, read_committed sees every record once', {
  skip,
  timeout: 450_000,
}, async (t) => {
  const RECORDS = 12_000;
  const [input, output] = await Promise.all([
    topics.create('workers-eos-in', PARTITIONS),
    topics.create('workers-eos-out', PARTITIONS),
  ]);
  const name = `sluice_workers_eos_${process.pid}_${Date.now().toString(36)}`;
  cleanUpPipeline(t, name);
  const dir = await tempDir(t, 'sluice-workers-eos-');
  await writeFile(join(dir, 'pipeline.yaml'), passthrough(input, output, uniqueName('workers-eos-g'), name));
  const { start, running, spread, workers } = workerGroup(t, dir);
  const batch = (from: number, to: number): ProducedRecord[] => {
    const out: ProducedRecord[] = [];
    for (let id = from; id < to; id++)
      out.push({ partition: id % PARTITIONS, value: JSON.stringify({ id }) });
    return out;
  };
  const began = Date.now();
  const phase = (what: string) => t.diagnostic(`${((Date.now() - began) / 1000).toFixed(1)} s: ${what}`);
  const w1 = start('e1');
  const w2 = start('e2');
  const w3 = start('e3');
  await spread([w1, w2, w3], 'the six tasks spread over three workers');
  phase('tasks spread');
  await produce(input, batch(0, RECORDS / 3));
  await new Promise((r) => setTimeout(r, 1500));
  assert.ok(running(w2).size > 0, 'e2 runs tasks when it is killed');
  w2.child.kill('SIGKILL');
  await produce(input, batch(RECORDS / 3, (2 * RECORDS) / 3));
  phase('e2 killed');
  const w4 = start('e4');
  await spread([w1, w3, w4], "e2's tasks taken over, e4 running some");
  phase('tasks taken over');
  await produce(input, batch((2 * RECORDS) / 3, RECORDS));
  const logs = () => [...workers].map(([id, w]) => `--- ${id}\n${w.stderr.slice(-5000)}`).join('\n');
  const read = await consoleConsume(output, {
    isolation: 'read_committed',
    maxMessages: RECORDS * 3,
    atLeast: RECORDS,
    idleMs: 5_000,
  }).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${logs()}`);
  });
  phase('output read');
  const seen = new Map<number, number>();
  for (const r of read) {
    const v = JSON.parse(r.value!) as { id: number; double: number };
    assert.equal(v.double, v.id * 2);
    seen.set(v.id, (seen.get(v.id) ?? 0) + 1);
  }
  const missing = [...Array(RECORDS).keys()].filter((id) => !seen.has(id));
  const twice = [...seen].filter(([, n]) => n > 1);
  assert.deepEqual(
    { missing: missing.slice(0, 10), twice: twice.slice(0, 10), records: read.length },
    { missing: [], twice: [], records: RECORDS },
    logs(),
  );
  for (const id of ['e1', 'e3', 'e4']) workers.get(id)!.child.kill('SIGTERM');
  for (const id of ['e1', 'e3', 'e4'])
    assert.equal((await workers.get(id)!.exited).code, 0, `${id} stops cleanly`);
});
