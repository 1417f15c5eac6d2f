/**
 * An updating stream crossing a repartition topic, scaled out over workers (issue 16): a topic
 * keyed by user (`partitioned_by: [user]`), a count per user and region without a window — a
 * retract changelog, each new record retracting the user's previous count — then, per region,
 * the users and the records over that changelog. The crossing records carry their row kinds, and
 * the downstream part reads the same changelog back. The final table (upserts by region) must be
 * what a plain loop over the input gives, and what one `sluice run` process gives.
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
const REGIONS = ['r0', 'r1', 'r2', 'r3', 'r4'];
const PER_USER = 30;
const T0 = 1_767_225_600_000;

/** User `u` lives on partition `u % PARTITIONS` and moves between regions over time. */
function records(): { user: string; region: string; ts: number }[] {
  const out: { user: string; region: string; ts: number }[] = [];
  for (let i = 0; i < PER_USER; i++) {
    for (let u = 0; u < USERS; u++) {
      out.push({
        user: `u${u}`,
        region: REGIONS[(u + Math.floor(i / 7)) % REGIONS.length],
        ts: T0 + i * 250 + u,
      });
    }
  }
  return out;
}

const produced = (r: { user: string; region: string; ts: number }): ProducedRecord => byUser(r, PARTITIONS);

/** `region users records`, sorted: a plain loop over the records. */
function expectedRows(): string[] {
  const users = new Map<string, Set<string>>();
  const n = new Map<string, number>();
  for (const r of records()) {
    users.set(r.region, (users.get(r.region) ?? new Set()).add(r.user));
    n.set(r.region, (n.get(r.region) ?? 0) + 1);
  }
  return [...n].map(([region, count]) => `${region} ${users.get(region)?.size} ${count}`).sort();
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
    group_id: '${uniqueName('repartition-changelog-g')}'
    partitioned_by: [user]
    include_metadata: false
    session_timeout: 6s
    heartbeat_interval: 500ms
    event_time: { field: ts, max_out_of_orderness: 0s, idle_timeout: 2m }
steps:
  - id: per_user
    type: aggregate
    input: in
    key: [user, region]
    fields:
      n: count(*)
  - id: per_region
    type: aggregate
    input: per_user
    key: [region]
    fields:
      users: count(*)
      n: sum(n)
sinks:
  out:
    type: postgres
    input: per_region
    url: ${PG_URL}
    table: ${table}
    mode: upsert
    key: [region]
    create_table: true
    columns: { region: text, users: bigint, n: bigint }
`;
}

test('a retract changelog crosses the repartition topic with its row kinds: the per-region table of a plain loop and of one process', {
  skip,
  timeout: 280_000,
}, async (t) => {
  const input = await topics.create('repartition-changelog', PARTITIONS);
  const table = `sluice_repart_cl_${process.pid}_${Date.now().toString(36)}`;
  t.after(() => deleteTopics(`${table}-per_region-repartition`));
  cleanUpPipeline(t, table, [table, `${table}_single`]);
  const dir = await tempDir(t, 'sluice-repartition-changelog-');
  await writeFile(join(dir, 'pipeline.yaml'), pipeline(input, table));
  await writeFile(join(dir, 'single.yaml'), pipeline(input, `${table}_single`));
  const processes = new Processes(t, dir, 270_000);
  const logs = () => processes.logs();
  const a = processes.start(workerArgs('a'));
  const b = processes.start(workerArgs('b'));
  await processes.spread([a, b], PARTITIONS, 'the four tasks spread over the two workers');
  processes.start(['run', 'single.yaml', '--log-format', 'json']);
  for (const w of [a, b]) assert.match(w.stderr, /worker: the pipeline regroups through a repartition topic/);

  // In waves, so that the per-user counts are updated across checkpoints and transactions.
  const all = records();
  for (let from = 0; from < all.length; from += USERS * 6) {
    await produce(input, all.slice(from, from + USERS * 6).map(produced));
    await new Promise((r) => setTimeout(r, 300));
  }

  const expected = expectedRows();
  const rows = async (name: string) => {
    try {
      const got = await pgQuery<{ region: string; users: string; n: string }>(
        `SELECT region, users, n FROM ${name}`,
      );
      return got.map((r) => `${r.region} ${r.users} ${r.n}`).sort();
    } catch {
      return []; // not created yet
    }
  };
  for (const name of [table, `${table}_single`]) {
    await waitUntil(
      async () => JSON.stringify(await rows(name)) === JSON.stringify(expected),
      150_000,
      `the final table ${name}`,
    ).catch(async (err: unknown) =>
      assert.fail(
        `${(err as Error).message}: ${JSON.stringify(await rows(name))} ≠ ${JSON.stringify(expected)}\n${logs()}`,
      ),
    );
  }
  // Stays so: no late change (a lost retraction would count a user twice in a region).
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(await rows(table), expected, 'the workers give the table of a plain loop');
  assert.deepEqual(await rows(`${table}_single`), expected, 'one process gives the same table');
  for (const w of [a, b]) w.child.kill('SIGTERM');
  for (const w of [a, b]) {
    const r = await w.exited;
    assert.equal(r.code, 0, `a worker stops cleanly on SIGTERM:\n${r.stderr.slice(-3000)}`);
  }
});
