/**
 * One job per checkpoint folder: a second job of the same pipeline (in this process or another)
 * does not start while the first holds the folder, and does once it has ended, failed or been
 * discarded.
 */

import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { SluiceError } from '../errors.ts';
import { Harness, planFrom, testRegistry } from './engine-test-support.ts';
import { Job } from './job.ts';

const registry = testRegistry();
const h = new Harness();
afterEach(() => h.stopAll());

const yaml = (path: string) => `
name: locked
settings: { checkpoint: { interval: 0, dir: ./ckpt } }
sources:
  in: { type: file, path: ${path} }
sinks:
  out: { type: file, path: ./out/${path.replace(/\W/g, '')}.jsonl }
`;

const locked = (err: unknown) => {
  assert.ok(err instanceof SluiceError, String(err));
  assert.equal(err.code, 'CHECKPOINT_LOCKED', err.message);
  assert.match(err.message, new RegExp(`pid ${process.pid}`));
  assert.match(err.message, /ckpt\/locked\/LOCK/);
  return true;
};

test('a second job on the same checkpoint folder is refused until the first ends', async () => {
  const dir = await h.dir();
  await writeFile(join(dir, 'a.jsonl'), '{"i":1}\n{"i":2}\n');
  const first = await Job.create(planFrom(yaml('./a.jsonl'), dir, registry), { registry });
  const plan = planFrom(yaml('./a.jsonl'), dir, registry);
  await assert.rejects(Job.create(plan, { registry }), locked);
  assert.equal((await h.run(first)).status, 'completed');
  assert.ok(!(await readdir(join(dir, 'ckpt', 'locked'))).includes('LOCK'), 'released at the end');

  const second = await Job.create(plan, { registry });
  await assert.rejects(Job.create(plan, { registry }), locked);
  await second.discard();
  await assert.rejects(second.run(), /has not run|runs once/);
  const third = await Job.create(plan, { registry });
  assert.equal((await h.run(third)).status, 'completed');
});

test('a job that fails releases the folder', async () => {
  const dir = await h.dir();
  await writeFile(join(dir, 'bad.jsonl'), '{"i":1}\n');
  const failing = `
name: locked
settings: { checkpoint: { interval: 0, dir: ./ckpt } }
sources:
  in: { type: file, path: ./bad.jsonl }
sinks:
  out: { type: file, path: ./bad.jsonl/cannot-be-a-folder/out.jsonl }
`;
  await assert.rejects(Job.create(planFrom(failing, dir, registry), { registry }));
  const next = await Job.create(planFrom(yaml('./bad.jsonl'), dir, registry), { registry });
  assert.equal((await h.run(next)).status, 'completed');
});
