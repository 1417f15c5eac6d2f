/**
 * The core's conformance suites run by the `mqtt` source (QoS 1; QoS 2 in its own file) and sink
 * (QoS 1 and 2) against the machine's Mosquitto: skipped with a reason when it is not reachable,
 * a failure under CI=true.
 */

import type { Row } from '@sluice/core';
import { sinkConformance } from '@sluice/core/testing';
import { mqttSink } from './sink.ts';
import {
  Collector,
  MQTT_HOST,
  MQTT_URL,
  mqttAvailable,
  mqttSourceConformance,
  REPO_ROOT,
  uniqueName,
} from './test-support.ts';

const available = await mqttAvailable();
const skip = available ? false : 'mosquitto not reachable at 127.0.0.1:1883';

mqttSourceConformance(1, skip);

for (const qos of [1, 2] as const) {
  sinkConformance({
    spec: mqttSink,
    label: `mqtt qos ${qos}`,
    skip,
    baseDir: REPO_ROOT,
    // A record without the field its topic expression reads: the sink refuses it.
    refused: { record: { id: 1000, amount: 1 }, reason: /topic_expression failed: field 'name'/ },
    server: MQTT_HOST,
    plugin: '@sluice/mqtt',
    async target({ address }) {
      const base = uniqueName('conformance/out');
      const collector = await Collector.open(`${base}/#`);
      return {
        options: {
          url: address === undefined ? MQTT_URL : `mqtt://${address}`,
          topic_expression: `'${base}/' || name`,
          qos,
        },
        async read() {
          const messages = await collector.settled();
          return messages.map((m) => JSON.parse(m.payload) as Row);
        },
        dispose: () => collector.close(),
      };
    },
    async secret() {
      const secret = `s3cret-${process.pid}`;
      return {
        options: {
          url: `mqtt://sluice:${secret}@127.0.0.1:1`,
          password: secret,
          topic: 'never',
          connect_timeout: '1s',
          retry: { max_attempts: 2, initial_backoff: '10ms' },
        },
        secret,
      };
    },
  });
}
