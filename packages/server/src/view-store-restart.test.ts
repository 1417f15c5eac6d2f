/**
 * A disk view in a job that fails and is restarted in the same process: the failed job's store
 * still holds an open write transaction, which the restarted job's store must roll back (not wait
 * on SQLite's lock), and the rebuilt view equals an uninterrupted memory view of the same input.
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SluiceError } from '@sluice/core';
import { waitFor } from './test-support.ts';
import { createCrashJob } from './test-support-view-crash.ts';
import { viewTable } from './views.ts';

test('a disk view rebuilt in the same process after a failure equals an uninterrupted memory view', {
  timeout: 120_000,
}, async () => {
  const dirA = await mkdtemp(join(tmpdir(), 'sluice-view-store-a-'));
  const dirB = await mkdtemp(join(tmpdir(), 'sluice-view-store-b-'));
  try {
    const a = await createCrashJob('view-store-straight', dirA, 'memory');
    assert.equal((await a.run()).status, 'completed');
    const expected = viewTable('view-store-straight', 'by_customer')!;

    const b = await createCrashJob('view-store-failed', dirB, 'disk');
    const running = b.run();
    await waitFor(() => ((b.metrics().lastCheckpointId ?? 0) >= 3 ? true : undefined), 60_000);
    b.fail(new SluiceError('INTERNAL', 'failure between checkpoints'));
    await assert.rejects(running, /failure between checkpoints/);
    const atFailure = viewTable('view-store-failed', 'by_customer')!.offset;
    assert.ok(
      atFailure > 0 && atFailure < expected.offset,
      `failed part way (${atFailure} of ${expected.offset})`,
    );

    const again = await createCrashJob('view-store-failed', dirB, 'disk');
    const table = viewTable('view-store-failed', 'by_customer')!;
    assert.ok(table.offset <= atFailure, 'restored to the checkpoint');
    assert.equal((await again.run()).status, 'completed');
    assert.equal(table.offset, expected.offset);
    assert.equal(table.size, expected.size);
    const all = { limit: Number.POSITIVE_INFINITY };
    assert.deepEqual(table.scan(all).rows, expected.scan(all).rows);
    table.dispose();
  } finally {
    await rm(dirA, { recursive: true, force: true });
    await rm(dirB, { recursive: true, force: true });
  }
});

test('a memory view’s checkpoint restores into store: disk with its rows; a disk view’s into memory is refused', {
  timeout: 120_000,
}, async () => {
  const dirA = await mkdtemp(join(tmpdir(), 'sluice-view-switch-a-'));
  const dirB = await mkdtemp(join(tmpdir(), 'sluice-view-switch-b-'));
  try {
    const a = await createCrashJob('view-switch-straight', dirA, 'memory');
    assert.equal((await a.run()).status, 'completed');
    const expected = viewTable('view-switch-straight', 'by_customer')!;

    const failRunning = async (job: Awaited<ReturnType<typeof createCrashJob>>) => {
      const running = job.run();
      const from = job.metrics().lastCheckpointId ?? 0;
      await waitFor(() => ((job.metrics().lastCheckpointId ?? 0) >= from + 2 ? true : undefined), 60_000);
      job.fail(new SluiceError('INTERNAL', 'failure between checkpoints'));
      await assert.rejects(running, /failure between checkpoints/);
    };
    await failRunning(await createCrashJob('view-switch', dirB, 'memory'));
    const onDisk = await createCrashJob('view-switch', dirB, 'disk');
    const table = viewTable('view-switch', 'by_customer')!;
    const restoredAt = table.offset;
    assert.ok(restoredAt > 0 && table.size > 0, 'the memory checkpoint’s rows came into the store');
    await failRunning(onDisk);
    assert.ok(table.offset > restoredAt);

    await assert.rejects(createCrashJob('view-switch', dirB, 'memory'), {
      code: 'CHECKPOINT_INCOMPATIBLE',
      message: /store: disk/,
    });
    const again = await createCrashJob('view-switch', dirB, 'disk');
    const last = viewTable('view-switch', 'by_customer')!;
    assert.equal((await again.run()).status, 'completed');
    const all = { limit: Number.POSITIVE_INFINITY };
    assert.equal(last.offset, expected.offset);
    assert.deepEqual(last.scan(all).rows, expected.scan(all).rows);
    last.dispose();
  } finally {
    await rm(dirA, { recursive: true, force: true });
    await rm(dirB, { recursive: true, force: true });
  }
});
