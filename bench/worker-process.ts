/**
 * What `bench/workers.ts` drives: `sluice run --worker-id` processes watched through their logs
 * and /proc, the pipeline they run, the input topic's records, and the progress the shared
 * checkpoint store shows.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Producer } from '@platformatic/kafka';
import { readCheckpointSlots } from '@sluice/postgres';
import pg from 'pg';

export const BROKER = process.env.SLUICE_BENCH_KAFKA ?? '127.0.0.1:9092';
export const PG_URL = process.env.SLUICE_BENCH_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';
const SLUICE = resolve(import.meta.dirname, '../packages/cli/bin/sluice.cjs');
/** Accounts of the throughput input. */
export const ACCOUNTS = 1000;
const T0 = 1_767_225_600_000;
/** /proc/<pid>/stat times are in clock ticks (`getconf CLK_TCK`, 100 on Linux). */
const TICK_MS = 10;

export function pipelineYaml(name: string, topic: string, window: string, dir: string): string {
  return `
name: ${name}
settings:
  checkpoint: { interval: 500ms, dir: ${JSON.stringify(dir)} }
sources:
  in:
    type: kafka
    brokers: ['${BROKER}']
    topics: ['${topic}']
    group_id: '${name}'
    include_metadata: false
    session_timeout: 6s
    heartbeat_interval: 500ms
    event_time: { field: ts, max_out_of_orderness: 0s }
steps:
  - id: totals
    type: aggregate
    input: in
    key: [account]
    window: { type: tumbling, size: ${window} }
    fields:
      n: count(*)
      total: sum(amount)
sinks:
  out: { type: discard, input: totals }
`;
}

/** A `sluice run --worker-id` process and what its log says. */
export class WorkerProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  /** Tasks running now, by member (worker id of the thread). */
  readonly running = new Map<string, Set<number>>();
  /** When `restored checkpoint` was last logged (performance.now()). */
  restoredAt = Number.NaN;
  /** How many assignments the group gave it. */
  assignments = 0;
  /** When `worker: task stopped` was last logged. */
  taskStoppedAt = Number.NaN;
  #rest = '';
  #tail: string[] = [];

  constructor(file: string, id: string, threads: number) {
    this.child = spawn(
      process.execPath,
      [
        SLUICE,
        'run',
        file,
        '--worker-id',
        id,
        '--threads',
        String(threads),
        '--checkpoint-store',
        PG_URL,
        '--lease',
        '3s',
        '--log-format',
        'json',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (chunk: string) => this.#read(chunk));
    this.exited = new Promise((res) => this.child.on('exit', (code) => res(code)));
  }

  #read(chunk: string): void {
    const lines = (this.#rest + chunk).split('\n');
    this.#rest = lines.pop() ?? '';
    for (const line of lines) {
      this.#tail.push(line);
      if (this.#tail.length > 40) this.#tail.shift();
      if (!line.startsWith('{')) continue;
      const l = JSON.parse(line) as { msg?: string; task?: number; worker?: string };
      if (l.msg === 'restored checkpoint') this.restoredAt = performance.now();
      if (l.msg === 'worker: tasks assigned') this.assignments++;
      if (l.worker === undefined || l.task === undefined) continue;
      const tasks = this.running.get(l.worker) ?? new Set<number>();
      this.running.set(l.worker, tasks);
      if (l.msg === 'worker: task started') tasks.add(l.task);
      if (l.msg === 'worker: task stopped') {
        tasks.delete(l.task);
        this.taskStoppedAt = performance.now();
      }
    }
  }

  /** CPU milliseconds (user + system, every thread) of the process so far. */
  cpuMs(): number {
    const stat = readFileSync(`/proc/${this.child.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command name: state is field 3, utime field 14, stime field 15 (1-based).
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  }

  log(): string {
    return this.#tail.join('\n');
  }
}

/** Every member of `workers` runs tasks and every partition runs exactly once. */
export function stable(workers: readonly WorkerProcess[], members: number, partitions: number): boolean {
  const sets = workers.flatMap((w) => [...w.running.values()]);
  const all = sets.flatMap((s) => [...s]);
  return (
    sets.filter((s) => s.size > 0).length === members &&
    all.length === partitions &&
    new Set(all).size === partitions
  );
}

/** Sum over the tasks of the offsets their newest checkpoints hold. */
export async function checkpointed(pipeline: string, topic: string): Promise<number> {
  let slots: Awaited<ReturnType<typeof readCheckpointSlots>>['slots'];
  try {
    ({ slots } = await readCheckpointSlots({ url: PG_URL, pipeline }));
  } catch {
    return 0; // no table yet
  }
  let sum = 0;
  for (const slot of slots) {
    for (const readers of Object.values(slot.checkpoint?.sources ?? {})) {
      for (const position of Object.values(readers)) {
        if (position === null || typeof position !== 'object') continue;
        for (const [key, offset] of Object.entries(position)) {
          if (key.startsWith(`${topic}/`) && typeof offset === 'number') sum += offset;
        }
      }
    }
  }
  return sum;
}

export async function until(
  what: string,
  limitMs: number,
  check: () => Promise<boolean> | boolean,
  logs: () => string,
) {
  const deadline = performance.now() + limitMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}\n${logs()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function forget(pipeline: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query('DELETE FROM sluice_checkpoints WHERE pipeline = $1', [pipeline]);
    await client.query('DELETE FROM sluice_checkpoints_owners WHERE pipeline = $1', [pipeline]);
  } finally {
    await client.end();
  }
}

export async function stopAll(workers: readonly WorkerProcess[]): Promise<void> {
  for (const w of workers) w.child.kill('SIGTERM');
  const codes = await Promise.all(workers.map((w) => w.exited));
  const bad = codes.findIndex((c) => c !== 0);
  if (bad >= 0) throw new Error(`a worker exited with ${codes[bad]} on SIGTERM\n${workers[bad].log()}`);
}

export async function fill(
  topic: string,
  records: number,
  partitions: number,
  keys?: number,
): Promise<number[]> {
  const producer = new Producer({
    clientId: 'bench-workers-fill',
    bootstrapBrokers: [BROKER],
    idempotent: true,
  });
  const counts = new Array<number>(partitions).fill(0);
  try {
    for (let from = 0; from < records; from += 10_000) {
      const messages = [];
      for (let i = from; i < Math.min(records, from + 10_000); i++) {
        const account = keys === undefined ? i % ACCOUNTS : i;
        const partition = account % partitions;
        counts[partition]++;
        // Without `keys`: 10 records per account per second of event time (ACCOUNTS accounts).
        const ts = keys === undefined ? T0 + Math.floor((i * 100) / ACCOUNTS) : T0 + (i % 1000);
        messages.push({
          topic,
          partition,
          key: Buffer.from(`a${account}`),
          value: Buffer.from(JSON.stringify({ account: `a${account}`, ts, amount: (i % 97) + 1 })),
        });
      }
      await producer.send({ messages });
    }
  } finally {
    await producer.close();
  }
  return counts;
}
