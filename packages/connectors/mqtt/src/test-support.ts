/**
 * Helpers for the `mqtt` package's tests against the machine's Mosquitto: a reachability check
 * that skips (or, under CI, fails), unique names, publishing as a device would, and a subscriber
 * that collects what the sink publishes. Not a public API.
 */

import { fileURLToPath } from 'node:url';
import { type Logger, type Row, silentLogger, systemClock, validateConfig } from '@sluice/core';
import { serviceAvailable, sourceConformance } from '@sluice/core/testing';
import mqtt, { type IClientPublishOptions, type MqttClient } from 'mqtt';
import { mqttSource } from './source.ts';
import type { MqttSourceConfig } from './source-config.ts';
import type { MqttReader } from './source-reader.ts';

export const MQTT_HOST = '127.0.0.1:1883';
export const MQTT_URL = `mqtt://${MQTT_HOST}`;
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/**
 * Whether Mosquitto accepts connections. When it does not: prints "skipped: …" and returns false,
 * or under CI (`CI=true`) throws, so the test file fails instead of skipping.
 */
export function mqttAvailable(): Promise<boolean> {
  return serviceAvailable('mosquitto', MQTT_HOST, 'bash scripts/services.sh status mosquitto');
}

let counter = 0;

/** A name no other test (of this or another process) uses: for topics and client ids. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
}

/** Publishes each payload to `topic` (QoS 1 by default), waiting for the broker's PUBACKs. */
export async function publish(
  topic: string,
  payloads: readonly (string | Buffer)[],
  options: IClientPublishOptions = { qos: 1 },
): Promise<void> {
  const client = await mqtt.connectAsync(MQTT_URL, { protocolVersion: 5, clientId: uniqueName('test-pub') });
  try {
    // One at a time: Mosquitto refuses (quota exceeded) more QoS 1/2 publishes in flight than its
    // receive maximum.
    for (const p of payloads) await client.publishAsync(topic, p, options);
  } finally {
    await client.endAsync();
  }
}

/** A subscriber that keeps every message of a topic filter, as an independent reader. */
export class Collector {
  readonly messages: { topic: string; payload: string; retain: boolean }[] = [];
  readonly #client: MqttClient;

  private constructor(client: MqttClient) {
    this.#client = client;
    client.on('message', (topic, payload, packet) =>
      this.messages.push({ topic, payload: payload.toString(), retain: packet.retain }),
    );
  }

  static async open(filter: string): Promise<Collector> {
    const client = await mqtt.connectAsync(MQTT_URL, {
      protocolVersion: 5,
      clientId: uniqueName('test-sub'),
    });
    const collector = new Collector(client);
    await client.subscribeAsync(filter, { qos: 1 });
    return collector;
  }

  /** The messages so far, once none arrived for `quietMs`. */
  async settled(quietMs = 300): Promise<{ topic: string; payload: string; retain: boolean }[]> {
    let seen = -1;
    while (seen !== this.messages.length) {
      seen = this.messages.length;
      await new Promise((r) => setTimeout(r, quietMs));
    }
    return this.messages;
  }

  close(): Promise<void> {
    return this.#client.endAsync();
  }
}

/** Ends the persistent session of `clientId` on the broker (a clean connect with no expiry). */
export async function dropSession(clientId: string): Promise<void> {
  const client = await mqtt.connectAsync(MQTT_URL, {
    protocolVersion: 5,
    clientId,
    clean: true,
    properties: { sessionExpiryInterval: 0 },
  });
  await client.endAsync();
}

/**
 * Opens the `mqtt` source's reader outside a job with `options` (defaults applied; `url` is the
 * test broker), resuming from `restored` when given, and waits until the broker answered its
 * subscription (so that what is published next reaches it), unless `early`.
 */
export async function openMqttReader(
  options: { [k: string]: unknown },
  extra: {
    restored?: unknown;
    log?: Logger;
    requestCheckpoint?: () => void;
    /** Resolve before the broker answered the subscription (default: after). */
    early?: boolean;
  } = {},
): Promise<MqttReader> {
  const checked = validateConfig<MqttSourceConfig>(mqttSource.config, { url: MQTT_URL, ...options });
  if (!checked.ok) throw new Error(`invalid mqtt config: ${JSON.stringify(checked.issues)}`);
  const restored: { [partition: string]: unknown } = {};
  if (extra.restored !== undefined) restored.mqtt = extra.restored;
  const readers = await mqttSource.create(checked.value).open({
    id: 'in',
    restored,
    clock: systemClock,
    baseDir: process.cwd(),
    signal: new AbortController().signal,
    log: extra.log ?? silentLogger,
    requestCheckpoint: extra.requestCheckpoint,
  });
  const reader = readers[0] as MqttReader;
  if (!extra.early) await reader.subscribed;
  return reader;
}
/**
 * Registers the source conformance suite for subscriptions at `qos`. One call per test file: the
 * suite names its memory stores by source type and a counter of its own, so two calls in one
 * process would share them.
 */
export function mqttSourceConformance(qos: 0 | 1 | 2, skip: string | false): void {
  sourceConformance({
    spec: mqttSource,
    label: `mqtt qos ${qos}`,
    skip,
    baseDir: REPO_ROOT,
    // The broker keeps the session's unacknowledged messages: a reader opened without a restored
    // position gets what no commit acknowledged, and nothing a commit did.
    upstreamPositions: true,
    timeoutMs: 10_000,
    server: MQTT_HOST,
    plugin: '@sluice/mqtt',
    // A shared subscription: each worker a session of its own in one share group.
    sharedWork: {
      options: (options, worker) => ({
        ...options,
        topics: (options.topics as string[]).map((t) => `$share/conformance/${t}`),
        client_id: `${String(options.client_id)}-w${worker}`,
      }),
    },
    async input(through) {
      const topic = uniqueName('conformance/in');
      const clientId = uniqueName('conformance-source');
      // The session and its subscription exist before anything is published, as for a pipeline
      // that has run before.
      await (await openMqttReader({ topics: [topic], client_id: clientId, qos })).close();
      return {
        options: {
          url: through?.address === undefined ? MQTT_URL : `mqtt://${through.address}`,
          topics: [topic],
          client_id: clientId,
          qos,
        },
        async write(records: readonly Row[]) {
          await publish(
            topic,
            records.map((r) => JSON.stringify(r)),
            { qos },
          );
        },
        async writeMalformed(count: number) {
          await publish(
            topic,
            Array.from({ length: count }, (_, i) => `{"id": ${i}, not json`),
            { qos },
          );
        },
        async dispose() {
          await dropSession(clientId);
        },
      };
    },
  });
}
