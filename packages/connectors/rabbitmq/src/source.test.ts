/**
 * The `rabbitmq` source's reader against the machine's RabbitMQ: acknowledgements only in
 * `commit` (what a checkpoint covers is not read again after a crash, what it does not is
 * redelivered and flagged), the prefetch as backpressure with an early checkpoint, declaring a
 * queue with bindings and the `_rabbitmq` metadata, two consumers sharing a queue, undecodable
 * bodies, and a quorum queue's delivery limit dead-lettering a poison message.
 */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Row, SourceBatch } from '@sluice/core';
import type { RabbitmqReader } from './source-reader.ts';
import { Broker, openRabbitmqReader, rabbitmqAvailable, uniqueName } from './test-support.ts';

const available = await rabbitmqAvailable();
const signal = new AbortController().signal;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reads until `count` records (and failures) came, or `ms` passed; returns what came. */
async function readAtLeast(reader: RabbitmqReader, count: number, ms = 5000): Promise<SourceBatch> {
  const out: SourceBatch = { records: [], failures: [] };
  const deadline = Date.now() + ms;
  while (out.records.length + (out.failures?.length ?? 0) < count && Date.now() < deadline) {
    const batch = await reader.read(64, signal);
    if (batch === null) break;
    out.records.push(...batch.records);
    out.failures?.push(...(batch.failures ?? []));
  }
  return out;
}

const idsOf = (records: Row[]) => records.map((r) => Number(r.id)).sort((a, b) => a - b);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const bodies = (from: number, to: number) => range(from, to).map((id) => JSON.stringify({ id }));

describe('rabbitmq source', { skip: !available }, () => {
  let broker: Broker;
  const queues: string[] = [];
  const exchanges: string[] = [];
  /** A new durable classic queue, deleted after the tests. */
  const newQueue = async (prefix: string) => {
    const queue = uniqueName(prefix);
    queues.push(queue);
    await broker.channel.assertQueue(queue, { durable: true });
    return queue;
  };
  before(async () => {
    broker = await Broker.open();
  });
  after(async () => {
    await broker.deleteQueue(...queues);
    await broker.deleteExchange(...exchanges);
    await broker.close();
  });

  test('a crash redelivers what no checkpoint covers, flagged redelivered; what the restored checkpoint covers is not read again', async () => {
    const queue = await newQueue('crash');
    const first = await openRabbitmqReader({ queue });
    await broker.send(queue, bodies(0, 10));
    assert.equal((await readAtLeast(first, 10)).records.length, 10);
    // Checkpoint 1 covers 0..9 and is committed (acknowledged).
    await first.commit(first.position());
    await broker.send(queue, bodies(10, 20));
    assert.equal((await readAtLeast(first, 10)).records.length, 10);
    // Checkpoint 2 covers 10..19 and is durable, but the process dies before its commit.
    const checkpoint2 = first.position();
    await broker.send(queue, bodies(20, 30));
    assert.equal((await readAtLeast(first, 10)).records.length, 10);
    await first.close();

    const second = await openRabbitmqReader({ queue }, { restored: checkpoint2 });
    try {
      const again = await readAtLeast(second, 10);
      await readAtLeast(second, 1, 300);
      assert.deepEqual(idsOf(again.records), range(20, 30), 'only what checkpoint 2 does not cover');
      for (const r of again.records)
        assert.equal((r._rabbitmq as { redelivered: boolean }).redelivered, true, `record ${r.id}`);
      assert.equal(second.redeliveries, 10, 'the duplicates are counted');
      await second.commit(second.position());
    } finally {
      await second.close();
    }
    assert.equal(await broker.ready(queue), 0, 'every message acknowledged: checkpoint 2’s when redelivered');
  });

  test('a commit acknowledges nothing read after its position, even a message with a body it lists', async () => {
    const queue = await newQueue('same-body');
    const body = JSON.stringify({ id: 'same' });
    const first = await openRabbitmqReader({ queue });
    await broker.send(queue, [body]);
    assert.equal((await readAtLeast(first, 1)).records.length, 1);
    const acknowledged = first.position();
    await first.commit(acknowledged);
    await first.close();
    // Restored from a position whose commit ran before the crash: the message it lists is gone.
    const second = await openRabbitmqReader({ queue }, { restored: acknowledged });
    try {
      const before = second.position();
      await broker.send(queue, [body]);
      assert.equal((await readAtLeast(second, 1)).records.length, 1, 'a new message, read');
      await second.commit(before);
      assert.equal(second.unacknowledged, 1, 'read after the position: left for a later commit');
    } finally {
      await second.close();
    }
    assert.equal(await broker.ready(queue), 1, 'returned to the queue, not lost');
  });

  test('the prefetch holds the broker back until a commit; half of it read asks for a checkpoint', async () => {
    const queue = await newQueue('prefetch');
    let requested = 0;
    const reader = await openRabbitmqReader(
      { queue, prefetch: 10 },
      {
        requestCheckpoint: () => {
          requested++;
        },
      },
    );
    try {
      await broker.send(queue, bodies(0, 50));
      const got = await readAtLeast(reader, 50, 1500);
      assert.equal(got.records.length, 10, 'no more than the prefetch without acknowledgements');
      assert.ok(requested > 0, 'an early checkpoint was asked for');
      assert.equal(await broker.ready(queue), 40, 'the rest waits in the queue');
      const all = [...got.records];
      while (all.length < 50) {
        await reader.commit(reader.position());
        const more = await readAtLeast(reader, 10, 3000);
        assert.ok(more.records.length > 0, 'a commit lets the broker deliver more');
        all.push(...more.records);
      }
      assert.deepEqual(idsOf(all), range(0, 50));
      assert.equal(reader.redeliveries, 0);
    } finally {
      await reader.close();
    }
  });

  test('declares a queue with its bindings; routing key, exchange and headers are metadata', async () => {
    const queue = uniqueName('declared');
    const exchange = uniqueName('orders');
    queues.push(queue);
    exchanges.push(exchange);
    const reader = await openRabbitmqReader({
      queue,
      declare: true,
      bindings: [{ exchange, routing_key: 'order.*.created', exchange_type: 'topic' }],
    });
    try {
      await broker.publish(exchange, 'order.eu.created', [JSON.stringify({ id: 1 })], {
        headers: { tenant: 'acme', attempt: 2 },
        messageId: 'm-1',
        timestamp: 1_767_225_600,
      });
      await broker.publish(exchange, 'order.eu.deleted', [JSON.stringify({ id: 2 })]);
      await broker.publish(exchange, 'order.us.created', [JSON.stringify({ id: 3 })]);
      const got = await readAtLeast(reader, 2);
      await readAtLeast(reader, 1, 300);
      assert.deepEqual(
        got.records.map((r) => r._rabbitmq),
        [
          {
            exchange,
            routing_key: 'order.eu.created',
            redelivered: false,
            headers: { tenant: 'acme', attempt: 2 },
            message_id: 'm-1',
            timestamp: 1_767_225_600_000,
          },
          {
            exchange,
            routing_key: 'order.us.created',
            redelivered: false,
            headers: {},
            message_id: null,
            timestamp: null,
          },
        ],
      );
      assert.deepEqual(idsOf(got.records), [1, 3], 'the binding routes only matching keys');
      await reader.commit(reader.position());
    } finally {
      await reader.close();
    }
  });

  test('two consumers on one queue share the work: each message read by one of them', async () => {
    const queue = await newQueue('shared');
    const a = await openRabbitmqReader({ queue, prefetch: 20 });
    const b = await openRabbitmqReader({ queue, prefetch: 20 });
    try {
      await broker.send(queue, bodies(0, 200));
      const fromA: Row[] = [];
      const fromB: Row[] = [];
      const deadline = Date.now() + 10_000;
      while (fromA.length + fromB.length < 200 && Date.now() < deadline) {
        for (const [reader, into] of [
          [a, fromA],
          [b, fromB],
        ] as const) {
          const batch = await reader.read(64, signal);
          into.push(...(batch?.records ?? []));
          await reader.commit(reader.position());
        }
      }
      assert.ok(
        fromA.length > 0 && fromB.length > 0,
        `both consumers got some: ${fromA.length}, ${fromB.length}`,
      );
      assert.deepEqual(idsOf([...fromA, ...fromB]), range(0, 200), 'each message once');
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('a body that does not decode is a failure with its routing key, acknowledged with the checkpoint', async () => {
    const queue = await newQueue('malformed');
    const reader = await openRabbitmqReader({ queue });
    try {
      await broker.send(queue, [
        JSON.stringify({ id: 1 }),
        '{"id": 2, oops',
        '[1, 2]',
        JSON.stringify({ id: 3 }),
      ]);
      const got = await readAtLeast(reader, 4);
      assert.deepEqual(idsOf(got.records), [1, 3]);
      assert.deepEqual(
        got.failures?.map((f) => [f.payload, f.message.replace(/: .*/, '')]),
        [
          ['{"id": 2, oops', `message from exchange '' with routing key '${queue}' is not valid JSON`],
          ['[1, 2]', `message from exchange '' with routing key '${queue}' is JSON an array, not an object`],
        ],
      );
      await reader.commit(reader.position());
    } finally {
      await reader.close();
    }
    assert.equal(await broker.ready(queue), 0, 'not returned to the queue');
  });

  test('a quorum queue with a delivery limit dead-letters a message that keeps crashing the pipeline', async () => {
    const queue = uniqueName('poison');
    const dlx = uniqueName('poison-dlx');
    const dlq = uniqueName('poison-dlq');
    queues.push(queue, dlq);
    exchanges.push(dlx);
    await broker.channel.assertExchange(dlx, 'fanout', { durable: true });
    await broker.channel.assertQueue(dlq, { durable: true });
    await broker.channel.bindQueue(dlq, dlx, '');
    const options = {
      queue,
      declare: true,
      queue_type: 'quorum',
      delivery_limit: 2,
      dead_letter_exchange: dlx,
    };
    // Declared by the source before anything is published.
    await (await openRabbitmqReader(options)).close();
    await broker.send(queue, [JSON.stringify({ id: 'poison' })]);
    // Each run reads the message and dies before a checkpoint: the broker counts the returns.
    let runs = 0;
    for (; runs < 6; runs++) {
      const reader = await openRabbitmqReader(options);
      const got = await readAtLeast(reader, 1, 1500);
      await reader.close();
      if (got.records.length === 0) break;
      assert.deepEqual(
        got.records.map((r) => r.id),
        ['poison'],
      );
    }
    assert.equal(runs, 3, 'delivered once and returned twice (the limit), then no more');
    let dead: string[] = [];
    for (let i = 0; i < 20 && dead.length === 0; i++) {
      dead = await broker.drain(dlq);
      if (dead.length === 0) await sleep(100);
    }
    assert.deepEqual(dead, [JSON.stringify({ id: 'poison' })], 'the broker dead-lettered it');
  });

  test('a queue deleted under the source fails its reads as a config error naming the queue', async () => {
    const queue = await newQueue('deleted');
    const reader = await openRabbitmqReader({ queue });
    try {
      await broker.deleteQueue(queue);
      let failure: (Error & { code?: string }) | undefined;
      const deadline = Date.now() + 8000;
      while (failure === undefined && Date.now() < deadline) {
        try {
          await reader.read(64, signal);
        } catch (err) {
          failure = err as Error & { code?: string };
        }
      }
      assert.equal(failure?.code, 'CONFIG_INVALID');
      assert.match(failure?.message ?? '', new RegExp(`queue '${queue}'.*NOT_FOUND`));
    } finally {
      await reader.close();
      await broker.channel.assertQueue(queue, { durable: true });
    }
  });

  test('a queue that does not exist fails the open as a config error naming the queue', async () => {
    const queue = uniqueName('missing');
    await assert.rejects(openRabbitmqReader({ queue }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.match(err.message, new RegExp(`queue '${queue}'.*NOT_FOUND`));
      return true;
    });
  });
});
