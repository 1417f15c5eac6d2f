/**
 * The `rabbitmq` sink against the machine's RabbitMQ: routing keys from an expression, persistent
 * JSON messages, a message no queue is bound for (`mandatory`) and one the broker nacks as dead
 * letters with the reason, a small in-flight window keeping order, a missing exchange as a config
 * error, and a write through a broker outage (a TCP proxy in front of the shared server).
 */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Sink, type SinkBatch, silentLogger, systemClock, validateConfig } from '@sluice/core';
import { OutageProxy } from '@sluice/core/testing';
import { rabbitmqSink } from './sink.ts';
import type { RabbitmqSinkConfig } from './sink-config.ts';
import { Broker, RABBITMQ_HOST, RABBITMQ_URL, rabbitmqAvailable, uniqueName } from './test-support.ts';

const available = await rabbitmqAvailable();
const signal = new AbortController().signal;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const batchOf = (records: { [k: string]: unknown }[]): SinkBatch => ({
  records,
  times: records.map(() => 0),
});

async function openSink(options: { [k: string]: unknown }): Promise<Sink> {
  const checked = validateConfig<RabbitmqSinkConfig>(rabbitmqSink.config, { url: RABBITMQ_URL, ...options });
  if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
  const sink = rabbitmqSink.create(checked.value);
  await sink.open({
    id: 'out',
    restored: undefined,
    clock: systemClock,
    baseDir: process.cwd(),
    signal,
    log: silentLogger,
  });
  return sink;
}

describe('rabbitmq sink', { skip: !available }, () => {
  let broker: Broker;
  const queues: string[] = [];
  const exchanges: string[] = [];
  /** A topic exchange and a queue bound to it with `pattern`. */
  const newTarget = async (pattern: string, args: { [k: string]: unknown } = {}) => {
    const exchange = uniqueName('sink');
    const queue = uniqueName('sink');
    exchanges.push(exchange);
    queues.push(queue);
    await broker.channel.assertExchange(exchange, 'topic', { durable: true });
    await broker.channel.assertQueue(queue, { durable: true, arguments: args });
    await broker.channel.bindQueue(queue, exchange, pattern);
    return { exchange, queue };
  };
  before(async () => {
    broker = await Broker.open();
  });
  after(async () => {
    await broker.deleteQueue(...queues);
    await broker.deleteExchange(...exchanges);
    await broker.close();
  });

  test('publishes persistent JSON messages with the routing key its expression gives', async () => {
    const { exchange, queue } = await newTarget('order.eu.*');
    const sink = await openSink({ exchange, routing_key_expression: "'order.' || region || '.created'" });
    try {
      const records = range(0, 6).map((id) => ({ id, region: id % 2 === 0 ? 'eu' : 'us' }));
      const rejected = await sink.write(batchOf(records));
      assert.deepEqual(
        rejected?.map((r) => r.index),
        [1, 3, 5],
        'the us records: no queue is bound for them',
      );
      const msg = await broker.channel.get(queue, { noAck: true });
      assert.ok(msg);
      assert.equal(msg.fields.routingKey, 'order.eu.created');
      assert.equal(msg.properties.deliveryMode, 2, 'persistent');
      assert.equal(msg.properties.contentType, 'application/json');
      assert.deepEqual(JSON.parse(msg.content.toString()), { id: 0, region: 'eu' });
      assert.deepEqual(
        (await broker.drain(queue)).map((b) => JSON.parse(b).id),
        [2, 4],
      );
    } finally {
      await sink.close();
    }
  });

  test('a message no queue is bound for comes back and its record is a dead letter with the reason', async () => {
    const { exchange, queue } = await newTarget('known');
    const sink = await openSink({ exchange, routing_key_expression: 'key' });
    try {
      const rejected = await sink.write(
        batchOf([
          { id: 1, key: 'known' },
          { id: 2, key: 'unknown' },
          { id: 3, key: 'known' },
        ]),
      );
      assert.equal(rejected?.length, 1);
      assert.equal(rejected?.[0]?.index, 1);
      assert.match(
        rejected?.[0]?.message ?? '',
        new RegExp(
          `returned it: no queue is bound to exchange '${exchange}' for routing key 'unknown' \\(312 NO_ROUTE\\)`,
        ),
      );
      assert.deepEqual(
        (await broker.drain(queue)).map((b) => JSON.parse(b).id),
        [1, 3],
      );
    } finally {
      await sink.close();
    }
  });

  test('mandatory off: the broker drops an unroutable message and nothing is refused', async () => {
    const { exchange } = await newTarget('known');
    const sink = await openSink({ exchange, routing_key: 'unknown', mandatory: false });
    try {
      assert.equal(await sink.write(batchOf([{ id: 1 }])), undefined);
    } finally {
      await sink.close();
    }
  });

  test('a message the broker nacks (a full queue that rejects publishes) is a dead letter with the reason', async () => {
    const { exchange, queue } = await newTarget('#', { 'x-max-length': 2, 'x-overflow': 'reject-publish' });
    const sink = await openSink({ exchange, routing_key: 'any' });
    try {
      const rejected = await sink.write(batchOf(range(0, 5).map((id) => ({ id }))));
      assert.deepEqual(
        rejected?.map((r) => r.index),
        [2, 3, 4],
      );
      for (const r of rejected ?? []) assert.match(r.message, /refused it \(basic\.nack\)/);
      assert.deepEqual(
        (await broker.drain(queue)).map((b) => JSON.parse(b).id),
        [0, 1],
      );
    } finally {
      await sink.close();
    }
  });

  test('with a small in-flight window every message is published, in order', async () => {
    const { exchange, queue } = await newTarget('#');
    const sink = await openSink({ exchange, routing_key: 'k', max_in_flight: 3 });
    try {
      assert.equal(await sink.write(batchOf(range(0, 500).map((id) => ({ id })))), undefined);
      assert.deepEqual(
        (await broker.drain(queue)).map((b) => JSON.parse(b).id),
        range(0, 500),
      );
    } finally {
      await sink.close();
    }
  });

  test('an exchange that does not exist fails the open as a config error', async () => {
    const exchange = uniqueName('missing');
    await assert.rejects(openSink({ exchange, routing_key: 'k' }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.match(err.message, new RegExp(`exchange '${exchange}'.*NOT_FOUND`));
      return true;
    });
  });

  test('a write during a broker outage resolves once the broker is back and has every message', async () => {
    const { exchange, queue } = await newTarget('#');
    const proxy = new OutageProxy(RABBITMQ_HOST);
    await proxy.up();
    const sink = await openSink({
      url: `amqp://${proxy.address}`,
      exchange,
      routing_key: 'k',
      connect_timeout: '1s',
      retry: { max_attempts: 20, initial_backoff: '100ms', max_backoff: '500ms' },
    });
    try {
      await proxy.down();
      let resolved = false;
      const writing = sink.write(batchOf(range(0, 10).map((id) => ({ id })))).then((r) => {
        resolved = true;
        return r;
      });
      await sleep(1000);
      assert.equal(resolved, false, 'the write waits for the broker');
      await proxy.up();
      assert.equal(await writing, undefined, 'nothing refused');
      const ids = new Set((await broker.drain(queue)).map((b) => JSON.parse(b).id as number));
      assert.deepEqual(
        [...ids].sort((a, b) => a - b),
        range(0, 10),
        'every message arrived (at least once)',
      );
    } finally {
      await sink.close();
      await proxy.down();
    }
  });
});
