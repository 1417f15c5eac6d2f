/**
 * Helpers for the `pubsub` package's tests: the stand-in Pub/Sub server (started by the tests
 * themselves; see `test-support-server.ts`), unique names, topics and subscriptions made through
 * the official client, publishing as a producer would, and the source conformance suite. Not a
 * public API.
 */

import { fileURLToPath } from 'node:url';
import { PubSub } from '@google-cloud/pubsub';
import type { Row } from '@sluice/core';
import { sourceConformance } from '@sluice/core/testing';
import { clientConfig } from './connection.ts';
import { pubsubSource } from './source.ts';
import type { PubSubStandIn } from './test-support-server.ts';

export { PubSubStandIn } from './test-support-server.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const PROJECT = 'sluice-test';

let counter = 0;

/** A topic or subscription id no other test of this process uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
}

/** A client of the stand-in, as a producer or an administrator would make it. */
export function standInClient(server: PubSubStandIn): PubSub {
  return new PubSub(clientConfig({ project: PROJECT, api_endpoint: server.endpoint }, REPO_ROOT));
}

/** Creates topic `topic` and, when given, subscription `subscription` on it, through the client. */
export async function createTopic(
  server: PubSubStandIn,
  topic: string,
  subscription?: string,
): Promise<void> {
  const client = standInClient(server);
  try {
    const [created] = await client.createTopic(topic);
    if (subscription !== undefined)
      await created.createSubscription(subscription, { ackDeadlineSeconds: 10 });
  } finally {
    await client.close();
  }
}

/** Publishes each of `payloads` (text, or records as JSON) to `topic` through the client. */
export async function publish(
  server: PubSubStandIn,
  topic: string,
  payloads: readonly (Row | string)[],
  orderingKey?: string,
): Promise<void> {
  const client = standInClient(server);
  try {
    const t = client.topic(topic, { messageOrdering: orderingKey !== undefined });
    await Promise.all(
      payloads.map((p) =>
        t.publishMessage({
          data: Buffer.from(typeof p === 'string' ? p : JSON.stringify(p)),
          ...(orderingKey === undefined ? {} : { orderingKey }),
        }),
      ),
    );
  } finally {
    await client.close();
  }
}

/** The source conformance suite on a fresh topic and subscription of `server` per test. */
export function pubsubSourceConformance(server: PubSubStandIn): void {
  sourceConformance({
    spec: pubsubSource,
    label: 'pubsub (stand-in)',
    baseDir: REPO_ROOT,
    // The service keeps what was acknowledged: a reader without a restored position skips it.
    upstreamPositions: true,
    // The killed pipeline's child process reaches the stand-in of this process by its endpoint.
    plugin: '@sluice/pubsub',
    // Readers of one subscription share its messages; each holds the leases of what it pulled.
    // Small pulls, so that one reader does not take all of the test's input in its first pull.
    sharedWork: { options: (options) => ({ ...options, pull_batch: 16 }) },
    async input() {
      const topic = uniqueName('conformance-in');
      const subscription = `${topic}-sub`;
      await createTopic(server, topic, subscription);
      return {
        options: { project: PROJECT, api_endpoint: server.endpoint, subscription, ack_deadline: '10s' },
        write: (records) => publish(server, topic, records),
        async writeMalformed(count) {
          const bad: string[] = [];
          for (let i = 0; i < count; i++) bad.push(`not json ${i} {`);
          await publish(server, topic, bad);
        },
      };
    },
  });
}
