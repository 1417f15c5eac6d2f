/**
 * Helpers for the engine-semantics tests: a registry with the testing plugin, plans from YAML in
 * a temporary folder, bounded waits, multiset comparison and the accounting identities. Not part
 * of the public surface.
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtins } from '../builtins.ts';
import type { Plan } from '../plan/plan.ts';
import type { Row } from '../record.ts';
import { Registry } from '../registry.ts';
import type { Plugin } from '../spec.ts';
import { testing } from '../testing/index.ts';
import type { MemoryChannel } from '../testing/memory.ts';
import { ManualClock } from '../time.ts';
import { parsePipelineYaml } from '../yaml/index.ts';
import { Job, type JobResult } from './job.ts';
import type { JobMetrics } from './metrics.ts';

/** The built-ins, the testing plugin and any extra test plugins. */
export function testRegistry(...extra: Plugin[]): Registry {
  return new Registry([builtins, testing, ...extra]);
}

/** A fresh temporary folder; `cleanup()` removes it. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-engine-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Parses pipeline YAML as if it were `<dir>/pipeline.yaml` (relative paths resolve in `dir`). */
export function planFrom(yaml: string, dir: string, registry: Registry): Plan {
  return parsePipelineYaml(yaml, join(dir, 'pipeline.yaml'), { registry });
}

/**
 * Runs jobs so that a failing test cannot leave one running: `stopAll()` (in `afterEach`) stops
 * every job still running and waits for it, and removes the temporary folders.
 */
export class Harness {
  readonly #running: { job: Job; done: Promise<unknown> }[] = [];
  readonly #cleanups: (() => Promise<void>)[] = [];

  /** Starts `job.run()` and returns its promise. */
  run(job: Job): Promise<JobResult> {
    const running = job.run();
    this.#running.push({ job, done: running.catch(() => undefined) });
    return running;
  }

  /** A fresh temporary folder, removed by `stopAll()`. */
  async dir(): Promise<string> {
    const { dir, cleanup } = await tempDir();
    this.#cleanups.push(cleanup);
    return dir;
  }

  async stopAll(): Promise<void> {
    for (const { job } of this.#running) job.stop();
    await Promise.all(this.#running.map((r) => r.done));
    this.#running.length = 0;
    for (const cleanup of this.#cleanups.splice(0)) await cleanup();
  }
}

/**
 * Runs `plan`, whose one source reads memory channel `channel` (partition `p0`), over `records`
 * with a crash: a checkpoint once `checkpointAt` records are read, a simulated crash of the
 * source once `crashAt` are, then a new job restored from that checkpoint reads the rest to the
 * end. `onRestored` sees the restored job before it runs. Resolves with the restored run's result.
 */
export async function runCrashedAndRestored(
  h: Harness,
  registry: Registry,
  plan: Plan,
  channel: MemoryChannel,
  records: readonly Row[],
  at: { checkpointAt: number; crashAt: number; onRestored?: (job: Job) => void },
): Promise<JobResult> {
  const clock = new ManualClock(0);
  const first = await Job.create(plan, { registry, clock, tickInterval: 5 });
  const running = h.run(first);
  channel.push('p0', ...records.slice(0, at.checkpointAt));
  await waitFor(`${at.checkpointAt} records read`, () => first.metrics().recordsIn === at.checkpointAt);
  await first.checkpoint();
  channel.push('p0', ...records.slice(at.checkpointAt, at.crashAt));
  await waitFor(`${at.crashAt} records read`, () => first.metrics().recordsIn === at.crashAt);
  channel.crash('p0');
  await assert.rejects(running, /simulated crash/);

  const second = await Job.create(plan, { registry, clock, tickInterval: 5 });
  at.onRestored?.(second);
  const resumed = h.run(second);
  channel.push('p0', ...records.slice(at.crashAt));
  channel.end();
  return resumed;
}

/**
 * The watermark each record of one partition met, computed apart from the engine: the greatest
 * valid time (`ts`) before it minus the source's bounded out-of-orderness `bound`, minus 1.
 */
export function watermarksBefore(records: readonly Row[], bound: number): number[] {
  let max = Number.NEGATIVE_INFINITY;
  return records.map((r) => {
    const before = max - bound - 1;
    if (typeof r.ts === 'number' && r.ts > max) max = r.ts;
    return before;
  });
}

/** Resolves once `cond()` holds; rejects after `timeoutMs` naming `what`. */
export async function waitFor(what: string, cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Resolves after `ms` of real time. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A record as a canonical string: keys sorted, so field order does not matter. */
export function canonical(record: Row): string {
  return JSON.stringify(Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1))));
}

/** Asserts that two lists of records are equal as multisets. */
export function assertSameMultiset(actual: readonly Row[], expected: readonly Row[], message?: string): void {
  assert.deepEqual(actual.map(canonical).sort(), expected.map(canonical).sort(), message);
}

/**
 * Asserts `in = out + filtered + dead + late` for every step, and, for a job whose sources feed
 * one linear chain ending in an aggregate step `absorbing`, that every record read is accounted
 * for: absorbed, filtered, dead or late.
 */
export function assertAccounting(metrics: JobMetrics, absorbing?: string): void {
  for (const [id, c] of Object.entries(metrics.steps)) {
    assert.equal(
      c.in,
      c.out + c.filtered + c.dead + c.late,
      `step '${id}': in = out + filtered + dead + late`,
    );
  }
  if (absorbing !== undefined) {
    const absorbed = metrics.steps[absorbing].out;
    assert.equal(
      metrics.recordsIn,
      absorbed + metrics.filtered + metrics.deadLetters + metrics.late,
      'recordsIn = absorbed + filtered + deadLetters + late',
    );
  }
}
