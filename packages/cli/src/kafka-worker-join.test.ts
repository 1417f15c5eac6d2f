/**
 * A worker that cannot join its group keeps trying (issue 16): with capped, jittered backoff,
 * each failure logged with its reason, until it is stopped; only a configuration error ends it.
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { KAFKA_BROKER, kafkaAvailable, uniqueName } from '@sluice/kafka/testing';
import { Cli, runCli, tempDir, waitUntil } from './cli-test-support.ts';
import { workerArgs } from './worker-test-support.ts';

/** A kafka → stdout pipeline reading `topic` from `broker`. */
function pipeline(broker: string, topic: string): string {
  return `
name: ${uniqueName('join').replace(/-/g, '_')}
sources:
  in:
    type: kafka
    brokers: ['${broker}']
    topics: ['${topic}']
    group_id: '${uniqueName('join-g')}'
sinks:
  out: { type: stdout, input: in }
`;
}

test('a worker whose brokers cannot be reached retries joining with backoff, logging each reason, until SIGTERM (exit 0)', async (t) => {
  const dir = await tempDir(t);
  // Nothing listens on port 1: every attempt fails to connect.
  await writeFile(join(dir, 'pipeline.yaml'), pipeline('127.0.0.1:1', 'nowhere'));
  const worker = new Cli(workerArgs('w1'), { cwd: dir, limitMs: 120_000 });
  t.after(() => worker.child.kill('SIGKILL'));
  const failures = () =>
    worker.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; attempt?: number; delay_ms?: number; error?: string })
      .filter((l) => l.msg === 'worker: joining the group failed; trying again');
  await waitUntil(() => failures().length >= 4 || !worker.alive, 90_000, 'four failed attempts');
  assert.ok(worker.alive, `the worker gave up:\n${worker.stderr.slice(-3000)}`);
  const seen = failures();
  assert.deepEqual(
    seen.slice(0, 4).map((l) => l.attempt),
    [1, 2, 3, 4],
  );
  for (const [i, l] of seen.entries()) {
    assert.ok(typeof l.error === 'string' && l.error.length > 0, 'the reason is logged');
    // Full jitter below a ceiling that doubles from 500 ms.
    assert.ok((l.delay_ms ?? -1) >= 0 && (l.delay_ms ?? Infinity) < 500 * 2 ** i, `delay ${l.delay_ms}`);
  }
  worker.kill('SIGTERM');
  const end = await worker.exited;
  assert.equal(end.code, 0, end.stderr.slice(-3000));
});

test('a worker reading a topic that does not exist fails at once, naming it (exit 1)', async (t) => {
  if (!(await kafkaAvailable())) return t.skip('kafka not reachable');
  const dir = await tempDir(t);
  const topic = uniqueName('missing');
  await writeFile(join(dir, 'pipeline.yaml'), pipeline(KAFKA_BROKER, topic));
  const r = await runCli(workerArgs('w1'), dir, 60_000);
  assert.equal(r.code, 1, r.stderr.slice(-3000));
  assert.match(r.stderr, new RegExp(`topics ${topic} do not exist`));
  assert.doesNotMatch(r.stderr, /trying again/);
});
