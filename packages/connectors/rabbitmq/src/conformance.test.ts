/**
 * The core's conformance suites run by the `rabbitmq` source (a classic queue) against the
 * machine's RabbitMQ: skipped with a reason when it is not reachable, a failure under CI=true.
 */

import type { Row } from '@sluice/core';
import { sourceConformance } from '@sluice/core/testing';
import { rabbitmqSource } from './source.ts';
import { Broker, RABBITMQ_URL, REPO_ROOT, rabbitmqAvailable, uniqueName } from './test-support.ts';

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
  async input() {
    const queue = uniqueName('conformance');
    const broker = await Broker.open();
    await broker.channel.assertQueue(queue, { durable: true });
    return {
      options: { url: RABBITMQ_URL, queue },
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
