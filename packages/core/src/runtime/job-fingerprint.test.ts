/**
 * A checkpoint belongs to one pipeline: its sources (and what decides which data they read)
 * and its stateful steps. A job whose pipeline differs there refuses the checkpoint, naming what
 * changed; changes that touch no position or state (a stateless step, a sink, a new source)
 * restore as before.
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { DirectoryCheckpointStore, decodeCheckpoint, encodeCheckpoint } from '../checkpoint/index.ts';
import type { Logger } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import { ManualClock, memoryChannel } from '../testing/index.ts';
import { Harness, planFrom, testRegistry, waitFor } from './engine-test-support.ts';
import { Job } from './job.ts';

const registry = testRegistry();
const h = new Harness();
afterEach(() => h.stopAll());

const lines = (n: number) =>
  Array.from({ length: n }, (_, i) => `{"i":${i},"k":"k${i % 3}","ts":${i}}\n`).join('');

/** A pipeline over a file followed like `tail -F`, so that it never completes by itself. */
const filePipeline = (
  options: { input?: string; expr?: string; out?: string; size?: string; extraSource?: boolean } = {},
) => `
name: same-name
settings: { checkpoint: { interval: 0, dir: ./ckpt } }
sources:
  in: { type: file, path: ${options.input ?? './a.jsonl'}, mode: follow, poll_interval: 10ms, event_time: { field: ts } }
${options.extraSource ? '  more: { type: memory, channel: fp-more }\n' : ''}steps:
  - { id: tagged, type: map, input: in, fields: { i: i, k: k, ts: ts, tag: ${options.expr ?? "'a'"} } }
  - { id: counts, type: aggregate, key: [k], window: { type: tumbling, size: ${options.size ?? '10ms'} }, fields: { n: count(*) } }
sinks:
  out: { type: file, path: ${options.out ?? './out/a.jsonl'} }
`;

async function stoppedAfter(dir: string, yaml: string, records: number): Promise<void> {
  const job = await Job.create(planFrom(yaml, dir, registry), { registry, clock: new ManualClock(0) });
  const running = h.run(job);
  await waitFor(`${records} records read`, () => job.metrics().recordsIn === records);
  job.stop();
  assert.equal((await running).status, 'stopped');
}

function incompatible(...patterns: RegExp[]) {
  return (err: unknown) => {
    assert.ok(err instanceof SluiceError, String(err));
    assert.equal(err.code, 'CHECKPOINT_INCOMPATIBLE', err.message);
    for (const p of patterns) assert.match(err.message, p);
    assert.match(err.message, /--from-scratch/);
    assert.match(err.message, /checkpoint folder|settings\.checkpoint\.dir/);
    return true;
  };
}

describe('checkpoint fingerprints', () => {
  test('another pipeline of the same name, reading another file, refuses the checkpoint', async () => {
    const dir = await h.dir();
    await writeFile(join(dir, 'a.jsonl'), lines(100));
    await writeFile(join(dir, 'b.jsonl'), lines(10));
    await stoppedAfter(dir, filePipeline(), 100);
    const other = planFrom(filePipeline({ input: './b.jsonl', out: './out/b.jsonl' }), dir, registry);
    await assert.rejects(Job.create(other, { registry }), incompatible(/source 'in' \(file\)/, /'path'/));
    const fresh = await Job.create(other, { registry, fromScratch: true });
    assert.equal(fresh.metrics().recordsIn, 0);
  });

  test('a changed window of a stateful step, or a source the checkpoint has and the pipeline lacks, refuses', async () => {
    const dir = await h.dir();
    await writeFile(join(dir, 'a.jsonl'), lines(30));
    memoryChannel('fp-more');
    await stoppedAfter(dir, filePipeline({ extraSource: true }), 30);
    await assert.rejects(
      Job.create(planFrom(filePipeline({ extraSource: true, size: '1m' }), dir, registry), { registry }),
      incompatible(/step 'counts' \(aggregate\)/, /'window'/),
    );
    await assert.rejects(
      Job.create(planFrom(filePipeline(), dir, registry), { registry }),
      incompatible(/source 'more' \(memory\).*no longer/),
    );
  });

  test('a changed stateless step, a changed sink path and a new source restore the checkpoint', async () => {
    const dir = await h.dir();
    await writeFile(join(dir, 'a.jsonl'), lines(40));
    await stoppedAfter(dir, filePipeline(), 40);
    memoryChannel('fp-more');
    const changed = planFrom(
      filePipeline({ expr: "'b'", out: './out/elsewhere.jsonl', extraSource: true }),
      dir,
      registry,
    );
    const job = await Job.create(changed, { registry });
    assert.equal(job.metrics().recordsIn, 40, 'resumed from the checkpoint');
  });

  test('a checkpoint written before fingerprints restores with a warning when its ids still fit', async () => {
    const dir = await h.dir();
    await writeFile(join(dir, 'a.jsonl'), lines(20));
    await stoppedAfter(dir, filePipeline(), 20);
    const store = new DirectoryCheckpointStore(join(dir, 'ckpt', 'same-name'));
    const latest = await store.latest();
    const { fingerprint: _dropped, ...legacy } = latest!.data;
    await store.write(latest!.data.id + 1, encodeCheckpoint({ ...legacy, id: latest!.data.id + 1 }));
    assert.equal(decodeCheckpoint(encodeCheckpoint(legacy)).fingerprint, undefined);
    const warnings: string[] = [];
    const log: Logger = { debug() {}, info() {}, warn: (m) => warnings.push(m), error() {} };
    const job = await Job.create(planFrom(filePipeline(), dir, registry), { registry, log });
    assert.equal(job.metrics().recordsIn, 20);
    assert.ok(
      warnings.some((w) => /no fingerprint/.test(w)),
      warnings.join('\n'),
    );
  });
});
