/**
 * Restoring unreadable checkpoints: when none can be read the job does not start (and keeps
 * them); `--from-scratch` then moves them aside and starts over; when only the newest are
 * unreadable the job falls back to an older one, moves the unreadable ones aside, and the
 * rolled file sink moves aside what the lost checkpoints published, so every record is
 * written once.
 */

import assert from 'node:assert/strict';
import { readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { checkpointFileName } from '../checkpoint/index.ts';
import type { Logger } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import type { Row } from '../record.ts';
import { ManualClock, memoryChannel } from '../testing/index.ts';
import { Harness, planFrom, testRegistry, waitFor } from './engine-test-support.ts';
import { Job } from './job.ts';

const registry = testRegistry();
const h = new Harness();
afterEach(() => h.stopAll());

/** A logger that keeps what it is given. */
function captureLog(): Logger & { lines: { level: string; message: string; fields?: object }[] } {
  const lines: { level: string; message: string; fields?: object }[] = [];
  const at = (level: string) => (message: string, fields?: object) => {
    lines.push({ level, message, fields });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const yaml = (name: string) => `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt, keep: 5 }, batch_size: 10 }
sources:
  in: { type: memory, channel: ${name} }
sinks:
  records: { type: file, path: ./out/records.jsonl, roll: { max_bytes: 150 } }
`;

const rows = (from: number, to: number): Row[] =>
  Array.from({ length: to - from }, (_, k) => ({ n: from + k }));

async function publishedIds(dir: string): Promise<number[]> {
  const ids: number[] = [];
  for (const name of (await readdir(join(dir, 'out'))).filter((n) => !n.startsWith('.')).sort()) {
    const text = await readFile(join(dir, 'out', name), 'utf8');
    for (const line of text.split('\n')) if (line !== '') ids.push((JSON.parse(line) as { n: number }).n);
  }
  return ids;
}

/** Runs the pipeline over 4 × 50 records with a checkpoint after each 50, then crashes. */
async function runWithCheckpoints(name: string) {
  const dir = await h.dir();
  const channel = memoryChannel(name);
  const plan = planFrom(yaml(name), dir, registry);
  const clock = new ManualClock(0);
  const job = await Job.create(plan, { registry, clock });
  const running = h.run(job);
  for (let i = 0; i < 4; i++) {
    channel.push('p0', ...rows(i * 50, i * 50 + 50));
    await waitFor(`${i * 50 + 50} records read`, () => job.metrics().recordsIn === i * 50 + 50);
    await job.checkpoint();
  }
  channel.push('p0', ...rows(200, 220));
  await waitFor('220 records read', () => job.metrics().recordsIn === 220);
  channel.crash('p0');
  await assert.rejects(running, /simulated crash/);
  const ckpt = join(dir, 'ckpt', name);
  return { dir, channel, plan, clock, ckpt };
}

describe('unreadable checkpoints', () => {
  test('none readable: the job does not start, says which files, and keeps them', async () => {
    const { plan, clock, ckpt } = await runWithCheckpoints('all-corrupt');
    const files = (await readdir(ckpt)).filter((f) => f.endsWith('.ckpt'));
    assert.equal(files.length, 4);
    for (const f of files) await truncate(join(ckpt, f), 20);
    await assert.rejects(Job.create(plan, { registry, clock }), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'CHECKPOINT_CORRUPT');
      for (const f of files) assert.ok(err.message.includes(f), `names ${f}`);
      assert.match(err.message, /--from-scratch/);
      return true;
    });
    assert.deepEqual((await readdir(ckpt)).sort(), files.sort(), 'the evidence is kept');

    const log = captureLog();
    const fresh = await Job.create(plan, { registry, clock, log, fromScratch: true });
    assert.deepEqual(
      (await readdir(join(ckpt, 'corrupt'))).sort(),
      files.sort(),
      'from scratch, the unreadable files are moved aside',
    );
    assert.equal(log.lines.filter((l) => l.message.includes('moved aside')).length, 4);
    await fresh.checkpoint();
    await fresh.discard();
    assert.deepEqual(await readdir(ckpt), ['chk-00000000000000000001.ckpt', 'corrupt']);
  });

  test('the newest unreadable: falls back, moves them aside, and the output has each record once', async () => {
    const { dir, channel, plan, clock, ckpt } = await runWithCheckpoints('newest-corrupt');
    const before = await publishedIds(dir);
    assert.ok(before.length > 150, 'the checkpoints published parts');
    // Checkpoints 3 and 4 are lost: 4 damaged by a flipped byte, 3 cut short.
    const four = join(ckpt, checkpointFileName(4));
    const bytes = await readFile(four);
    bytes[bytes.length - 3] ^= 0xff;
    await writeFile(four, bytes);
    await truncate(join(ckpt, checkpointFileName(3)), 70);

    const log = captureLog();
    const job = await Job.create(plan, { registry, clock, log });
    assert.equal(job.metrics().recordsIn, 100, 'restored checkpoint 2');
    assert.deepEqual((await readdir(join(ckpt, 'corrupt'))).sort(), [
      checkpointFileName(3),
      checkpointFileName(4),
    ]);
    const warnings = log.lines.filter((l) => l.level === 'warn').map((l) => l.message);
    assert.ok(warnings.some((m) => /unreadable checkpoint/.test(m)));
    assert.ok(warnings.some((m) => /moved aside a part published after the restored checkpoint/.test(m)));
    assert.ok((await readdir(join(dir, 'out', '.quarantine'))).length > 0);

    const done = h.run(job);
    channel.end();
    assert.equal((await done).status, 'completed');
    assert.deepEqual(
      await publishedIds(dir),
      rows(0, 220).map((r) => r.n),
      'every record exactly once',
    );
  });
});
