/**
 * A view on disk after kill -9: the job's process is killed at several points — between
 * checkpoints, after the view's store committed a checkpoint that never became durable, and after
 * a checkpoint became durable but before the sinks heard of it — and the restarted job's view
 * must be, row for row, the in-memory view of the same input folded up to the restored offset
 * (nothing written after the checkpoint leaks in), its change ring the same changes, and after
 * the rest of the input the same view as an uninterrupted in-memory run.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createCrashJob } from './test-support-view-crash.ts';
import { StoreRows } from './view-store.ts';
import type { ViewChange, ViewTable } from './view-table.ts';
import { viewTable } from './views.ts';

const child = new URL('./test-support-view-crash.ts', import.meta.url).pathname;

/** Runs the child in `dir` with `mode`; for `run:<id>`, kills it once checkpoint `<id>` is durable. */
function crash(dir: string, mode: string): Promise<string> {
  const [where, at] = mode.split(':');
  const proc = spawn(process.execPath, [child, dir, where === 'run' ? 'run:0' : mode], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (chunk: string) => {
    out += chunk;
    if (where === 'run' && out.includes(`checkpoint ${at}\n`)) proc.kill('SIGKILL');
  });
  return new Promise((resolve, reject) => {
    proc.on('error', reject);
    proc.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(out);
      else reject(new Error(`the child ended with ${code ?? signal} instead of being killed:\n${out}`));
    });
  });
}

/** The rows of a table in key order, as `key → [json, offset]`. */
function rowsOf(table: ViewTable): Map<string, [string, number]> {
  const rows = table.scan({ limit: Number.POSITIVE_INFINITY }).rows;
  return new Map(rows.map((r) => [r.key, [r.json, r.offset]]));
}

/** The view after the first `upTo` changes, by a plain fold. */
function fold(changes: readonly ViewChange[], upTo: number): Map<string, [string, number]> {
  const rows = new Map<string, [string, number]>();
  for (const c of changes.slice(0, upTo))
    if (c.json === undefined) rows.delete(c.key);
    else rows.set(c.key, [c.json, c.offset]);
  return new Map([...rows].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

test('a disk view restored after kill -9 equals the in-memory view of the same input at the checkpoint', {
  timeout: 180_000,
}, async () => {
  const refDir = await mkdtemp(join(tmpdir(), 'sluice-view-crash-ref-'));
  const dirs: string[] = [refDir];
  try {
    const reference = await createCrashJob('view-crash-ref', refDir, 'memory', undefined, 1_000_000);
    assert.equal((await reference.run()).status, 'completed');
    const ref = viewTable('view-crash-ref', 'by_customer')!;
    const changes = ref.changesFrom(1)!;
    assert.equal(changes.length, ref.offset, 'the reference kept every change');
    assert.ok(ref.size > 1000 && ref.offset > ref.size);

    // [mode, the checkpoint the store must be back at (undefined: any)]
    const cases: [string, number | undefined][] = [
      ['before-write:3', 2],
      ['after-write:3', 3],
      ['before-write:1', 0],
      ['run:2', undefined],
      ['run:5', undefined],
    ];
    for (const [mode, tag] of cases) {
      const dir = await mkdtemp(join(tmpdir(), 'sluice-view-crash-'));
      dirs.push(dir);
      await crash(dir, mode);
      const job = await createCrashJob('view-crash', dir, 'disk');
      const table = viewTable('view-crash', 'by_customer')!;
      assert.ok(table.rows instanceof StoreRows);
      if (tag !== undefined)
        assert.equal(table.rows.tag, tag, `${mode}: the store is back at checkpoint ${tag}`);
      const at = table.offset;
      assert.ok(at < ref.offset, `${mode}: restored part way (offset ${at} of ${ref.offset})`);
      if (tag === 0) assert.equal(at, 0, `${mode}: no checkpoint, an empty view`);
      assert.deepEqual(rowsOf(table), fold(changes, at), `${mode}: the rows at offset ${at}`);
      assert.equal(table.size, fold(changes, at).size);
      const ring = table.changesFrom(table.oldestKept)!;
      assert.deepEqual(ring, changes.slice(table.oldestKept - 1, at), `${mode}: the change ring`);
      assert.equal((await job.run()).status, 'completed');
      assert.equal(table.offset, ref.offset, `${mode}: the same offsets after the rest of the input`);
      assert.deepEqual(rowsOf(table), rowsOf(ref), `${mode}: the same view after the rest of the input`);
      table.dispose();
    }
  } finally {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  }
});
