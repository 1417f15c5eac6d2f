/**
 * A join that regroups, scaled out over workers (issue 16): views and buys, on two co-partitioned
 * topics keyed by user (`partitioned_by: [user]`), are joined by item in one-second tumbling
 * windows. A viewer and a buyer of one item live on different partitions, so each input crosses a
 * repartition topic of its own by its side of the join key, with its upstream tasks' watermarks,
 * and the downstream part of task n joins partition n of both. Two workers; the pairs, written to
 * an append-only table, must be exactly those a plain loop over the input gives, each once, and
 * those of one `sluice run` process over the same input.
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { deleteTopics, KAFKA_BROKER, type ProducedRecord, produce, uniqueName } from '@sluice/kafka/testing';
import { PG_URL, pgQuery } from '@sluice/postgres/testing';
import { runCli, tempDir, waitUntil } from './cli-test-support.ts';
import { byUser, cleanUpPipeline, Processes, workerArgs, workerServices } from './worker-test-support.ts';

const { skip, topics } = await workerServices();

const PARTITIONS = 4;
const USERS = 12;
const ITEMS = 5;
/** Views and buys per user: four of each per second of event time. */
const PER_USER = 24;
const T0 = 1_767_225_600_000;

interface Action {
  readonly kind: 'view' | 'buy';
  readonly user: string;
  readonly item: string;
  readonly ts: number;
}

/** User `u` lives on partition `u % PARTITIONS`; times rise along each partition. */
function actions(): Action[] {
  const out: Action[] = [];
  for (let i = 0; i < PER_USER; i++) {
    for (let u = 0; u < USERS; u++) {
      const ts = T0 + i * 250 + u;
      out.push({ kind: 'view', user: `u${u}`, item: `i${(u + i) % ITEMS}`, ts });
      out.push({ kind: 'buy', user: `u${u}`, item: `i${(u * 7 + i * 3) % ITEMS}`, ts });
    }
  }
  return out;
}

const produced = (r: Action): ProducedRecord => byUser(r, PARTITIONS);

/** Every pair a window join by item gives, as `item viewer buyer window_start`, sorted: a plain loop. */
function expectedPairs(): string[] {
  const all = actions();
  const out: string[] = [];
  for (const v of all) {
    if (v.kind !== 'view') continue;
    const start = v.ts - ((v.ts - T0) % 1000);
    for (const b of all) {
      if (b.kind !== 'buy' || b.item !== v.item) continue;
      if (b.ts - ((b.ts - T0) % 1000) !== start) continue;
      out.push(`${v.item} ${v.user} ${b.user} ${start}`);
    }
  }
  return out.sort();
}

function pipeline(views: string, buys: string, table: string): string {
  return `
name: ${table}
settings:
  checkpoint: { interval: 300ms, dir: ./.sluice }
  batch_size: 50
sources:
  in:
    type: kafka
    brokers: ['${KAFKA_BROKER}']
    topics: ['${views}', '${buys}']
    group_id: '${uniqueName('repartition-join-g')}'
    partitioned_by: [user]
    include_metadata: false
    session_timeout: 6s
    heartbeat_interval: 500ms
    event_time: { field: ts, max_out_of_orderness: 0s, idle_timeout: 2m }
steps:
  - id: views
    type: filter
    input: in
    where: kind = 'view'
  - id: buys
    type: filter
    input: in
    where: kind = 'buy'
  - id: pairs
    type: join
    input: [views, buys]
    on: views.item = buys.item
    window: { type: tumbling, size: 1s }
    fields: { item: views.item, viewer: views.user, buyer: buys.user, window_start: window_start }
sinks:
  out:
    type: postgres
    input: pairs
    url: ${PG_URL}
    table: ${table}
    mode: append
    create_table: true
    columns: { item: text, viewer: text, buyer: text, window_start: bigint }
`;
}

test('a window join by item over two inputs keyed by user crosses a repartition topic per input: the pairs of a plain loop, and of one process', {
  skip,
  timeout: 280_000,
}, async (t) => {
  const views = await topics.create('repartition-join-views', PARTITIONS);
  const buys = await topics.create('repartition-join-buys', PARTITIONS);
  const table = `sluice_repart_join_${process.pid}_${Date.now().toString(36)}`;
  const repartition = [`${table}-pairs-views-repartition`, `${table}-pairs-buys-repartition`];
  t.after(() => deleteTopics(...repartition));
  cleanUpPipeline(t, table, [table, `${table}_single`]);
  const dir = await tempDir(t, 'sluice-repartition-join-');
  await writeFile(join(dir, 'pipeline.yaml'), pipeline(views, buys, table));
  await writeFile(join(dir, 'single.yaml'), pipeline(views, buys, `${table}_single`));
  const processes = new Processes(t, dir, 270_000);
  const logs = () => processes.logs();
  const a = processes.start(workerArgs('a'));
  const b = processes.start(workerArgs('b'));
  await processes.spread([a, b], PARTITIONS, 'the four tasks spread over the two workers');
  processes.start(['run', 'single.yaml', '--log-format', 'json']);
  for (const w of [a, b]) assert.match(w.stderr, /worker: the pipeline regroups through a repartition topic/);

  const all = actions();
  // One view and one buy per partition far ahead: every upstream task passes every window.
  const closing: Action[] = Array.from({ length: PARTITIONS }, (_, p) => [
    { kind: 'view' as const, user: `u${p}`, item: 'end', ts: T0 + 3_600_000 },
    { kind: 'buy' as const, user: `u${p}`, item: 'end', ts: T0 + 3_600_000 },
  ]).flat();
  await produce(views, [...all, ...closing].filter((x) => x.kind === 'view').map(produced));
  await produce(buys, [...all, ...closing].filter((x) => x.kind === 'buy').map(produced));

  const expected = expectedPairs();
  assert.ok(expected.length > 1000, `a join with many pairs (${expected.length})`);
  const pairs = async (name: string) => {
    try {
      const rows = await pgQuery<{ item: string; viewer: string; buyer: string; window_start: string }>(
        `SELECT item, viewer, buyer, window_start FROM ${name}`,
      );
      return rows.map((r) => `${r.item} ${r.viewer} ${r.buyer} ${r.window_start}`).sort();
    } catch {
      return []; // not created yet
    }
  };
  for (const name of [table, `${table}_single`]) {
    await waitUntil(
      async () => (await pairs(name)).length >= expected.length,
      150_000,
      `every pair in ${name}`,
    ).catch(async (err: unknown) =>
      assert.fail(`${(err as Error).message}: ${(await pairs(name)).length}/${expected.length}\n${logs()}`),
    );
  }
  // Let a pair emitted twice show.
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(await pairs(table), expected, 'the workers give the pairs of a plain loop, each once');
  assert.deepEqual(await pairs(`${table}_single`), expected, 'one process gives the same pairs');

  // sluice status: each task's downstream part reads partition n of both topics, lag 0 at the end.
  type Part = { part: string; state: string; lagTotal: number | null; lag: { [tp: string]: number } | null };
  let status: { tasks: { task: number; parts: Part[] }[] } | undefined;
  await waitUntil(
    async () => {
      const r = await runCli(
        ['status', 'pipeline.yaml', '--checkpoint-store', PG_URL, '--format', 'json'],
        dir,
      );
      status = r.code === 0 ? JSON.parse(r.stdout) : undefined;
      return (
        status?.tasks.every(
          (x) => x.parts.length === 1 && x.parts[0].state === 'running' && x.parts[0].lagTotal === 0,
        ) === true
      );
    },
    60_000,
    'sluice status: every downstream part running, lag 0',
  ).catch((err: Error) => assert.fail(`${err.message}\n${JSON.stringify(status)}`));
  assert.deepEqual(
    status?.tasks.map((x) => [x.parts[0].part, Object.keys(x.parts[0].lag ?? {}).sort()]),
    [0, 1, 2, 3].map((n) => ['after-pairs', repartition.map((topic) => `${topic}/${n}`).sort()]),
  );
  for (const w of [a, b]) w.child.kill('SIGTERM');
  for (const w of [a, b]) {
    const r = await w.exited;
    assert.equal(r.code, 0, `a worker stops cleanly on SIGTERM:\n${r.stderr.slice(-3000)}`);
  }
});
