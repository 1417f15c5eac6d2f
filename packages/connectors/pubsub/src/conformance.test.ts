/**
 * The core's conformance suites run by the `pubsub` source and sink against the stand-in Pub/Sub
 * server (a gRPC server on loopback that checks the official client's requests; no emulator can
 * run here). The server is started by this file, so nothing is skipped.
 */

import { after, before } from 'node:test';
import type { Row } from '@sluice/core';
import { sinkConformance } from '@sluice/core/testing';
import { pubsubSink } from './sink.ts';
import {
  createTopic,
  PROJECT,
  PubSubStandIn,
  pubsubSourceConformance,
  REPO_ROOT,
  uniqueName,
} from './test-support.ts';

const server = new PubSubStandIn();
before(() => server.start());
after(() => server.stop());

pubsubSourceConformance(server);

sinkConformance({
  spec: pubsubSink,
  label: 'pubsub (stand-in)',
  baseDir: REPO_ROOT,
  // The killed pipeline's child process publishes to this process's stand-in by its endpoint.
  plugin: '@sluice/pubsub',
  // A record without the field an attribute is made of: the sink refuses it.
  refused: { record: { id: 1000, amount: 1 }, reason: /attribute 'name' failed: .*name/ },
  async target() {
    const topic = uniqueName('conformance-out');
    await createTopic(server, topic);
    return {
      options: { project: PROJECT, api_endpoint: server.endpoint, topic, attributes: { name: 'name' } },
      async read() {
        const stored = server.topics.get(`projects/${PROJECT}/topics/${topic}`) ?? [];
        return stored.map((m) => JSON.parse(m.data.toString('utf8')) as Row);
      },
    };
  },
});
