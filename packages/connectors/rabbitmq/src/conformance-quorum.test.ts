/**
 * The core's source conformance suite run by the `rabbitmq` source on a quorum queue it declares
 * itself (`declare: true`), against the machine's RabbitMQ, kill -9 and an outage included.
 */

import type { Row } from '@sluice/core';
import { sourceConformance } from '@sluice/core/testing';
import { rabbitmqSource } from './source.ts';
import {
  Broker,
  openRabbitmqReader,
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
  label: 'rabbitmq quorum queue',
  skip,
  baseDir: REPO_ROOT,
  upstreamPositions: true,
  timeoutMs: 10_000,
  // kill -9 and an outage at a proxy, as on a classic queue.
  server: RABBITMQ_HOST,
  plugin: '@sluice/rabbitmq',
  // Competing consumers, as on a classic queue.
  sharedWork: {},
  async input(through) {
    const queue = uniqueName('conformance-quorum');
    const options = { url: RABBITMQ_URL, queue, declare: true, queue_type: 'quorum' };
    // Declared by the source, before anything is published, as for a pipeline that has run before.
    await (await openRabbitmqReader(options)).close();
    if (through?.address !== undefined) options.url = `amqp://${through.address}`;
    const broker = await Broker.open();
    return {
      options,
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
