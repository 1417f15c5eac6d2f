/**
 * Scale-out on one machine (issue 16): `sluice run --worker-id` processes and `--threads`.
 *
 * A topic of `--partitions` partitions is filled once with `--records` JSON records (about 60
 * bytes: an account of 1,000, an event time, an amount; 10 records per account per second of event
 * time). The pipeline is kafka → one-second tumbling count and sum per account → `discard`, with
 * its task state in the shared PostgreSQL checkpoint store (checkpoint every 500 ms). Each
 * configuration reads the whole topic from the start as a new pipeline (its own group and slots):
 *
 * - `p1`, `p2`, `p4` — 1, 2 and 4 worker processes with `--threads 1` (`p1` is also `--threads 1`);
 * - `t2` — one process with `--threads 2`.
 *
 * Measured: the workers start on the filled topic; once the group's assignment is stable (every
 * member runs tasks, every partition runs once, as their logs say) the measured interval begins,
 * and it ends when every task's newest checkpoint holds the end offset of its partition. Over that
 * interval: records read (the end offsets less what the checkpoints held at its start), the
 * workers' CPU time (user + system of every process, all its threads, from /proc) and wall time.
 * So start-up (loading, joining, the first rebalances, during which the first member reads for
 * all) is left out and reported apart, as the wall time from spawn to the stable assignment. Both
 * ends see the checkpoints, which trail the reading by up to their interval (500 ms): the records
 * counted are those checkpointed in the interval, and the end is seen up to 500 ms late, so give
 * the runs several seconds each (`--records` large enough). The configurations alternate run by
 * run so that drift in machine load hits all alike; medians of `--runs`. Reported per
 * configuration: records per CPU-second, records per second of wall time, the speedup (wall rate
 * over `p1`'s) and the scaling efficiency (the speedup over the cores the configuration can use:
 * its members, at most the machine's cores), and how far apart the runs' wall rates were.
 *
 * Then the time for a task's state to move on a graceful rebalance, by state size: a one-partition
 * topic holding `--state-keys` accounts in one open one-hour window (the state is one entry per
 * account); worker A runs the task until its checkpoint holds the whole topic, worker B joins, and
 * the worker running the task is stopped with SIGTERM. Reported: the time from the SIGTERM to the
 * other worker's `restored checkpoint` (leave → rebalance → drain → final checkpoint → release →
 * take over → restore), the part of it until the old owner's task stopped, and the checkpoint's
 * size. Needs the broker and PostgreSQL (`npm run services -- up kafka postgres`).
 *
 *   node bench/workers.ts [--records 1000000] [--partitions 4] [--runs 3] [--only p1,p2,p4,t2]
 *                         [--state-keys 1000,100000] [--state-runs 3] [--json]
 */

import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Admin } from '@platformatic/kafka';
import { readCheckpointSlots } from '@sluice/postgres';
import { median } from './measure.ts';
import { SCRATCH_DIR } from './scratch-dir.ts';
import {
  ACCOUNTS,
  BROKER,
  checkpointed,
  fill,
  forget,
  PG_URL,
  pipelineYaml,
  stable,
  stopAll,
  until,
  WorkerProcess,
} from './worker-process.ts';

interface Config {
  readonly name: string;
  readonly processes: number;
  readonly threads: number;
}
const CONFIGS: readonly Config[] = [
  { name: 'p1', processes: 1, threads: 1 },
  { name: 'p2', processes: 2, threads: 1 },
  { name: 'p4', processes: 4, threads: 1 },
  { name: 't2', processes: 1, threads: 2 },
];

/** One measured run of a configuration. */
interface Run {
  records: number;
  cpuMs: number;
  wallMs: number;
  /** Spawn to stable assignment. */
  startupMs: number;
}

// ------------------------------------------------------------------------------------------------
// throughput

/**
 * One run of `config` over `topic` (filled with `records`): a new pipeline, so a read from the
 * start. The measured interval runs from the stable assignment to every record checkpointed.
 */
async function runConfig(
  config: Config,
  topic: string,
  records: number,
  partitions: number,
  tag: string,
): Promise<Run> {
  const name = `bench_workers_${tag}_${config.name}`;
  const dir = join(SCRATCH_DIR, name);
  const file = join(SCRATCH_DIR, `${name}.yaml`);
  writeFileSync(file, pipelineYaml(name, topic, '1s', dir));
  const t0 = performance.now();
  const workers = Array.from(
    { length: config.processes },
    (_, i) => new WorkerProcess(file, `${config.name}w${i}`, config.threads),
  );
  const logs = () => workers.map((w, i) => `--- worker ${i}\n${w.log()}`).join('\n');
  try {
    const members = config.processes * config.threads;
    await until('a stable assignment', 120_000, () => stable(workers, members, partitions), logs);
    const startupMs = performance.now() - t0;
    const cpu0 = workers.reduce((s, w) => s + w.cpuMs(), 0);
    const wall0 = performance.now();
    const read0 = await checkpointed(name, topic);
    await until(
      'every record checkpointed',
      600_000,
      async () => {
        if (!stable(workers, members, partitions))
          throw new Error(`the assignment changed during the run\n${logs()}`);
        return (await checkpointed(name, topic)) >= records;
      },
      logs,
    );
    const cpuMs = workers.reduce((s, w) => s + w.cpuMs(), 0) - cpu0;
    const wallMs = performance.now() - wall0;
    await stopAll(workers);
    return { records: records - read0, cpuMs, wallMs, startupMs };
  } finally {
    for (const w of workers) w.child.kill('SIGKILL');
    await forget(name);
  }
}

// ------------------------------------------------------------------------------------------------
// state move

interface Move {
  keys: number;
  stateBytes: number;
  /** SIGTERM to the new owner's `restored checkpoint`. */
  moveMs: number;
  /** SIGTERM to the old owner's `task stopped` (drain, final checkpoint, release). */
  releaseMs: number;
}

async function moveState(topic: string, keys: number, tag: string): Promise<Move> {
  const name = `bench_move_${tag}`;
  const dir = join(SCRATCH_DIR, name);
  const file = join(SCRATCH_DIR, `${name}.yaml`);
  writeFileSync(file, pipelineYaml(name, topic, '1h', dir));
  const a = new WorkerProcess(file, 'a', 1);
  const workers = [a];
  const logs = () => workers.map((w, i) => `--- worker ${i}\n${w.log()}`).join('\n');
  try {
    await until('the task running', 120_000, () => stable([a], 1, 1), logs);
    await until(
      'the whole topic checkpointed',
      300_000,
      async () => (await checkpointed(name, topic)) >= keys,
      logs,
    );
    const b = new WorkerProcess(file, 'b', 1);
    workers.push(b);
    // B joins; the group may give it the task (a move too); wait until the task runs on one of them.
    await until('b in the group', 120_000, () => b.log().includes('"msg":"worker joined"'), logs);
    // The rebalance B's join causes gives both an assignment; until then the task may still move.
    await until(
      'the rebalance after b joined',
      30_000,
      () => b.assignments >= 1 && a.assignments >= 2,
      logs,
    ).catch(() => {});
    await until('the task running once', 120_000, () => stable(workers, 1, 1), logs);
    // ... and held in the store by the worker running it (a hand-off, if any, is over).
    await until(
      'the slot held by the worker running the task',
      120_000,
      async () => {
        const id = a.running.get('a')?.size ? 'a' : 'b';
        const { slots } = await readCheckpointSlots({ url: PG_URL, pipeline: name });
        return slots[0]?.owner === id && slots[0].held;
      },
      logs,
    );
    await until(
      'the whole topic checkpointed',
      300_000,
      async () => (await checkpointed(name, topic)) >= keys,
      logs,
    );
    const { slots } = await readCheckpointSlots({ url: PG_URL, pipeline: name });
    const stateBytes = slots[0]?.checkpoint?.bytes ?? Number.NaN;
    const [owner, other] = [...(a.running.get('a')?.size ? [a, b] : [b, a])];
    other.restoredAt = Number.NaN;
    const t0 = performance.now();
    owner.child.kill('SIGTERM');
    await until(
      'the state restored by the other worker',
      120_000,
      () => !Number.isNaN(other.restoredAt),
      logs,
    );
    const moveMs = other.restoredAt - t0;
    const releaseMs = owner.taskStoppedAt - t0;
    if ((await owner.exited) !== 0) throw new Error(`the old owner did not stop cleanly\n${logs()}`);
    await stopAll([other]);
    return { keys, stateBytes, moveMs, releaseMs };
  } finally {
    for (const w of workers) w.child.kill('SIGKILL');
    await forget(name);
  }
}

// ------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      records: { type: 'string', default: '1000000' },
      partitions: { type: 'string', default: '4' },
      runs: { type: 'string', default: '3' },
      only: { type: 'string', default: CONFIGS.map((c) => c.name).join(',') },
      'state-keys': { type: 'string', default: '1000,100000' },
      'state-runs': { type: 'string', default: '3' },
      json: { type: 'boolean', default: false },
    },
  });
  const records = Number(values.records);
  const partitions = Number(values.partitions);
  const runs = Number(values.runs);
  const stateRuns = Number(values['state-runs']);
  const stateKeys = values['state-keys'] === '' ? [] : values['state-keys'].split(',').map(Number);
  const configs =
    values.only === ''
      ? []
      : values.only.split(',').map((n) => {
          const c = CONFIGS.find((x) => x.name === n);
          if (c === undefined)
            throw new Error(`--only: no configuration ${n} (${CONFIGS.map((x) => x.name).join(', ')})`);
          return c;
        });
  const say = (line: string) => {
    if (!values.json) process.stderr.write(`${line}\n`);
  };
  const admin = new Admin({ clientId: 'bench-workers-admin', bootstrapBrokers: [BROKER] });
  const stamp = `${process.pid}_${Date.now().toString(36)}`;
  const input = `bench-workers-in-${stamp}`;
  const created: string[] = [];
  const load: number[] = [loadavg()[0]];
  try {
    const results = new Map<string, Run[]>(configs.map((c) => [c.name, []]));
    if (configs.length > 0) {
      await admin.createTopics({ topics: [input], partitions, replicas: 1 });
      created.push(input);
      say(`filling ${input} with ${records} records over ${partitions} partitions`);
      const fill0 = performance.now();
      await fill(input, records, partitions);
      say(`written in ${((performance.now() - fill0) / 1000).toFixed(1)} s`);
      for (let run = 0; run < runs; run++) {
        for (const config of configs) {
          const r = await runConfig(config, input, records, partitions, `${stamp}_${run}`);
          load.push(loadavg()[0]);
          results.get(config.name)?.push(r);
          say(
            `run ${run + 1}/${runs} ${config.name}: ${Math.round(r.records / (r.cpuMs / 1000) / 1000)}k rec/CPU-s, ` +
              `${Math.round(r.records / (r.wallMs / 1000) / 1000)}k rec/s over ${r.records} records, ` +
              `start-up ${(r.startupMs / 1000).toFixed(1)} s, load ${loadavg()[0].toFixed(2)}`,
          );
        }
      }
    }
    const moves = new Map<number, Move[]>(stateKeys.map((k) => [k, []]));
    for (const keys of stateKeys) {
      const topic = `bench-workers-state-${keys}-${stamp}`;
      await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
      created.push(topic);
      await fill(topic, keys, 1, keys);
    }
    for (let run = 0; run < stateRuns; run++) {
      for (const keys of stateKeys) {
        const m = await moveState(`bench-workers-state-${keys}-${stamp}`, keys, `${stamp}_${keys}_${run}`);
        load.push(loadavg()[0]);
        moves.get(keys)?.push(m);
        say(
          `move ${run + 1}/${stateRuns} ${keys} keys (${Math.round(m.stateBytes / 1024)} KiB): ` +
            `${Math.round(m.moveMs)} ms (old owner's task stopped after ${Math.round(m.releaseMs)} ms)`,
        );
      }
    }
    const p1 = results.get('p1') ?? [];
    const base = median(p1.map((r) => r.records / (r.wallMs / 1000)));
    const rows = configs.map((c) => {
      const rs = results.get(c.name) ?? [];
      const wall = median(rs.map((r) => r.records / (r.wallMs / 1000)));
      return {
        config: c.name,
        processes: c.processes,
        threads: c.threads,
        recordsPerCpuSecond: Math.round(median(rs.map((r) => r.records / (r.cpuMs / 1000)))),
        recordsPerSecond: Math.round(wall),
        /** Wall throughput over p1's. */
        speedup: wall / base,
        /** The speedup over the cores it could use (members, at most the machine's): 1 is perfect scaling. */
        efficiency: wall / base / Math.min(c.processes * c.threads, cpus().length),
        /** CPU time over wall time: how many cores the workers had, on average. */
        coresBusy: median(rs.map((r) => r.cpuMs / r.wallMs)),
        startupSeconds: median(rs.map((r) => r.startupMs / 1000)),
        spreadOfWall: rs.length > 0 ? spread(rs.map((r) => r.records / (r.wallMs / 1000))) : Number.NaN,
      };
    });
    const stateRows = stateKeys.map((keys) => {
      const ms = moves.get(keys) ?? [];
      return {
        keys,
        stateBytes: median(ms.map((m) => m.stateBytes)),
        moveMs: Math.round(median(ms.map((m) => m.moveMs))),
        releaseMs: Math.round(median(ms.map((m) => m.releaseMs))),
      };
    });
    const env = {
      node: process.version,
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      records,
      partitions,
      runs,
      stateRuns,
      loadAverage: { min: Math.min(...load), max: Math.max(...load) },
    };
    if (values.json) {
      console.log(JSON.stringify({ env, rows, stateRows }, null, 2));
      return;
    }
    console.log(
      `kafka → 1 s tumbling count+sum per account (${ACCOUNTS} accounts) → discard: ${records} records, ` +
        `${partitions} partitions, median of ${runs}`,
    );
    console.log(
      `${env.cores} × ${env.cpu}, ${env.memoryGiB} GiB, Node ${env.node}, ` +
        `1-min load ${env.loadAverage.min.toFixed(1)}–${env.loadAverage.max.toFixed(1)}`,
    );
    console.log(
      'config  procs  threads  rec/CPU-s  rec/s (wall)  cores busy  speedup  efficiency  wall spread  start-up',
    );
    for (const r of rows) {
      console.log(
        `${r.config.padEnd(7)} ${String(r.processes).padStart(5)} ${String(r.threads).padStart(8)} ` +
          `${`${Math.round(r.recordsPerCpuSecond / 1000)}k`.padStart(10)} ${`${Math.round(r.recordsPerSecond / 1000)}k`.padStart(13)} ${r.coresBusy.toFixed(2).padStart(11)} ` +
          `${r.speedup.toFixed(2).padStart(8)} ${r.efficiency.toFixed(2).padStart(11)} ${`±${Math.round(r.spreadOfWall * 100)}%`.padStart(12)} ` +
          `${r.startupSeconds.toFixed(1).padStart(8)} s`,
      );
    }
    if (stateRows.length > 0) {
      console.log(`state move on a graceful rebalance (SIGTERM to restored), median of ${stateRuns}`);
      console.log('keys      state     move   old owner stopped');
      for (const s of stateRows) {
        console.log(
          `${String(s.keys).padEnd(8)} ${`${Math.round(s.stateBytes / 1024)} KiB`.padStart(9)} ` +
            `${`${s.moveMs} ms`.padStart(9)} ${`${s.releaseMs} ms`.padStart(18)}`,
        );
      }
    }
  } finally {
    await admin.deleteTopics({ topics: created }).catch(() => {});
    await admin.close();
  }
}

/** Half the range of `values` over their median: how far apart the runs were. */
function spread(values: readonly number[]): number {
  return (Math.max(...values) - Math.min(...values)) / 2 / median(values);
}

await main();
