/**
 * What the tests of scaled-out workers (`sluice run --worker-id`) share: the arguments that start
 * one against the shared PostgreSQL checkpoint store, the tasks it runs as its log tells them, and
 * the cleaning up of what a pipeline left in PostgreSQL.
 */

import assert from 'node:assert/strict';
import { after, type TestContext } from 'node:test';
import { KAFKA_BROKER, kafkaAvailable, type ProducedRecord, Topics } from '@sluice/kafka/testing';
import { PG_URL, pgQuery, postgresMissing } from '@sluice/postgres/testing';
import { Cli, waitUntil } from './cli-test-support.ts';

/**
 * What a worker test file needs first: the reason to skip when the broker or the PostgreSQL
 * checkpoint store is missing (undefined when both answer), and its topics, deleted when the file ends.
 */
export async function workerServices(): Promise<{
  readonly skip: string | undefined;
  readonly topics: Topics;
}> {
  const kafka = await kafkaAvailable();
  const pgMissing = await postgresMissing();
  const topics = new Topics();
  after(() => topics.cleanup());
  return { skip: !kafka ? 'kafka not reachable' : pgMissing, topics };
}

/** A record of user `u<n>` on partition n mod `partitions`, keyed by the user, as a producer keyed by user places it. */
export function byUser(record: { readonly user: string }, partitions: number): ProducedRecord {
  return {
    partition: Number(record.user.slice(1)) % partitions,
    key: record.user,
    value: JSON.stringify(record),
  };
}

/**
 * The `sluice` processes of one test, in folder `dir`: each killed when the test ends, their logs'
 * tails for a failure's message, and the wait until the tasks are spread over some of them.
 */
export class Processes {
  readonly #dir: string;
  readonly #limitMs: number;
  readonly #all: Cli[] = [];

  constructor(t: TestContext, dir: string, limitMs: number) {
    this.#dir = dir;
    this.#limitMs = limitMs;
    t.after(() => {
      for (const c of this.#all) c.child.kill('SIGKILL');
    });
  }

  /** The processes started so far, in order. */
  get all(): readonly Cli[] {
    return this.#all;
  }

  /** Starts `sluice ...args`. */
  start(args: readonly string[]): Cli {
    const cli = new Cli(args, { cwd: this.#dir, limitMs: this.#limitMs });
    this.#all.push(cli);
    return cli;
  }

  /** The last 4,000 characters of each process's log. */
  logs(): string {
    return this.#all.map((c) => `---\n${c.stderr.slice(-4000)}`).join('\n');
  }

  /** Waits until `workers` run the `tasks` tasks between them, each running some; fails with the logs. */
  async spread(workers: readonly Cli[], tasks: number, what: string, ms = 90_000): Promise<void> {
    await waitUntil(
      () => {
        const sets = workers.map((c) => tasksOf(c.stderr));
        return sets.every((x) => x.size > 0) && new Set(sets.flatMap((x) => [...x])).size === tasks;
      },
      ms,
      what,
    ).catch((err: unknown) => assert.fail(`${(err as Error).message}\n${this.logs()}`));
  }
}

/**
 * The arguments of `sluice run pipeline.yaml` as worker `id` with the shared `store` (default the
 * PostgreSQL one), a 3 s lease (a killed worker's tasks move soon) and JSON logs; one member per
 * process (named `id`) unless `threads` says otherwise (members `id.0`, `id.1`, …).
 */
export function workerArgs(id: string, threads = 1, store = PG_URL): string[] {
  return [
    'run',
    'pipeline.yaml',
    '--worker-id',
    id,
    '--threads',
    String(threads),
    '--checkpoint-store',
    store,
    '--lease',
    '3s',
    '--log-format',
    'json',
  ];
}

/** The tasks each member of a worker process runs now, by member id, from its JSON log. */
export function runningTasks(stderr: string): Map<string, Set<number>> {
  const byMember = new Map<string, Set<number>>();
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    const l = JSON.parse(line) as { msg?: string; task?: number; worker?: string };
    if (l.worker === undefined || l.task === undefined) continue;
    const tasks = byMember.get(l.worker) ?? new Set<number>();
    byMember.set(l.worker, tasks);
    if (l.msg === 'worker: task started') tasks.add(l.task);
    if (l.msg === 'worker: task stopped') tasks.delete(l.task);
  }
  return byMember;
}

/** The tasks a worker process runs now, over all its members. */
export function tasksOf(stderr: string): Set<number> {
  return new Set([...runningTasks(stderr).values()].flatMap((s) => [...s]));
}

/** When `t` ends: drops `tables` and deletes `pipeline`'s checkpoints and slot owners from the store. */
export function cleanUpPipeline(t: TestContext, pipeline: string, tables: readonly string[] = []): void {
  t.after(async () => {
    for (const table of tables) await pgQuery(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
    await pgQuery('DELETE FROM sluice_checkpoints WHERE pipeline = $1', [pipeline]).catch(() => {});
    await pgQuery('DELETE FROM sluice_checkpoints_owners WHERE pipeline = $1', [pipeline]).catch(() => {});
  });
}

/**
 * A pipeline of kafka (`input`, group `group`) → one-second tumbling counts per `account` →
 * PostgreSQL `table` (upserts by account and window, or appends: a repeated window shows).
 */
export function windowCountsPipeline(
  input: string,
  group: string,
  table: string,
  mode: 'upsert' | 'append' = 'upsert',
): string {
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
    mode: ${mode}
${mode === 'upsert' ? '    key: [account, window_start]\n' : ''}    create_table: true
    columns: { account: text, window_start: bigint, window_end: bigint, n: bigint }
`;
}
