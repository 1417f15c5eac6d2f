/**
 * Runs ML pipelines as whole jobs for the tests: YAML over a memory source, results and dead
 * letters into memory sinks, with any batch size, straight or interrupted by a checkpoint, a
 * crash and a restore. Not part of the public surface.
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtins, Job, ManualClock, parsePipelineYaml, Registry, type Row } from '@sluice/core';
import { memoryChannel, memorySinkStore, testing } from '@sluice/core/testing';
import { ml } from './index.ts';

export const registry = new Registry([builtins, testing, ml]);

let runs = 0;

/** What a run wrote: its results and its dead letters (committed). */
export interface RunResult {
  results: Row[];
  dead: Row[];
}

/** Where the run stops and resumes: a checkpoint after `checkpointAt` records, a crash after `crashAt`. */
export interface Interruption {
  checkpointAt: number;
  crashAt: number;
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Runs `steps` (YAML of the `steps:` list, its first step reading `in`, the result sink reading
 * `result`) over `records` in batches of `batch`; with `interrupt`, crashes and restores as
 * described. Event time is the records' `ts` field.
 */
export async function runSteps(
  steps: string,
  records: readonly Row[],
  batch: number,
  interrupt?: Interruption,
  result = 'result',
): Promise<RunResult> {
  const name = `ml-${process.pid}-${++runs}`;
  const dir = await mkdtemp(join(tmpdir(), 'sluice-ml-'));
  try {
    const yaml = `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt }, batch_size: ${batch} }
sources:
  in: { type: memory, channel: ${name}, event_time: { field: ts, max_out_of_orderness: 0ms } }
steps:
${steps}
sinks:
  out: { type: memory, store: ${name}-out, input: ${result} }
dead_letter: { type: memory, store: ${name}-dead }
`;
    const plan = parsePipelineYaml(yaml, join(dir, 'pipeline.yaml'), { registry });
    const channel = memoryChannel(name);
    const clock = new ManualClock(0);
    let resumed: Promise<unknown>;
    if (interrupt === undefined) {
      const job = await Job.create(plan, { registry, clock, tickInterval: 5 });
      channel.push('p0', ...records).end();
      resumed = job.run();
    } else {
      const first = await Job.create(plan, { registry, clock, tickInterval: 5 });
      const running = first.run();
      channel.push('p0', ...records.slice(0, interrupt.checkpointAt));
      await waitFor(
        'the records before the checkpoint',
        () => first.metrics().recordsIn === interrupt.checkpointAt,
      );
      await first.checkpoint();
      channel.push('p0', ...records.slice(interrupt.checkpointAt, interrupt.crashAt));
      await waitFor('the records before the crash', () => first.metrics().recordsIn === interrupt.crashAt);
      channel.crash('p0');
      await assert.rejects(running, /simulated crash/);
      const second = await Job.create(plan, { registry, clock, tickInterval: 5 });
      channel.push('p0', ...records.slice(interrupt.crashAt)).end();
      resumed = second.run();
    }
    await resumed;
    return { results: memorySinkStore(`${name}-out`).records, dead: memorySinkStore(`${name}-dead`).records };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
