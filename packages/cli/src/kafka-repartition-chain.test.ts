/**
 * Two regroupings in one pipeline scaled out over workers (issue 16): a topic keyed by user
 * (`partitioned_by: [user]`), one-second counts per region, then two-second totals per country
 * over those counts. Each task runs three parts: its source partition, written to the first
 * repartition topic by region; partition n of it counted per region and written to the second
 * topic by country; partition n of that summed per country. The totals, in an append-only table,
 * must be those a plain loop over the input gives, each window once, and those of one `sluice
 * run` process over the same input.
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { deleteTopics, KAFKA_BROKER, type ProducedRecord, produce, uniqueName } from '@sluice/kafka/testing';
import { PG_URL, pgQuery } from '@sluice/postgres/testing';
import { tempDir, waitUntil } from './cli-test-support.ts';
import { byUser, cleanUpPipeline, Processes, workerArgs, workerServices } from './worker-test-support.ts';

const { skip, topics } = await workerServices();

const PARTITIONS = 4;
const USERS = 12;
const REGIONS = ['A-1', 'A-2', 'B-1', 'C-1', 'C-2'];
/** Records per user: four per second of event time. */
const PER_USER = 40;
const T0 = 1_767_225_600_000;

/** User `u` lives on partition `u % PARTITIONS`, in a region that changes with time; times rise along each partition. */
function records(): { user: string; region: string; ts: number }[] {
  const out: { user: string; region: string; ts: number }[] = [];
  for (let i = 0; i < PER_USER; i++) {
    for (let u = 0; u < USERS; u++) {
      out.push({
        user: `u${u}`,
        region: REGIONS[(u + Math.floor(i / 3)) % REGIONS.length],
        ts: T0 + i * 250 + u,
      });
    }
  }
  return out;
}

const produced = (r: { user: string; region: string; ts: number }): ProducedRecord => byUser(r, PARTITIONS);

/** `country window_start total`, sorted: a plain loop over the records. */
function expectedTotals(): string[] {
  const totals = new Map<string, number>();
  for (const r of records()) {
    const k = `${r.region.split('-')[0]} ${r.ts - ((r.ts - T0) % 2000)}`;
    totals.set(k, (totals.get(k) ?? 0) + 1);
  }
  return [...totals].map(([k, n]) => `${k} ${n}`).sort();
}

function pipeline(input: string, table: string): string {
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
    group_id: '${uniqueName('repartition-chain-g')}'
    partitioned_by: [user]
    include_metadata: false
    session_timeout: 6s
    heartbeat_interval: 500ms
    event_time: { field: ts, max_out_of_orderness: 0s, idle_timeout: 2m }
steps:
  - id: counts
    type: aggregate
    input: in
    key: [region]
    window: { type: tumbling, size: 1s }
    fields:
      n: count(*)
  - id: countries
    type: map
    input: counts
    fields:
      country: "split_part(region, '-', 1)"
      n: n
  - id: totals
    type: aggregate
    input: countries
    key: [country]
    window: { type: tumbling, size: 2s }
    fields:
      total: sum(n)
sinks:
  out:
    type: postgres
    input: totals
    url: ${PG_URL}
    table: ${table}
    mode: append
    create_table: true
    columns: { country: text, window_start: bigint, window_end: bigint, total: bigint }
`;
}

test('counts per region, then totals per country: two repartition topics, three parts per task, the totals of a plain loop and of one process', {
  skip,
  timeout: 280_000,
}, async (t) => {
  const input = await topics.create('repartition-chain', PARTITIONS);
  const table = `sluice_repart_chain_${process.pid}_${Date.now().toString(36)}`;
  t.after(() => deleteTopics(`${table}-counts-repartition`, `${table}-totals-repartition`));
  cleanUpPipeline(t, table, [table, `${table}_single`]);
  const dir = await tempDir(t, 'sluice-repartition-chain-');
  await writeFile(join(dir, 'pipeline.yaml'), pipeline(input, table));
  await writeFile(join(dir, 'single.yaml'), pipeline(input, `${table}_single`));
  const processes = new Processes(t, dir, 270_000);
  const logs = () => processes.logs();
  const a = processes.start(workerArgs('a'));
  const b = processes.start(workerArgs('b'));
  await processes.spread([a, b], PARTITIONS, 'the four tasks spread over the two workers');
  processes.start(['run', 'single.yaml', '--log-format', 'json']);
  for (const w of [a, b]) {
    const regroupings = w.stderr.match(/worker: the pipeline regroups through a repartition topic/g) ?? [];
    assert.equal(regroupings.length, 2, 'two repartition topics');
  }

  // One record per partition far ahead: every upstream task passes every window.
  const closing = Array.from({ length: PARTITIONS }, (_, p) => ({
    user: `u${p}`,
    region: 'end-0',
    ts: T0 + 3_600_000,
  }));
  await produce(input, [...records(), ...closing].map(produced));

  const expected = expectedTotals();
  const totals = async (name: string) => {
    try {
      const rows = await pgQuery<{ country: string; window_start: string; total: string }>(
        `SELECT country, window_start, total FROM ${name} WHERE country <> 'end'`,
      );
      return rows.map((r) => `${r.country} ${r.window_start} ${r.total}`).sort();
    } catch {
      return []; // not created yet
    }
  };
  for (const name of [table, `${table}_single`]) {
    await waitUntil(
      async () => (await totals(name)).length >= expected.length,
      150_000,
      `every window in ${name}`,
    ).catch(async (err: unknown) =>
      assert.fail(`${(err as Error).message}: ${(await totals(name)).length}/${expected.length}\n${logs()}`),
    );
  }
  // Let a window emitted twice (early, then again) show.
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(
    await totals(table),
    expected,
    'the workers give the totals of a plain loop, each window once',
  );
  assert.deepEqual(await totals(`${table}_single`), expected, 'one process gives the same totals');

  for (const w of [a, b]) w.child.kill('SIGTERM');
  for (const w of [a, b]) {
    const r = await w.exited;
    assert.equal(r.code, 0, `a worker stops cleanly on SIGTERM:\n${r.stderr.slice(-3000)}`);
  }
  const slots = await pgQuery<{ slot: string }>(
    'SELECT slot FROM sluice_checkpoints_owners WHERE pipeline = $1 ORDER BY slot',
    [table],
  );
  assert.deepEqual(
    slots.map((s) => s.slot),
    [0, 1, 2, 3].flatMap((n) => [`tasks/${n}`, `tasks/${n}/after-counts`, `tasks/${n}/after-totals`]),
    'each task checkpoints its three parts, each in a slot of its own',
  );
});
