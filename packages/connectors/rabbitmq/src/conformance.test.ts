/**
 * The core's conformance suites run by the `rabbitmq` source (a classic queue) and sink (a topic
 * exchange) against the machine's RabbitMQ: skipped with a reason when it is not reachable, a
 * failure under CI=true.
 */

import type { Row } from '@sluice/core';
import { sinkConformance, sourceConformance } from '@sluice/core/testing';
import { rabbitmqSink } from './sink.ts';
import { rabbitmqSource } from './source.ts';
import {
  Broker,
  RABBITMQ_HOST,
  RABBITMQ_URL,
  REPO_ROOT,
  rabbitmqAvailable,
  uniqueName,
} from './test-support.ts';

const available = await rabbitmqAvailable();
const skip = available ? false : 'rabbitmq not reachable at 127.0.0.1:5672';

sourceConformance({
  spec: rabbitmqSource,
  label: 'rabbitmq classic queue',
  skip,
  baseDir: REPO_ROOT,
  // The broker keeps what is unacknowledged: a reader opened without a restored position gets
  // what no commit acknowledged, and nothing a commit did.
  upstreamPositions: true,
  timeoutMs: 10_000,
  server: RABBITMQ_HOST,
  plugin: '@sluice/rabbitmq',
  // Competing consumers: the broker gives each message of the queue to one of them.
  sharedWork: {},
  async input(through) {
    const queue = uniqueName('conformance');
    const broker = await Broker.open();
    await broker.channel.assertQueue(queue, { durable: true });
    return {
      options: { url: through?.address === undefined ? RABBITMQ_URL : `amqp://${through.address}`, queue },
      async write(records: readonly Row[]) {
        await broker.send(
          queue,
          records.map((r) => JSON.stringify(r)),
        );
      },
      async writeMalformed(count: number) {
        await broker.send(
          queue,
          Array.from({ length: count }, (_, i) => `{"id": ${i}, not json`),
        );
      },
      async dispose() {
        await broker.deleteQueue(queue);
        await broker.close();
      },
    };
  },
});

sinkConformance({
  spec: rabbitmqSink,
  label: 'rabbitmq topic exchange',
  skip,
  baseDir: REPO_ROOT,
  // A record without the field its routing key expression reads: the sink refuses it.
  refused: { record: { id: 1000, amount: 1 }, reason: /routing_key_expression failed: field 'name'/ },
  server: RABBITMQ_HOST,
  plugin: '@sluice/rabbitmq',
  async target({ address }) {
    const exchange = uniqueName('conformance-out');
    const queue = uniqueName('conformance-out');
    const broker = await Broker.open();
    await broker.channel.assertExchange(exchange, 'topic', { durable: true });
    await broker.channel.assertQueue(queue, { durable: true });
    await broker.channel.bindQueue(queue, exchange, 'out.#');
    const seen: Row[] = [];
    return {
      options: {
        url: address === undefined ? RABBITMQ_URL : `amqp://${address}`,
        exchange,
        routing_key_expression: "'out.' || name",
      },
      async read() {
        // What reached the queue so far (read once: kept across calls).
        for (const body of await broker.drain(queue)) seen.push(JSON.parse(body) as Row);
        return [...seen];
      },
      async dispose() {
        await broker.deleteQueue(queue);
        await broker.deleteExchange(exchange);
        await broker.close();
      },
    };
  },
  async secret() {
    const secret = `s3cret-${process.pid}`;
    return {
      options: {
        url: `amqp://sluice:${secret}@127.0.0.1:1`,
        password: secret,
        routing_key: 'never',
        connect_timeout: '1s',
        retry: { max_attempts: 2, initial_backoff: '10ms' },
      },
      secret,
    };
  },
});
