/**
 * The `rabbitmq` source and sink in full jobs against the machine's RabbitMQ: a queue → map →
 * memory job with a small prefetch (so the source's early checkpoints keep the broker delivering),
 * stopped and restarted with messages published in between (each record once, the queue empty
 * at the end), undecodable bodies as dead letters; and queue → exchange, the sink's routing keys
 * from an expression, records no queue is bound for as dead letters.
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { builtins, Job, parsePipelineYaml, Registry, type Row, SluiceError } from '@sluice/core';
import { memorySinkStore, testing } from '@sluice/core/testing';
import { rabbitmq } from './index.ts';
import { Broker, RABBITMQ_URL, rabbitmqAvailable, uniqueName } from './test-support.ts';

const available = await rabbitmqAvailable();
const registry = new Registry([builtins, testing, rabbitmq]);
const dirs: string[] = [];
/** Jobs a failing test could leave running: stopped before the clean-ups. */
const running: { job: Job; done: Promise<unknown> }[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor(what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

async function start(yaml: string, dir: string): Promise<{ job: Job; done: Promise<unknown> }> {
  const plan = parsePipelineYaml(yaml, join(dir, 'pipeline.yaml'), { registry });
  const job = await Job.create(plan, { registry });
  const entry = { job, done: job.run() };
  running.push(entry);
  return entry;
}

const bodies = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => JSON.stringify({ id: from + i, ts: Date.UTC(2026, 0, 1) + i }));

describe('rabbitmq in a job', { skip: !available }, () => {
  let broker: Broker;
  const queues: string[] = [];
  const exchanges: string[] = [];
  before(async () => {
    broker = await Broker.open();
  });
  after(async () => {
    for (const { job, done } of running) {
      job.stop();
      await done.catch(() => {});
    }
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    await broker.deleteQueue(...queues);
    await broker.deleteExchange(...exchanges);
    await broker.close();
  });

  test('a stopped job gets what was published meanwhile; each record once; bad bodies are dead letters', async () => {
    const queue = uniqueName('job');
    queues.push(queue);
    await broker.channel.assertQueue(queue, { durable: true });
    const store = uniqueName('store');
    const dir = await mkdtemp(join(tmpdir(), 'sluice-rabbitmq-job-'));
    dirs.push(dir);
    // The periodic interval is long: only the source's early checkpoints (every 10 records read)
    // let the broker send more than the prefetch of 20 before it; the periodic one covers the tail.
    const yaml = `
name: rabbitmq-job
settings: { checkpoint: { interval: 4s, dir: ./ckpt } }
sources:
  in:
    type: rabbitmq
    url: ${RABBITMQ_URL}
    queue: ${queue}
    prefetch: 20
    event_time: { field: ts }
steps:
  - { id: tag, type: map, input: in, fields: { id: id, key: _rabbitmq.routing_key } }
sinks:
  out: { type: memory, store: '${store}', input: tag }
dead_letter: { type: memory, store: '${store}-dead' }
`;
    const out = memorySinkStore(store);
    const dead = memorySinkStore(`${store}-dead`);

    const run1 = await start(yaml, dir);
    await broker.send(queue, bodies(0, 200));
    await broker.send(queue, ['{"id": 999, broken', JSON.stringify([998])]);
    await waitFor(
      '190 records committed by early checkpoints alone',
      () => out.committed.length >= 190,
      3500,
    );
    await waitFor(
      'run 1 to commit its records',
      () => out.committed.length === 200 && dead.committed.length === 2,
    );
    run1.job.stop();
    await run1.done;

    // Published while the job is stopped: the queue keeps them.
    await broker.send(queue, bodies(200, 260));
    const run2 = await start(yaml, dir);
    await waitFor('run 2 to commit the new records', () => out.committed.length >= 260);
    await sleep(500);
    run2.job.stop();
    await run2.done;

    const ids = out.committed.map((r: Row) => Number(r.id)).sort((a, b) => a - b);
    assert.deepEqual(
      ids,
      Array.from({ length: 260 }, (_, i) => i),
      'every record once across the restart',
    );
    assert.ok(
      out.committed.every((r: Row) => r.key === queue),
      'steps read _rabbitmq.routing_key',
    );
    const letters = dead.committed as unknown as { step: string; message: string; payload: unknown }[];
    assert.deepEqual(
      letters.map((l) => [l.step, l.payload]),
      [
        ['in', '{"id": 999, broken'],
        ['in', '[998]'],
      ],
    );
    assert.match(letters[0]?.message ?? '', /is not valid JSON/);
    assert.match(letters[1]?.message ?? '', /is JSON an array, not an object/);
    assert.equal(await broker.ready(queue), 0, 'everything acknowledged, the dead letters too');
  });

  test('a job that fails mid-stream restarts from its checkpoint: with a transactional sink each record once', async () => {
    const queue = uniqueName('job-crash');
    queues.push(queue);
    await broker.channel.assertQueue(queue, { durable: true });
    const store = uniqueName('store');
    const dir = await mkdtemp(join(tmpdir(), 'sluice-rabbitmq-job-'));
    dirs.push(dir);
    const yaml = `
name: rabbitmq-crash
settings: { checkpoint: { interval: 1s, dir: ./ckpt } }
sources:
  in: { type: rabbitmq, url: ${RABBITMQ_URL}, queue: ${queue}, prefetch: 20 }
sinks:
  out: { type: memory, store: '${store}' }
`;
    const out = memorySinkStore(store);
    const run1 = await start(yaml, dir);
    await broker.send(queue, bodies(0, 2000));
    await waitFor('some checkpoints', () => out.committed.length >= 60);
    // A failure: no final checkpoint; what was read after the last one is neither committed by
    // the sink nor acknowledged to the broker.
    run1.job.fail(new SluiceError('INTERNAL', 'test: the job fails'));
    await assert.rejects(run1.done);
    const committedBefore = out.committed.length;
    assert.ok(committedBefore < 2000, `the failure came before the end (${committedBefore} committed)`);
    await broker.send(queue, bodies(2000, 2060));
    const run2 = await start(yaml, dir);
    await waitFor('run 2 to commit the rest', () => out.committed.length >= 2060);
    await sleep(300);
    run2.job.stop();
    await run2.done;
    assert.deepEqual(
      out.committed.map((r: Row) => Number(r.id)).sort((a, b) => a - b),
      Array.from({ length: 2060 }, (_, i) => i),
      'each record once: the source redelivered what the sink had not committed',
    );
    assert.equal(await broker.ready(queue), 0);
  });

  test('queue → exchange: the sink routes each record by the key its expression gives; unroutable ones are dead letters', async () => {
    const queue = uniqueName('job-in');
    const exchange = uniqueName('job-out');
    const target = uniqueName('job-out');
    queues.push(queue, target);
    exchanges.push(exchange);
    await broker.channel.assertQueue(queue, { durable: true });
    await broker.channel.assertExchange(exchange, 'topic', { durable: true });
    await broker.channel.assertQueue(target, { durable: true });
    await broker.channel.bindQueue(target, exchange, 'copied.even');
    const dir = await mkdtemp(join(tmpdir(), 'sluice-rabbitmq-job-'));
    dirs.push(dir);
    const yaml = `
name: rabbitmq-copy
settings: { checkpoint: { interval: 100ms, dir: ./ckpt } }
sources:
  in: { type: rabbitmq, url: ${RABBITMQ_URL}, queue: ${queue} }
steps:
  - id: parity
    type: map
    input: in
    fields: { id: id, parity: "CASE WHEN id % 2 = 0 THEN 'even' ELSE 'odd' END" }
sinks:
  out:
    type: rabbitmq
    input: parity
    url: ${RABBITMQ_URL}
    exchange: ${exchange}
    routing_key_expression: "'copied.' || parity"
dead_letter: { type: memory, store: '${uniqueName('dead')}' }
`;
    const run = await start(yaml, dir);
    await broker.send(queue, bodies(0, 20));
    let copied: string[] = [];
    for (let i = 0; i < 200 && copied.length < 10; i++) {
      copied = [...copied, ...(await broker.drain(target))];
      await sleep(50);
    }
    run.job.stop();
    const result = (await run.done) as { metrics: { deadLetters: number } };
    assert.deepEqual(
      copied.map((b) => (JSON.parse(b) as Row).id),
      [0, 2, 4, 6, 8, 10, 12, 14, 16, 18],
    );
    assert.equal(result.metrics.deadLetters, 10, 'the odd records: no queue bound for copied.odd');
  });
});
