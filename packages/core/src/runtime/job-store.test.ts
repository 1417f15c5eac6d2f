/**
 * An injected checkpoint store: a job given `checkpointStore` writes its checkpoints there and
 * restores from there, not from the local checkpoint folder, and holds the store (prepare/close)
 * for as long as it runs.
 */

import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { type CheckpointStore, decodeCheckpoint, type LatestCheckpoint } from '../checkpoint/index.ts';
import { SluiceError } from '../errors.ts';
import type { Row } from '../record.ts';
import { ManualClock, memoryChannel, memorySinkStore } from '../testing/index.ts';
import { Harness, planFrom, testRegistry, waitFor } from './engine-test-support.ts';
import { type CheckpointStoreContext, Job } from './job.ts';

const registry = testRegistry();
const h = new Harness();
afterEach(() => h.stopAll());

/** Checkpoints in memory; one holder at a time. */
class MemoryStore implements CheckpointStore {
  readonly files = new Map<number, Uint8Array>();
  held = false;
  contexts: CheckpointStoreContext[] = [];

  async prepare(): Promise<void> {
    if (this.held) throw new SluiceError('CHECKPOINT_LOCKED', 'the memory store is held');
    this.held = true;
  }
  async close(): Promise<void> {
    this.held = false;
  }
  async write(id: number, bytes: Uint8Array): Promise<void> {
    this.files.set(id, bytes);
  }
  async latest(): Promise<LatestCheckpoint | undefined> {
    const id = Math.max(...this.files.keys());
    if (!Number.isFinite(id)) return undefined;
    return { data: decodeCheckpoint(this.files.get(id)!), file: `mem-${id}`, skipped: [] };
  }
  async unreadable(): Promise<{ file: string; reason: string }[]> {
    return [];
  }
  async setAside(file: string): Promise<string> {
    return file;
  }
  async list(): Promise<string[]> {
    return [...this.files.keys()].sort((a, b) => b - a).map((id) => `mem-${id}`);
  }
  async clear(): Promise<void> {
    this.files.clear();
  }
}

const yaml = `
name: injected
settings: { checkpoint: { interval: 0, dir: ./ckpt }, batch_size: 10 }
sources:
  in: { type: memory, channel: injected }
sinks:
  out: { type: memory, store: injected-out }
`;

const rows = (from: number, to: number): Row[] =>
  Array.from({ length: to - from }, (_, k) => ({ n: from + k }));

test('checkpoints go to the injected store, and a restart restores from it', async () => {
  const dir = await h.dir();
  const store = new MemoryStore();
  const checkpointStore = (ctx: CheckpointStoreContext) => {
    store.contexts.push(ctx);
    return store;
  };
  const channel = memoryChannel('injected');
  const plan = planFrom(yaml, dir, registry);
  const clock = new ManualClock(0);
  const first = await Job.create(plan, { registry, clock, checkpointStore });
  assert.deepEqual(store.contexts[0], {
    dir: join(dir, 'ckpt', 'injected'),
    pipeline: 'injected',
    keep: 3,
    log: store.contexts[0].log,
  });
  assert.ok(store.held);
  await assert.rejects(Job.create(plan, { registry, clock, checkpointStore }), { code: 'CHECKPOINT_LOCKED' });
  const running = h.run(first);
  channel.push('p0', ...rows(0, 30));
  await waitFor('30 records read', () => first.metrics().recordsIn === 30);
  await first.checkpoint();
  first.stop();
  assert.equal((await running).status, 'stopped');
  assert.ok(!store.held, 'released at the end');
  assert.deepEqual([...store.files.keys()], [1, 2]);
  assert.ok(!(await readdir(dir)).includes('ckpt'), 'nothing in the local checkpoint folder');

  const second = await Job.create(plan, { registry, clock, checkpointStore });
  assert.equal(second.metrics().recordsIn, 30, 'restored from the injected store');
  const done = h.run(second);
  channel.push('p0', ...rows(30, 40));
  channel.end();
  assert.equal((await done).status, 'completed');
  assert.deepEqual(
    memorySinkStore('injected-out').records.map((r) => r.n),
    rows(0, 40).map((r) => r.n),
  );
});
