/**
 * The core's source conformance suite run by the `rabbitmq` source on a stream queue (offsets in
 * the checkpoint, nothing kept upstream) against the machine's RabbitMQ, kill -9 and an outage
 * included.
 */

import type { Row } from '@sluice/core';
import { sourceConformance } from '@sluice/core/testing';
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
  label: 'rabbitmq stream',
  skip,
  baseDir: REPO_ROOT,
  timeoutMs: 10_000,
  // kill -9 (the offset restored from the checkpoint of a killed child) and an outage at a proxy.
  server: RABBITMQ_HOST,
  plugin: '@sluice/rabbitmq',
  async input(through) {
    const queue = uniqueName('conformance-stream');
    const broker = await Broker.open();
    await broker.channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'stream' } });
    return {
      options: {
        url: through?.address === undefined ? RABBITMQ_URL : `amqp://${through.address}`,
        queue,
        queue_type: 'stream',
      },
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
