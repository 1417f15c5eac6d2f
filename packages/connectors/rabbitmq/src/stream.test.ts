/**
 * The `rabbitmq` source on a stream queue against the machine's RabbitMQ: a restored checkpoint
 * resumes exactly after its offset (each record once, whatever the batch sizes), `offset` decides
 * where a source without a checkpoint starts, and a dropped connection resumes after the last
 * offset read (through a TCP proxy in front of the shared server).
 */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Row } from '@sluice/core';
import { OutageProxy } from '@sluice/core/testing';
import type { RabbitmqReader } from './source-reader.ts';
import { Broker, openRabbitmqReader, RABBITMQ_HOST, rabbitmqAvailable, uniqueName } from './test-support.ts';

const available = await rabbitmqAvailable();
const signal = new AbortController().signal;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const bodies = (from: number, to: number) => range(from, to).map((id) => JSON.stringify({ id }));

/** Reads in batches of at most `max` until `count` records came (never more) or `ms` passed. */
async function readIds(reader: RabbitmqReader, count: number, max: number, ms = 5000): Promise<number[]> {
  const ids: number[] = [];
  const deadline = Date.now() + ms;
  while (ids.length < count && Date.now() < deadline) {
    const batch = await reader.read(Math.min(max, count - ids.length), signal);
    for (const r of batch?.records ?? []) ids.push(Number((r as Row).id));
  }
  return ids;
}

describe('rabbitmq stream source', { skip: !available }, () => {
  let broker: Broker;
  const queues: string[] = [];
  const newStream = async (prefix: string) => {
    const queue = uniqueName(prefix);
    queues.push(queue);
    await broker.channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'stream' } });
    return queue;
  };
  before(async () => {
    broker = await Broker.open();
  });
  after(async () => {
    await broker.deleteQueue(...queues);
    await broker.close();
  });

  test('a restored checkpoint resumes exactly after its offset, whatever the batch sizes', async () => {
    const queue = await newStream('stream-resume');
    await broker.send(queue, bodies(0, 30));
    for (const [cut, max] of [
      [7, 3],
      [13, 5],
      [29, 64],
    ] as const) {
      const first = await openRabbitmqReader({ queue, queue_type: 'stream', prefetch: 10 });
      const head = await readIds(first, cut, max);
      assert.deepEqual(head, range(0, cut));
      // The checkpoint is taken after exactly `cut` records (reads of at most `max`).
      const checkpoint = first.position();
      await first.close();
      const second = await openRabbitmqReader(
        { queue, queue_type: 'stream', prefetch: 10 },
        { restored: checkpoint },
      );
      try {
        const rest = await readIds(second, 30 - cut, max);
        assert.deepEqual(
          [...head, ...rest],
          range(0, 30),
          `cut at ${cut}, batches of ${max}: each record once`,
        );
      } finally {
        await second.close();
      }
    }
  });

  test('offset `next` reads only what is published after the source opens; a number starts there', async () => {
    const queue = await newStream('stream-offset');
    await broker.send(queue, bodies(0, 5));
    const next = await openRabbitmqReader({ queue, queue_type: 'stream', offset: 'next' });
    try {
      await sleep(200);
      await broker.send(queue, bodies(5, 8));
      assert.deepEqual(await readIds(next, 3, 64), [5, 6, 7]);
    } finally {
      await next.close();
    }
    const fromThree = await openRabbitmqReader({ queue, queue_type: 'stream', offset: 3 });
    try {
      assert.deepEqual(await readIds(fromThree, 5, 64), [3, 4, 5, 6, 7]);
    } finally {
      await fromThree.close();
    }
  });

  test('a dropped connection resumes after the last offset read: nothing lost, nothing read twice', async () => {
    const queue = await newStream('stream-outage');
    const proxy = new OutageProxy(RABBITMQ_HOST);
    await proxy.up();
    const reader = await openRabbitmqReader({
      url: `amqp://${proxy.address}`,
      queue,
      queue_type: 'stream',
      prefetch: 10,
      connect_timeout: '2s',
    });
    try {
      await broker.send(queue, bodies(0, 40));
      const before = await readIds(reader, 15, 5);
      assert.deepEqual(before, range(0, 15));
      await proxy.down();
      await broker.send(queue, bodies(40, 50));
      await sleep(800);
      await proxy.up();
      const after = await readIds(reader, 35, 64, 15_000);
      await sleep(200);
      after.push(...(await readIds(reader, 1, 64, 300)));
      assert.deepEqual([...before, ...after], range(0, 50));
      assert.ok(reader.reconnects >= 1, 'the reader reconnected');
      assert.deepEqual(reader.position(), { offset: 49 });
    } finally {
      await reader.close();
      await proxy.down();
    }
  });
});
