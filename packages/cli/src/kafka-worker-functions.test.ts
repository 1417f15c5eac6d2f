/**
 * What a TypeScript pipeline defines is there in every worker (issue 16): a function defined with
 * `defineFunction` and called from an expression, and a step's own TypeScript function, under
 * `sluice run --worker-id --threads 2` — each worker thread loads the pipeline module as
 * `sluice run` does, so both run in every thread. Every record the function keeps arrives, mapped.
 */

import assert from 'node:assert/strict';
import { symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  KAFKA_BROKER,
  kafkaAvailable,
  type ProducedRecord,
  produce,
  Topics,
  uniqueName,
} from '@sluice/kafka/testing';
import { postgresMissing } from '@sluice/postgres/testing';
import { Cli, tempDir, waitUntil } from './cli-test-support.ts';
import { cleanUpPipeline, runningTasks, workerArgs } from './worker-test-support.ts';

const kafka = await kafkaAvailable();
const skip = !kafka ? 'kafka not reachable' : await postgresMissing();
const topics = new Topics();
after(() => topics.cleanup());
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

const RECORDS = 240;

test('--threads 2: a defineFunction function and a TypeScript step run in every worker thread', {
  skip,
  timeout: 240_000,
}, async (t) => {
  const got: { id: number; tag: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (s: string) => {
      body += s;
    });
    req.on('end', () => {
      got.push(...(JSON.parse(body) as { id: number; tag: string }[]));
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;

  const dir = await tempDir(t);
  await symlink(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const input = await topics.create('worker-functions-in', 4);
  const name = uniqueName('functions').replace(/-/g, '_');
  cleanUpPipeline(t, name);
  await writeFile(
    join(dir, 'pipeline.ts'),
    `import { defineFunction, httpSink, pipeline } from '@sluice/core';
import { kafkaTopic } from '@sluice/kafka';

defineFunction({
  name: 'test_multiple_of_three',
  params: ['number'],
  returns: 'boolean',
  impl: (n: number) => n % 3 === 0,
});

export default pipeline('${name}', { checkpoint: { interval: '200ms', dir: './.sluice' } })
  .from(
    'in',
    kafkaTopic<{ id: number }>({
      brokers: ['${KAFKA_BROKER}'],
      topics: ['${input}'],
      group_id: '${uniqueName('functions-g')}',
      include_metadata: false,
      session_timeout: '6s',
      heartbeat_interval: '500ms',
    }),
  )
  .filter('thirds', 'test_multiple_of_three(id)')
  .map('tagged', (r) => ({ id: r.id, tag: 't' + r.id }))
  .to('out', httpSink({ url: 'http://127.0.0.1:${port}/in', batch_size: 20 }));
`,
  );
  const records: ProducedRecord[] = Array.from({ length: RECORDS }, (_, id) => ({
    partition: id % 4,
    key: String(id),
    value: JSON.stringify({ id }),
  }));
  const args = workerArgs('w1', 2).map((a) => (a === 'pipeline.yaml' ? 'pipeline.ts' : a));
  const worker = new Cli(args, { cwd: dir, limitMs: 220_000 });
  t.after(() => worker.child.kill('SIGKILL'));
  // Both threads run tasks before any record is there, so both call the function.
  const busyMembers = () =>
    [...runningTasks(worker.stderr)]
      .filter(([, tasks]) => tasks.size > 0)
      .map(([m]) => m)
      .sort();
  await waitUntil(() => busyMembers().length === 2 || !worker.alive, 90_000, 'both threads run tasks').catch(
    (err: Error) => {
      throw new Error(`${err.message}\n${worker.stderr.slice(-6000)}`);
    },
  );
  await produce(input, records);
  const want = Array.from({ length: RECORDS }, (_, id) => id).filter((id) => id % 3 === 0);
  await waitUntil(
    () => new Set(got.map((r) => r.id)).size >= want.length || !worker.alive,
    180_000,
    'every kept record delivered',
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${worker.stderr.slice(-6000)}`);
  });
  assert.ok(worker.alive, worker.stderr.slice(-4000));
  assert.deepEqual(
    [...new Set(got.map((r) => r.id))].sort((a, b) => a - b),
    want,
  );
  for (const r of got) assert.equal(r.tag, `t${r.id}`);
  assert.deepEqual(busyMembers(), ['w1.0', 'w1.1']);
  worker.kill('SIGTERM');
  const end = await worker.exited;
  assert.equal(end.code, 0, end.stderr.slice(-3000));
});
