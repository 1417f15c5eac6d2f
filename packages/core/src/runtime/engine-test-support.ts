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
import { parsePipelineYaml } from '../yaml/index.ts';
import type { Job, JobResult } from './job.ts';
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
