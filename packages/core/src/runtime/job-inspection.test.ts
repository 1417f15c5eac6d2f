/**
 * What a job tells operations tools while and after it runs: its status, its checkpoint history
 * with durations, its recent dead letters and each step's watermark.
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { builtins } from '../builtins.ts';
import { SluiceError } from '../errors.ts';
import { Registry } from '../registry.ts';
import { parsePipelineYaml } from '../yaml/index.ts';
import { Job } from './job.ts';

const pipeline = (dir: string) => `
name: inspection
settings: { checkpoint: { interval: 0s, dir: ${JSON.stringify(dir)} } }
sources:
  numbers:
    type: generate
    template: orders
    count: 200
    seed: 3
    malformed: 0.3
    event_time: { field: ts, max_out_of_orderness: 1s }
steps:
  - id: priced
    type: map
    fields:
      doubled: amount * 2
      per_item: amount / items
sinks:
  out: { type: discard }
`;

test('a job reports its status, checkpoint history, recent dead letters and step watermarks', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-inspect-'));
  try {
    const registry = new Registry([builtins]);
    const plan = parsePipelineYaml(pipeline(dir), join(dir, 'p.yaml'), { registry });
    const job = await Job.create(plan, { registry, fromScratch: true });
    assert.equal(job.status, 'created');
    const running = job.run();
    assert.equal(job.status, 'running');
    await job.checkpoint();
    const result = await running;
    assert.equal(job.status, 'completed');
    const history = job.checkpointHistory();
    assert.ok(history.length >= 2, 'the requested checkpoint and the final one');
    const last = history.at(-1)!;
    assert.equal(last.completed, true);
    assert.equal(last.id, result.metrics.lastCheckpointId);
    for (const c of history) {
      assert.equal(c.durationMs, c.completedAt - c.startedAt);
      assert.ok(c.bytes > 0);
    }
    const dead = job.recentDeadLetters();
    assert.equal(dead.length, result.metrics.deadLetters);
    assert.ok(dead.length > 0);
    assert.ok(dead.every((d) => d.step === 'priced' && d.message.length > 0));
    assert.equal(job.stepWatermarks().priced, Number.POSITIVE_INFINITY);
    assert.equal(job.sourceWatermarks().numbers, Number.POSITIVE_INFINITY, 'an ended source');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a job that fails reports status failed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-inspect-'));
  try {
    const registry = new Registry([builtins]);
    const plan = parsePipelineYaml(pipeline(dir), join(dir, 'p.yaml'), { registry });
    const job = await Job.create(plan, { registry, fromScratch: true });
    const running = job.run();
    job.fail(new SluiceError('DEAD_LETTER_LIMIT', 'too many dead letters'));
    await assert.rejects(running, /too many dead letters/);
    assert.equal(job.status, 'failed');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
