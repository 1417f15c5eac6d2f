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

/**
 * Runs `steps` over two memory sources, `features` and `labels` (event time `ts`), in batches of
 * `batch`; `order` says how the two are fed: all features first, all labels first, or
 * alternating chunks of `batch`. With `checkpointAfter`, a checkpoint is taken once that many
 * records of each source were read, then the job crashes (on the features' partition) once both
 * are read up to `crashAfter` and a restored job reads the rest. Results read `result`; late
 * records go to their own sink.
 */
export async function runTwoInputs(
  steps: string,
  features: readonly Row[],
  labels: readonly Row[],
  batch: number,
  order: 'features-first' | 'labels-first' | 'interleaved',
  interrupt?: Interruption,
  result = 'result',
): Promise<RunResult & { late: Row[] }> {
  const name = `ml2-${process.pid}-${++runs}`;
  const dir = await mkdtemp(join(tmpdir(), 'sluice-ml-'));
  try {
    const yaml = `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt }, batch_size: ${batch} }
sources:
  features: { type: memory, channel: ${name}-f, event_time: { field: ts, max_out_of_orderness: 0ms } }
  labels: { type: memory, channel: ${name}-l, event_time: { field: ts, max_out_of_orderness: 0ms } }
steps:
${steps}
sinks:
  out: { type: memory, store: ${name}-out, input: ${result} }
late_output: { type: memory, store: ${name}-late }
dead_letter: { type: memory, store: ${name}-dead }
`;
    const plan = parsePipelineYaml(yaml, join(dir, 'pipeline.yaml'), { registry });
    const f = memoryChannel(`${name}-f`);
    const l = memoryChannel(`${name}-l`);
    const clock = new ManualClock(0);
    const feed = (from: number, to: number, end: boolean) => {
      const fs = features.slice(from, to);
      const ls = labels.slice(from, to);
      if (order === 'features-first') {
        f.push('p0', ...fs);
        l.push('p0', ...ls);
      } else if (order === 'labels-first') {
        l.push('p0', ...ls);
        f.push('p0', ...fs);
      } else
        for (let i = 0; i < Math.max(fs.length, ls.length); i += batch) {
          f.push('p0', ...fs.slice(i, i + batch));
          l.push('p0', ...ls.slice(i, i + batch));
        }
      if (end) {
        f.end();
        l.end();
      }
    };
    const total = (a: number) => Math.min(a, features.length) + Math.min(a, labels.length);
    let resumed: Promise<unknown>;
    if (interrupt === undefined) {
      const job = await Job.create(plan, { registry, clock, tickInterval: 5 });
      feed(0, Math.max(features.length, labels.length), true);
      resumed = job.run();
    } else {
      const first = await Job.create(plan, { registry, clock, tickInterval: 5 });
      const running = first.run();
      feed(0, interrupt.checkpointAt, false);
      await waitFor(
        'the records before the checkpoint',
        () => first.metrics().recordsIn === total(interrupt.checkpointAt),
      );
      await first.checkpoint();
      feed(interrupt.checkpointAt, interrupt.crashAt, false);
      await waitFor(
        'the records before the crash',
        () => first.metrics().recordsIn === total(interrupt.crashAt),
      );
      f.crash('p0');
      await assert.rejects(running, /simulated crash/);
      const second = await Job.create(plan, { registry, clock, tickInterval: 5 });
      feed(interrupt.crashAt, Math.max(features.length, labels.length), true);
      resumed = second.run();
    }
    await resumed;
    return {
      results: memorySinkStore(`${name}-out`).records,
      dead: memorySinkStore(`${name}-dead`).records,
      late: memorySinkStore(`${name}-late`).records,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
