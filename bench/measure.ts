/**
 * What the benchmarks share: timing a run in CPU and wall time, the median of runs, and running
 * a program measured in a process of its own.
 */

import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { dirname } from 'node:path';
import type { CheckpointStore, Job } from '@sluice/core';

/** One run: CPU milliseconds of this process (user + system), wall milliseconds, and its output. */
export interface Measurement {
  cpuMs: number;
  wallMs: number;
  /** What the run produced (records out, matches), a check that compared sides did the same work. */
  output: number;
}

/** Times `run` (synchronous or not) in CPU and wall time. */
export async function measure(run: () => Promise<number> | number): Promise<Measurement> {
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const output = await run();
  const cpu = process.cpuUsage(cpu0);
  return { cpuMs: (cpu.user + cpu.system) / 1000, wallMs: performance.now() - wall0, output };
}

/** The median (the mean of the middle two for an even count; NaN for none). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Medians of an engine run and a baseline run measured side by side (see `compare`). */
export interface Comparison {
  /** Records per CPU-second. */
  engineRate: number;
  baselineRate: number;
  /** engineRate / baselineRate. */
  ratio: number;
  /** Engine records per second of wall-clock time. */
  engineWallRate: number;
  /** What both produced (they must agree). */
  output: number;
}

/**
 * Runs `engine` and `baseline` once each to warm up, then `runs` times each, alternating so that
 * drift in machine load hits both sides alike, and returns the medians, as rates of `records`
 * per CPU-second. Throws (naming `what`) when the two produce different outputs: they did not do
 * the same work.
 */
export async function compare(
  what: string,
  records: number,
  runs: number,
  engine: () => Promise<number> | number,
  baseline: () => Promise<number> | number,
): Promise<Comparison> {
  await engine();
  await baseline();
  const e: Measurement[] = [];
  const b: Measurement[] = [];
  for (let i = 0; i < runs; i++) {
    e.push(await measure(engine));
    b.push(await measure(baseline));
  }
  if (e[0].output !== b[0].output)
    throw new Error(`${what}: the engine produced ${e[0].output}, the baseline loop ${b[0].output}`);
  const engineRate = median(e.map((m) => records / (m.cpuMs / 1000)));
  const baselineRate = median(b.map((m) => records / (m.cpuMs / 1000)));
  return {
    engineRate,
    baselineRate,
    ratio: engineRate / baselineRate,
    engineWallRate: median(e.map((m) => records / (m.wallMs / 1000))),
    output: e[0].output,
  };
}

/**
 * Runs `file` again as a child process with `--child <job as JSON>`, so that each program
 * measured has a Node process (JIT, heap) of its own, and resolves with what it prints on a line
 * `RESULT <json>`. `onOutput` sees the child's standard output as it comes (all of it so far, and
 * the new piece) and may `fail` the run, which kills the child. A child still running after ten
 * minutes is killed.
 */
export function runChild<M>(
  file: string,
  job: { readonly variant: string },
  onOutput?: (out: string, chunk: string, fail: (err: unknown) => void) => void,
): Promise<M> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [file, '--child', JSON.stringify(job)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const fail = (e: unknown) => {
      c.kill('SIGKILL');
      reject(e instanceof Error ? e : new Error(String(e)));
    };
    c.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      onOutput?.(out, d, fail);
    });
    c.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
    });
    const timer = setTimeout(() => c.kill('SIGKILL'), 600_000);
    c.on('close', (code) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (!line)
        reject(new Error(`${job.variant} failed (exit ${code}):\n${err.slice(-3000)}${out.slice(-1000)}`));
      else resolve(JSON.parse(line.slice(7)) as M);
    });
  });
}

/** CPU milliseconds (user + system) this process spent since `start`. */
export function cpuMsSince(start: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(start);
  return (c.user + c.system) / 1000;
}

/** What a benchmark child measured: CPU and wall milliseconds over `records` records. */
export interface ChildMeasurement {
  cpuMs: number;
  wallMs: number;
  records: number;
}

/**
 * Runs `job` until its source `in` has read `total` records, then stops it (drain, final
 * checkpoint) and checks that it read exactly `total` with no dead letter. The clock runs from
 * the first count that is not 0 (`onStart` hears of it), so `records` is what was read after it;
 * `onProgress` hears each new count. Throws after 60 s without progress.
 */
export async function measureJobUntilRead(
  job: Job,
  total: number,
  hooks: { onProgress?: (read: number) => void; onStart?: () => void } = {},
): Promise<ChildMeasurement> {
  const done = job.run();
  let cpu0 = process.cpuUsage();
  let t0 = performance.now();
  let startedAt = -1;
  let progress = { read: -1, at: performance.now() };
  for (;;) {
    const read = job.metrics().sources.in?.in ?? 0;
    if (read !== progress.read) {
      progress = { read, at: performance.now() };
      hooks.onProgress?.(read);
    } else if (performance.now() - progress.at > 60_000)
      throw new Error(`no progress for 60 s at ${read} of ${total} read`);
    if (startedAt < 0 && read >= 1) {
      startedAt = read;
      cpu0 = process.cpuUsage();
      t0 = performance.now();
      hooks.onStart?.();
    }
    if (read >= total) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const cpuMs = cpuMsSince(cpu0);
  const wallMs = performance.now() - t0;
  job.stop();
  const result = await done;
  const read = result.metrics.sources.in?.in ?? 0;
  if (read !== total || result.metrics.deadLetters !== 0)
    throw new Error(`read ${read} (${result.metrics.deadLetters} dead letters), expected ${total}`);
  return { cpuMs, wallMs, records: read - startedAt };
}

/**
 * A CPU profile of the measured interval only (`--cpu-prof` would also take in module loading
 * and connecting): started with the clock, written by `stop`.
 */
export class IntervalProfile {
  readonly #session = new Session();
  readonly #file: string | undefined;
  readonly #heap: boolean;
  #started: Promise<unknown> | undefined;

  /** Writes `<dir>/<name>.cpuprofile` (or `.heapprofile`, `allocations`); nothing without `dir`. */
  constructor(dir: string | undefined, name: string, allocations = false) {
    this.#heap = allocations;
    const ext = this.#heap ? 'heapprofile' : 'cpuprofile';
    this.#file = dir && `${dir}/${name}.${ext}`;
  }

  start(): void {
    if (this.#file === undefined || this.#started) return;
    const s = this.#session;
    s.connect();
    this.#started = this.#heap
      ? s.post('HeapProfiler.enable').then(() =>
          s.post('HeapProfiler.startSampling', {
            samplingInterval: 4096,
            includeObjectsCollectedByMajorGC: true,
            includeObjectsCollectedByMinorGC: true,
          }),
        )
      : s.post('Profiler.enable').then(() => s.post('Profiler.start'));
  }

  async stop(): Promise<void> {
    if (this.#file === undefined || this.#started === undefined) return;
    await this.#started;
    const { profile } = this.#heap
      ? await this.#session.post('HeapProfiler.stopSampling')
      : await this.#session.post('Profiler.stop');
    this.#session.disconnect();
    mkdirSync(dirname(this.#file), { recursive: true });
    writeFileSync(this.#file, JSON.stringify(profile));
  }
}

/**
 * A checkpoint store that keeps nothing. A bounded job ends with a checkpoint of its state: the
 * engine still encodes it (a cost the figures include), but nothing is written, and the next run
 * has no file to read back.
 */
export const nowhere = (): CheckpointStore => ({
  prepare: async () => {},
  close: async () => {},
  write: async () => {},
  latest: async () => undefined,
  unreadable: async () => [],
  setAside: async (file) => file,
  list: async () => [],
  clear: async () => {},
});
