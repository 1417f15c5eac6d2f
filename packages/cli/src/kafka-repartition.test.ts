/**
 * A regrouping pipeline scaled out over workers (issue 16): the source topic is keyed by user
 * (`partitioned_by: [user]`), the one-second tumbling counts are keyed by region, so each task's
 * upstream part writes its records to the managed repartition topic by region, with its watermark
 * to every partition, and each task's downstream part counts one partition of it. Two workers; the
 * windows, written to an append-only table, must be exactly those an independent count of the
 * input gives — each emitted once, none early (a window fired before every upstream task passed
 * its end would be emitted with a partial count, and its remaining records late).
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import {
  deleteTopics,
  earliestOffsets,
  KAFKA_BROKER,
  type ProducedRecord,
  produce,
  uniqueName,
} from '@sluice/kafka/testing';
import { PG_URL, pgQuery } from '@sluice/postgres/testing';
import { type Cli, runCli, tempDir, waitUntil } from './cli-test-support.ts';
import { cleanUpPipeline, Processes, tasksOf, workerArgs, workerServices } from './worker-test-support.ts';

const { skip, topics } = await workerServices();

const PARTITIONS = 4;
const USERS = 12;
const REGIONS = 3;
/** Records per user: four per second of event time. */
const PER_USER = 80;
const T0 = 1_767_225_600_000;

/** User `u` lives on partition `u % PARTITIONS` and in region `r${u % REGIONS}`. */
function records(): ProducedRecord[] {
  const out: ProducedRecord[] = [];
  for (let i = 0; i < PER_USER; i++) {
    for (let u = 0; u < USERS; u++) {
      out.push({
        partition: u % PARTITIONS,
        key: `u${u}`,
        value: JSON.stringify({
          user: `u${u}`,
          region: `r${u % REGIONS}`,
          ts: T0 + Math.floor(i / 4) * 1000 + u,
        }),
      });
    }
  }
  return out;
}

/** `region/window_start` → count, computed from the records alone. */
function expectedCounts(users = (_u: number) => true): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < PER_USER; i++) {
    for (let u = 0; u < USERS; u++) {
      if (!users(u)) continue;
      const k = `r${u % REGIONS}/${T0 + Math.floor(i / 4) * 1000}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
  }
  return counts;
}

function pipeline(input: string, table: string, mode: 'append' | 'upsert', idleTimeout = '2m'): string {
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
    group_id: '${uniqueName('repartition-g')}'
    partitioned_by: [user]
    include_metadata: false
    session_timeout: 6s
    heartbeat_interval: 500ms
    # 2m: no upstream task goes idle during a test (an idle one lets the windows fire without it).
    event_time: { field: ts, max_out_of_orderness: 0s, idle_timeout: ${idleTimeout} }
steps:
  - id: counts
    type: aggregate
    input: in
    key: [region]
    window: { type: tumbling, size: 1s }
    fields:
      n: count(*)
sinks:
  out:
    type: postgres
    input: counts
    url: ${PG_URL}
    table: ${table}
    mode: ${mode}
${mode === 'upsert' ? '    key: [region, window_start]\n' : ''}    create_table: true
    columns: { region: text, window_start: bigint, window_end: bigint, n: bigint }
`;
}

/** One record per partition far ahead in event time: its upstream task passes every window. */
function closing(p: number): ProducedRecord {
  return {
    partition: p,
    key: `u${p}`,
    value: JSON.stringify({ user: `u${p}`, region: 'end', ts: T0 + 3_600_000 }),
  };
}

/** A test's input topic, table, folder with the pipeline file, and its `sluice run --worker-id` workers. */
async function setUp(t: TestContext, label: string, mode: 'append' | 'upsert', idleTimeout?: string) {
  const input = await topics.create(`repartition-${label}`, PARTITIONS);
  const table = `sluice_repart_${label}_${process.pid}_${Date.now().toString(36)}`;
  t.after(() => deleteTopics(`${table}-counts-repartition`));
  cleanUpPipeline(t, table, [table]);
  const dir = await tempDir(t, `sluice-repartition-${label}-`);
  await writeFile(join(dir, 'pipeline.yaml'), pipeline(input, table, mode, idleTimeout));
  const processes = new Processes(t, dir, 280_000);
  const start = (id: string) => processes.start(workerArgs(id));
  const logs = () => processes.logs();
  /** The tasks a worker runs now, from its log. */
  const running = (cli: Cli) => tasksOf(cli.stderr);
  /** Waits until the tasks run on exactly `clis`, each running some, every partition covered. */
  const spread = (clis: readonly Cli[], what: string) => processes.spread(clis, PARTITIONS, what);
  const rows = async () => {
    try {
      const all = await pgQuery<{ region: string; window_start: string; n: string }>(
        `SELECT * FROM ${table}`,
      );
      return all.filter((r) => r.region !== 'end');
    } catch {
      return []; // not created yet
    }
  };
  /** The same pipeline in one process (`sluice run` without --worker-id), into table `<table>_single`. */
  const single = async () => {
    await writeFile(join(dir, 'single.yaml'), pipeline(input, `${table}_single`, mode));
    t.after(async () => {
      await pgQuery(`DROP TABLE IF EXISTS ${table}_single`).catch(() => {});
    });
    return processes.start(['run', 'single.yaml', '--log-format', 'json']);
  };
  return { dir, input, table, workers: processes.all, start, single, logs, running, spread, rows };
}

test('a pipeline keyed by user and counting by region over a repartition topic gives the windows of an independent count', {
  skip,
  timeout: 240_000,
}, async (t) => {
  const { dir, input, table, start, single, logs, spread, rows, workers } = await setUp(t, 'two', 'append');
  const a = start('a');
  const b = start('b');
  await spread([a, b], 'the four tasks spread over the two workers');
  // One process over the same input: the workers' windows must be its windows.
  await single();
  for (const w of [a, b]) assert.match(w.stderr, /worker: the pipeline regroups through a repartition topic/);

  const all = records();
  const last = PARTITIONS - 1;
  // Every partition but the last, to its end: those upstream tasks' watermarks pass every window,
  // but the last task's has not been heard of, so no window may fire.
  await produce(input, [
    ...all.filter((r) => r.partition !== last),
    ...Array.from({ length: last }, (_, p) => closing(p)),
  ]);
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal((await rows()).length, 0, 'no window fires before every upstream task has passed it');
  await produce(input, [...all.filter((r) => r.partition === last), closing(last)]);

  const expected = expectedCounts();
  await waitUntil(
    async () => (await rows()).length >= expected.size,
    150_000,
    'every window in the table',
  ).catch(async (err: unknown) =>
    assert.fail(`${(err as Error).message}: ${(await rows()).length}/${expected.size}\n${logs()}`),
  );
  // Let a window emitted twice (early, then again) show.
  await new Promise((r) => setTimeout(r, 1500));
  const got = new Map<string, number>();
  const repeated: string[] = [];
  for (const r of await rows()) {
    const k = `${r.region}/${r.window_start}`;
    if (got.has(k)) repeated.push(k);
    got.set(k, Number(r.n));
  }
  assert.deepEqual(repeated, [], 'every window is emitted once');
  assert.deepEqual(
    [...got].sort(),
    [...expected].sort(),
    'the counts per region and window equal the independent count',
  );
  const alone = async () => {
    try {
      return await pgQuery<{ region: string; window_start: string; n: string }>(
        `SELECT region, window_start, n FROM ${table}_single WHERE region <> 'end' ORDER BY region, window_start`,
      );
    } catch {
      return [];
    }
  };
  await waitUntil(
    async () => (await alone()).length >= expected.size,
    60_000,
    'the single process’s windows',
  );
  const workersRows = await pgQuery<{ region: string; window_start: string; n: string }>(
    `SELECT region, window_start, n FROM ${table} WHERE region <> 'end' ORDER BY region, window_start`,
  );
  assert.deepEqual(workersRows, await alone(), 'the workers give the windows of one process');

  // sluice status shows each task's downstream part: running, its lag on the repartition topic
  // down to 0 once every record crossed and was checkpointed.
  type Slot = { state: string; lagTotal: number | null; lag: { [tp: string]: number } | null };
  let status: { tasks: (Slot & { task: number; parts: (Slot & { part: string })[] })[] } | undefined;
  await waitUntil(
    async () => {
      const r = await runCli(
        ['status', 'pipeline.yaml', '--checkpoint-store', PG_URL, '--format', 'json'],
        dir,
      );
      status = r.code === 0 ? JSON.parse(r.stdout) : undefined;
      return (
        status?.tasks.every(
          (x) =>
            x.state === 'running' &&
            x.lagTotal === 0 &&
            x.parts.length === 1 &&
            x.parts[0].state === 'running' &&
            x.parts[0].lagTotal === 0,
        ) === true
      );
    },
    60_000,
    'sluice status: every part running, lag 0',
  ).catch((err: Error) => assert.fail(`${err.message}\n${JSON.stringify(status)}`));
  assert.deepEqual(
    status?.tasks.map((x) => [x.parts[0].part, Object.keys(x.parts[0].lag ?? {})]),
    [0, 1, 2, 3].map((n) => ['after-counts', [`${table}-counts-repartition/${n}`]]),
  );

  for (const w of workers.values()) w.child.kill('SIGTERM');
  for (const w of workers.values()) {
    const r = await w.exited;
    assert.equal(r.code, 0, `a worker stops cleanly on SIGTERM:\n${r.stderr.slice(-3000)}`);
  }
  // Each downstream task deleted from its partition what its durable checkpoints had read.
  const earliest = await earliestOffsets(`${table}-counts-repartition`, PARTITIONS);
  assert.equal(earliest.length, PARTITIONS);
  for (const [p, offset] of earliest.entries()) assert.ok(offset > 0, `partition ${p} purged: ${offset}`);
  const slots = await pgQuery<{ slot: string }>(
    'SELECT slot FROM sluice_checkpoints_owners WHERE pipeline = $1 ORDER BY slot',
    [table],
  );
  assert.deepEqual(
    slots.map((s) => s.slot),
    [0, 1, 2, 3].flatMap((n) => [`tasks/${n}`, `tasks/${n}/after-counts`]),
    'each task checkpoints both its parts, each in a slot of its own',
  );
});

test('three workers, one killed with SIGKILL while records flow through the repartition topic: every count exact', {
  skip,
  timeout: 280_000,
}, async (t) => {
  const { input, start, logs, spread, rows, running } = await setUp(t, 'kill', 'upsert');
  const a = start('a');
  const b = start('b');
  const c = start('c');
  await spread([a, b, c], 'the four tasks spread over the three workers');
  const all = records();
  // Records in waves of one second of event time per user; the second worker dies after the third.
  const wave = USERS * 4;
  for (let from = 0; from < all.length; from += wave) {
    await produce(input, all.slice(from, from + wave));
    await new Promise((r) => setTimeout(r, 300));
    if (from === wave * 2) {
      await waitUntil(() => running(b).size > 0, 30_000, 'b running tasks when it is killed');
      b.child.kill('SIGKILL');
    }
  }
  await spread([a, c], "b's tasks taken over");
  await produce(
    input,
    Array.from({ length: PARTITIONS }, (_, p) => closing(p)),
  );

  const expected = expectedCounts();
  const actual = async () =>
    new Map((await rows()).map((r) => [`${r.region}/${r.window_start}`, Number(r.n)]));
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
    assert.fail(
      `${(err as Error).message}: ${got.size}/${expected.size} windows; wrong: ${JSON.stringify(wrong.map(([k, n]) => [k, n, got.get(k)]))}\n${logs()}`,
    );
  });
});

test('an upstream task whose source partition stays quiet goes idle and stops holding the windows back', {
  skip,
  timeout: 240_000,
}, async (t) => {
  const { input, start, logs, spread, rows } = await setUp(t, 'idle', 'append', '2s');
  const quiet = PARTITIONS - 1;
  // Every partition but one, to its end, before the workers start: their upstream tasks read it
  // at once; the quiet partition's task reads nothing, goes idle after 2 s and says so.
  await produce(input, [
    ...records().filter((r) => r.partition !== quiet),
    ...Array.from({ length: quiet }, (_, p) => closing(p)),
  ]);
  // a takes every task, then b joins and takes two of them over — often the quiet one, before
  // it went idle: its next owner then says it is idle only after the other tasks did, which
  // once held every window for good (all producers idle); see repartition-watermarks.ts.
  const a = start('a');
  await spread([a], 'the four tasks on a');
  const b = start('b');
  await spread([a, b], 'the four tasks spread over the two workers');
  const expected = expectedCounts((u) => u % PARTITIONS !== quiet);
  await waitUntil(
    async () => (await rows()).length >= expected.size,
    120_000,
    'every window in the table',
  ).catch(async (err: unknown) =>
    assert.fail(`${(err as Error).message}: ${(await rows()).length}/${expected.size}\n${logs()}`),
  );
  await new Promise((r) => setTimeout(r, 1000));
  const got = (await rows()).map((r) => [`${r.region}/${r.window_start}`, Number(r.n)] as const);
  assert.deepEqual(
    got.sort(),
    [...expected].sort(),
    'each window once, with the count of the partitions that had records',
  );
});
