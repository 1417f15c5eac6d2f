/**
 * The `mqtt` source: subscribes with a persistent session and acknowledges QoS 1/2 messages only
 * after the checkpoint that covers them is durable.
 */

import {
  defineSource,
  parseDuration,
  SluiceError,
  type SourceContext,
  type SourceReader,
} from '@sluice/core';
import type { IPublishPacket, ISubscriptionMap } from 'mqtt';
import { connectClient, describeError } from './connection.ts';
import { checkInternals, DEFERRED } from './library-internals.ts';
import { type MqttSourceConfig, mqttSourceConfig } from './source-config.ts';
import { MqttReader } from './source-reader.ts';

/** The client id a source without `client_id` uses: stable across restarts of its pipeline. */
export function defaultClientId(ctx: Pick<SourceContext, 'id' | 'pipeline'>): string {
  return `sluice-${ctx.pipeline ?? 'embedded'}-${ctx.id}`.slice(0, 128);
}

async function open(
  config: MqttSourceConfig,
  sessionExpiry: number,
  ctx: SourceContext,
): Promise<SourceReader[]> {
  const clientId = config.client_id ?? defaultClientId(ctx);
  const reader = new MqttReader(
    {
      partition: 'mqtt',
      payload: { format: config.format, maxDepth: config.max_depth, invalidUtf8: config.invalid_utf8 },
      metadata: config.metadata,
      window: config.receive_maximum,
    },
    ctx,
    ctx.restored.mqtt,
  );
  // Messages the broker resends as soon as it accepts the session arrive before `connect`
  // resolves: the handlers are in place from the start.
  const client = await connectClient(
    config,
    {
      clientId,
      clean: false,
      properties: { sessionExpiryInterval: sessionExpiry, receiveMaximum: config.receive_maximum },
      customHandleAcks: (_topic: string, _payload: Buffer, packet: IPublishPacket, answer) => {
        reader.take(packet);
        reader.whenRoom(() => answer(DEFERRED));
      },
      resubscribe: true,
    },
    { code: 'SOURCE_UNAVAILABLE', step: ctx.id },
    (client) => {
      // QoS 0 messages: taken here; the connection handles its next packet once there is room.
      client.on('message', (_topic, _payload, packet) => {
        // QoS 1/2 messages come through `customHandleAcks`; a QoS 2 one comes here again at PUBREL.
        if (packet.qos === 0) reader.take(packet);
      });
      client.handleMessage = (packet, done) => {
        if (packet.qos === 0) reader.whenRoom(() => done());
        else done();
      };
    },
  );
  try {
    checkInternals(client);
  } catch (err) {
    client.end(true);
    throw err;
  }
  reader.attach(client);
  client.on('error', (err) => {
    if (err === DEFERRED) return;
    ctx.log.warn('mqtt: connection error; reconnecting', { source: ctx.id, error: describeError(err) });
  });
  client.on('offline', () => ctx.log.warn('mqtt: broker connection lost; reconnecting', { source: ctx.id }));
  client.on('close', () => reader.connectionClosed());
  // Not awaited: a session the broker kept sends its queued messages before the SUBACK, and when
  // they fill the buffer the connection waits for reads, which start only once `open` returns.
  // A refused subscription fails the reader's next read.
  const subscriptions: ISubscriptionMap = {};
  // rh 1: retained messages only when the subscription is new, not on every restart.
  for (const topic of config.topics) subscriptions[topic] = { qos: config.qos, rh: 1 };
  client.subscribe(subscriptions, (err, granted) => {
    reader.subscriptionAnswered();
    const refused = (granted ?? []).filter((g) => g.qos > 2);
    if (err === null && refused.length === 0) return;
    const why =
      err ??
      new Error(`the broker refused the subscription to ${refused.map((g) => `'${g.topic}'`).join(', ')}`);
    reader.fail(
      new SluiceError('CONFIG_INVALID', `mqtt: ${describeError(why)}`, {
        step: ctx.id,
        path: 'topics',
        cause: why,
      }),
    );
  });
  return [reader];
}

/** The `mqtt` source spec. */
export const mqttSource = defineSource({
  type: 'mqtt',
  summary:
    'Subscribes to MQTT topics with a persistent session, acknowledging messages after the checkpoint.',
  // The session (client id) and the subscriptions decide what the broker delivers; the URL may
  // change (new credentials, another address of the same broker).
  identity: ['topics', 'client_id'],
  delivery: { option: 'qos', values: { '0': 'at-most-once', '1': 'at-least-once', '2': 'at-least-once' } },
  description: [
    'Connects with MQTT 5 under `client_id` with a persistent session (`clean: false`, session',
    'expiry `session_expiry`) and subscribes to `topics` at `qos`. The broker keeps the session',
    'while Sluice is down, so QoS 1/2 messages published meanwhile arrive after it restarts (up to',
    'the broker’s queue limit: Mosquitto’s `max_queued_messages`, 1000 by default, drops the rest).',
    'A retained message is delivered when a subscription is first made, not again on a restart.',
    '',
    'Delivery. QoS 1 and 2: at-least-once. A message is acknowledged (PUBACK, or PUBREC for QoS 2)',
    'only once the checkpoint covering its record is durable; after a crash the broker redelivers',
    'every message not acknowledged, and those the restored checkpoint already covers are',
    'acknowledged and skipped, so records read after the last checkpoint are read again but none',
    'before it. The broker sends at most `receive_maximum` unacknowledged messages: when half of',
    'that window has been read the source asks for an early checkpoint, and meanwhile the broker',
    'holds the rest back (backpressure). QoS 0: at-most-once — the broker never redelivers, so',
    'messages buffered or in flight at a crash are lost.',
    '',
    'Each message payload is one record (`format`); a payload that does not decode goes to the',
    'dead-letter output with the reason and its topic, and its message is acknowledged with the',
    'checkpoint like the others. With `metadata` each record gets `_mqtt: { topic, qos, retain,',
    'user_properties }`. The batch times are the times messages were read; set the pipeline’s',
    '`event_time` to take the time from a field. Several workers share the work with a shared',
    'subscription (`$share/<group>/<filter>`), each with its own `client_id`. When the connection',
    'drops the client reconnects by itself with capped exponential backoff (0.5 s to 30 s, with',
    'jitter); the broker then resends what is unacknowledged, and what was read already is not read',
    'again.',
  ].join('\n'),
  example: [
    'type: mqtt',
    'url: mqtt://127.0.0.1:1883',
    "topics: ['sensors/+/readings']",
    'qos: 1',
    'client_id: sluice-sensors',
  ].join('\n'),
  config: mqttSourceConfig,
  create(config) {
    // Checked here, so that a bad duration fails before anything connects.
    const sessionExpiry = Math.floor(parseDuration(config.session_expiry, 'session_expiry') / 1000);
    parseDuration(config.connect_timeout, 'connect_timeout');
    return {
      open(ctx: SourceContext): Promise<SourceReader[]> {
        return open(config, sessionExpiry, ctx);
      },
    };
  },
});
