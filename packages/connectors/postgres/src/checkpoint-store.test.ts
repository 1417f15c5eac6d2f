/**
 * The PostgreSQL checkpoint store against the real server: checkpoints round-trip and are pruned,
 * a slot has one owner at a time, a graceful release hands it over at once, a dead owner's lease
 * runs out, and a zombie's write is fenced.
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type CheckpointData, encodeCheckpoint, SluiceError } from '@sluice/core';
import pg from 'pg';
import { PostgresCheckpointStore, type PostgresCheckpointStoreOptions } from './checkpoint-store.ts';
import { PG_URL, postgresMissing } from './test-support.ts';

const missing = await postgresMissing();
const TABLE = `sluice_ckpt_test_${process.pid}`;
const pipeline = `p${Date.now().toString(36)}`;

after(async () => {
  if (missing) return;
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  await c.query(`DROP TABLE IF EXISTS ${TABLE}, ${TABLE}_owners`);
  await c.end();
});

function store(slot: string, owner: string, extra: Partial<PostgresCheckpointStoreOptions> = {}) {
  return new PostgresCheckpointStore({ url: PG_URL, pipeline, slot, owner, keep: 2, table: TABLE, ...extra });
}

function checkpoint(id: number): Uint8Array {
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
}

const locked = (err: unknown) => err instanceof SluiceError && err.code === 'CHECKPOINT_LOCKED';

test('checkpoints round-trip, the newest `keep` are kept, and a lower id starts a new history', {
  skip: missing,
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
  skip: missing,
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
  // Another store object of a's, as a zombie would hold it: still on a's epoch.
  await a.write(2, checkpoint(2));
  await a.close();
  await bPrepared;
  assert.equal((await b.latest())?.data.id, 2, 'b restores what a made durable');
  await b.write(3, checkpoint(3));
  await b.close();
});

test('a killed owner is replaced when its lease runs out', { skip: missing }, async () => {
  // The first owner lives in a child process, killed with SIGKILL after its first checkpoint.
  const script = `
    import { PostgresCheckpointStore } from ${JSON.stringify(new URL('./checkpoint-store.ts', import.meta.url).href)};
    import { encodeCheckpoint } from '@sluice/core';
    const s = new PostgresCheckpointStore(${JSON.stringify({ url: PG_URL, pipeline, slot: 'tasks/2', owner: 'wdead', keep: 2, table: TABLE, leaseMs: 800 })});
    await s.prepare();
    await s.write(1, encodeCheckpoint(${JSON.stringify({ id: 1, pipeline, createdAt: 1, watermark: 0, sources: {}, operators: {}, sinks: {} })}));
    process.stdout.write('ready\\n');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: dirname(fileURLToPath(import.meta.url)),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`the owner process exited (${code}) before its checkpoint`)));
  });
  child.kill('SIGKILL');
  const next = store('tasks/2', 'wnext');
  await next.prepare();
  assert.equal((await next.latest())?.data.id, 1, "the next owner restores the killed one's checkpoint");
  await next.close();
});

test('the same owner takes its slot back at once (a restarted worker)', { skip: missing }, async () => {
  const first = store('tasks/3', 'wsame', { leaseMs: 60_000 });
  await first.prepare();
  const again = store('tasks/3', 'wsame', { leaseMs: 60_000 });
  await again.prepare();
  assert.equal(again.epoch, (first.epoch ?? 0) + 1);
  await assert.rejects(first.write(1, checkpoint(1)), locked);
  await again.close();
  await first.close();
});

test('a waiting prepare gives up when its signal is aborted', { skip: missing }, async () => {
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
