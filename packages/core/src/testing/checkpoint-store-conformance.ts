/**
 * The conformance suite every shared checkpoint store (the ones scaled-out workers use) runs
 * against its real server: checkpoints round-trip and are pruned, a lower id starts a new
 * history, a slot has one owner at a time, a graceful release hands it over at once, a killed
 * owner's lease runs out, a restarted worker takes its own slot back at once and fences the
 * store object it held before, and a waiting `prepare` gives up when aborted.
 *
 * A store package calls `checkpointStoreConformance(adapter)` at the top level of a test file.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import { type CheckpointData, encodeCheckpoint } from '../checkpoint/checkpoint-format.ts';
import type { CheckpointStore } from '../checkpoint/checkpoint-store.ts';
import { SluiceError } from '../errors.ts';

/** A store that takes slots, as the workers' stores do. */
export interface SlotStore extends CheckpointStore {
  /** The epoch it holds its slot with (undefined before `prepare`). */
  readonly epoch: number | undefined;
}

export interface CheckpointStoreConformance {
  /** Names the suite (`postgres`, `s3`). */
  readonly label: string;
  /** Why the suite cannot run here (its service is missing): every test is skipped with it. */
  readonly skip?: string | false;
  /** The pipeline name every store of the run uses (fresh for the run). */
  readonly pipeline: string;
  /** A store of `slot` in `pipeline`, taken by `owner`, keeping 2 checkpoints. */
  store(slot: string, owner: string, extra?: { leaseMs?: number; signal?: AbortSignal }): SlotStore;
  /**
   * For the killed-owner test, run in a child process: ES module source that defines
   * `makeStore(slot, owner, leaseMs)` returning the same kind of store, and the folder its
   * imports resolve from.
   */
  readonly child: { readonly code: string; readonly cwd: string };
}

const locked = (err: unknown) => err instanceof SluiceError && err.code === 'CHECKPOINT_LOCKED';

/** Defines the suite's tests (see the file comment). */
export function checkpointStoreConformance(adapter: CheckpointStoreConformance): void {
  const { skip, pipeline } = adapter;
  const store = adapter.store.bind(adapter);
  const checkpoint = (id: number): Uint8Array => {
    const data: CheckpointData = {
      id,
      pipeline,
      createdAt: 1_700_000_000_000 + id,
      watermark: id * 1000,
      sources: { in: { consumer: { 't/0': id * 10 } } },
      operators: {},
      sinks: {},
    };
    return encodeCheckpoint(data);
  };

  describe(`checkpoint store conformance: ${adapter.label}`, () => {
    test('checkpoints round-trip, the newest `keep` are kept, and a lower id starts a new history', {
      skip,
    }, async () => {
      const s = store('tasks/0', 'w1');
      await s.prepare();
      assert.equal(await s.latest(), undefined);
      for (const id of [1, 2, 3]) await s.write(id, checkpoint(id));
      const latest = await s.latest();
      assert.equal(latest?.data.id, 3);
      assert.deepEqual(latest?.data.sources, { in: { consumer: { 't/0': 30 } } });
      assert.equal((await s.list()).length, 2);
      await s.write(2, checkpoint(2));
      assert.equal((await s.latest())?.data.id, 2, 'writing a lower id removes the higher ones');
      await s.close();
    });

    test('a slot has one owner: the next waits for the release and restores what was made durable', {
      skip,
    }, async () => {
      const a = store('tasks/1', 'wa');
      await a.prepare();
      await a.write(1, checkpoint(1));
      const b = store('tasks/1', 'wb');
      let bTook = false;
      const bPrepared = b.prepare().then(() => {
        bTook = true;
      });
      await new Promise((r) => setTimeout(r, 600));
      assert.equal(bTook, false, 'b waits while a holds the slot');
      await a.write(2, checkpoint(2));
      await a.close();
      await bPrepared;
      assert.equal((await b.latest())?.data.id, 2, 'b restores what a made durable');
      await b.write(3, checkpoint(3));
      assert.equal((await b.latest())?.data.id, 3);
      await b.close();
    });

    test('a killed owner is replaced when its lease runs out', { skip }, async () => {
      // The first owner lives in a child process, killed with SIGKILL after its first checkpoint.
      const first: CheckpointData = {
        id: 1,
        pipeline,
        createdAt: 1,
        watermark: 0,
        sources: {},
        operators: {},
        sinks: {},
      };
      const script = `${adapter.child.code}
        import { encodeCheckpoint } from '@sluice/core';
        const s = makeStore('tasks/2', 'wdead', 800);
        await s.prepare();
        await s.write(1, encodeCheckpoint(${JSON.stringify(first)}));
        process.stdout.write('ready\\n');
        setInterval(() => {}, 1000);
      `;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        cwd: adapter.child.cwd,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          if (d.toString().includes('ready')) resolve();
        });
        child.on('exit', (code) =>
          reject(new Error(`the owner process exited (${code}) before its checkpoint`)),
        );
      });
      child.kill('SIGKILL');
      const next = store('tasks/2', 'wnext');
      await next.prepare();
      assert.equal((await next.latest())?.data.id, 1, "the next owner restores the killed one's checkpoint");
      await next.close();
    });

    test('the same owner takes its slot back at once (a restarted worker) and fences its old store', {
      skip,
    }, async () => {
      const first = store('tasks/3', 'wsame', { leaseMs: 60_000 });
      await first.prepare();
      await first.write(1, checkpoint(1));
      const again = store('tasks/3', 'wsame', { leaseMs: 60_000 });
      await again.prepare();
      assert.equal(again.epoch, (first.epoch ?? 0) + 1);
      await assert.rejects(first.write(2, checkpoint(2)), locked, "the old store's write is fenced");
      assert.equal((await again.latest())?.data.id, 1, 'the fenced write is never read');
      await again.write(3, checkpoint(3));
      await assert.rejects(first.write(4, checkpoint(4)), locked);
      assert.equal((await again.latest())?.data.id, 3);
      await again.close();
      await first.close();
    });

    test('a waiting prepare gives up when its signal is aborted', { skip }, async () => {
      const holder = store('tasks/4', 'wh');
      await holder.prepare();
      const abort = new AbortController();
      const waiter = store('tasks/4', 'ww', { signal: abort.signal });
      const prepared = waiter.prepare();
      setTimeout(() => abort.abort(), 300);
      await assert.rejects(prepared, locked);
      await waiter.close();
      await holder.close();
    });

    test('an unreadable checkpoint is skipped, then set aside', { skip }, async () => {
      const s = store('tasks/5', 'wc');
      await s.prepare();
      await s.write(1, checkpoint(1));
      await s.write(2, new TextEncoder().encode('not a checkpoint'));
      const latest = await s.latest();
      assert.equal(latest?.data.id, 1, 'the newest readable one');
      assert.equal(latest?.skipped.length, 1);
      const bad = await s.unreadable();
      assert.equal(bad.length, 1);
      await s.setAside(bad[0].file);
      assert.deepEqual(await s.unreadable(), []);
      assert.equal((await s.list()).length, 1, 'set aside, it is no longer listed');
      await s.clear();
      assert.equal(await s.latest(), undefined);
      await s.close();
    });
  });
}
