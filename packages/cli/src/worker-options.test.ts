/**
 * `sluice run --worker-id`: the options it refuses before touching any service.
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, tempDir } from './cli-test-support.ts';

const PIPELINE = `
name: workers-options
sources:
  in: { type: generate, template: orders, count: 10 }
sinks:
  out: { type: stdout, input: in }
`;

test('--worker-id refuses --from-scratch (exit 2): every rebalance would drop the moved state', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'p.yaml'), PIPELINE);
  const r = await runCli(['run', 'p.yaml', '--worker-id', 'w1', '--from-scratch'], dir);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--from-scratch does not combine with --worker-id/);
});

test('--worker-id needs a postgres:// checkpoint store (exit 1, saying so)', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'p.yaml'), PIPELINE);
  const r = await runCli(['run', 'p.yaml', '--worker-id', 'w1', '--checkpoint-store', './local'], dir);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /needs a shared checkpoint store: --checkpoint-store postgres:\/\//);
});

test('--worker-id refuses a pipeline with a source other than kafka (exit 1, naming it)', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'p.yaml'), PIPELINE);
  const r = await runCli(
    ['run', 'p.yaml', '--worker-id', 'w1', '--checkpoint-store', 'postgres://postgres@127.0.0.1:5432/test'],
    dir,
  );
  assert.equal(r.code, 1);
  assert.match(r.stderr, /source 'in' is of type 'generate'/);
});

for (const threads of ['0', 'two', '1.5', '-1']) {
  test(`--threads ${threads} is a usage error (exit 2)`, async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, 'p.yaml'), PIPELINE);
    const r = await runCli(['run', 'p.yaml', '--worker-id', 'w1', '--threads', threads], dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--threads must be a whole number from 1 to 256/);
  });
}

test('--threads without --worker-id is a usage error (exit 2)', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'p.yaml'), PIPELINE);
  const r = await runCli(['run', 'p.yaml', '--threads', '2'], dir);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--threads needs --worker-id/);
});

test('--threads 2: a thread that fails is explained once (exit 1)', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'p.yaml'), PIPELINE);
  const r = await runCli(
    [
      'run',
      'p.yaml',
      '--worker-id',
      'w1',
      '--threads',
      '2',
      '--checkpoint-store',
      'postgres://postgres@127.0.0.1:5432/test',
    ],
    dir,
  );
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr.match(/source 'in' is of type 'generate'/g)?.length, 1, r.stderr);
});

test('--worker-id refuses --serve (exit 2), saying why and what to use instead', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'p.yaml'), PIPELINE);
  const r = await runCli(['run', 'p.yaml', '--worker-id', 'w1', '--serve', '8080'], dir);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--serve does not combine with --worker-id yet: a worker runs one job per task/);
  assert.match(r.stderr, /sluice status <pipeline> --checkpoint-store <url>/);
});

test('--worker-id checks --restart-attempts and --restart-backoff before starting (exit 2)', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'p.yaml'), PIPELINE);
  const attempts = await runCli(['run', 'p.yaml', '--worker-id', 'w1', '--restart-attempts', '-1'], dir);
  assert.equal(attempts.code, 2);
  assert.match(attempts.stderr, /--restart-attempts must be a whole number/);
  const backoff = await runCli(['run', 'p.yaml', '--worker-id', 'w1', '--restart-backoff', '5s,1s'], dir);
  assert.equal(backoff.code, 2);
  assert.match(backoff.stderr, /the longest delay \(1s\) is shorter than the first \(5s\)/);
});
