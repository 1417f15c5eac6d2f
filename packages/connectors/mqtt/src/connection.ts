/**
 * Connecting to the broker for the `mqtt` source and sink: client options from the config, and
 * failures worded with the URL's credentials hidden.
 */

import { backoffDelay, parseDuration, redactUrlCredentials, SluiceError } from '@sluice/core';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

/** First wait before reconnecting, ms; it grows with each failed attempt up to `RECONNECT_MAX`. */
const RECONNECT_FIRST = 500;
const RECONNECT_MAX = 30_000;

/** The connection options both the source and the sink have (see `connectionFields`). */
export interface ConnectionConfig {
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  readonly connect_timeout: string;
}

/** A foreign error's message with credentials hidden. */
export function describeError(err: unknown): string {
  return redactUrlCredentials(err instanceof Error ? err.message : String(err));
}

/**
 * Connects a client and resolves once the broker accepted it (CONNACK). Rejects with
 * SOURCE_UNAVAILABLE / SINK_UNAVAILABLE (`code`) when the broker cannot be reached or refuses
 * within `connect_timeout`; the client is then closed. After that the client reconnects by itself
 * when the connection drops, waiting longer after each failed attempt (capped exponential backoff
 * with jitter, 0.5 s to 30 s). `setup` is called with the client before it
 * receives anything.
 */
export async function connectClient(
  config: ConnectionConfig,
  options: IClientOptions,
  ctx: { code: 'SOURCE_UNAVAILABLE' | 'SINK_UNAVAILABLE'; step: string },
  setup?: (client: MqttClient) => void,
): Promise<MqttClient> {
  const timeout = parseDuration(config.connect_timeout, 'connect_timeout');
  const client = mqtt.connect(config.url, {
    protocolVersion: 5,
    connectTimeout: timeout,
    reconnectPeriod: RECONNECT_FIRST,
    ...(config.username === undefined ? {} : { username: config.username }),
    ...(config.password === undefined ? {} : { password: config.password }),
    ...options,
  });
  setup?.(client);
  // The client reconnects by itself every `reconnectPeriod` ms; make that a capped exponential
  // backoff with jitter: each attempt lengthens the wait before the next, a connection resets it.
  let attempt = 0;
  client.on('reconnect', () => {
    attempt++;
    client.options.reconnectPeriod = Math.max(
      RECONNECT_FIRST,
      backoffDelay(attempt + 1, RECONNECT_FIRST, RECONNECT_MAX),
    );
  });
  client.on('connect', () => {
    attempt = 0;
    client.options.reconnectPeriod = RECONNECT_FIRST;
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no answer within ${config.connect_timeout}`)),
        timeout,
      );
      const done = (err?: Error) => {
        clearTimeout(timer);
        client.off('connect', onConnect);
        client.off('error', onError);
        if (err) reject(err);
        else resolve();
      };
      const onConnect = () => done();
      const onError = (err: Error) => done(err);
      client.once('connect', onConnect);
      client.on('error', onError);
    });
  } catch (err) {
    client.end(true);
    throw new SluiceError(
      ctx.code,
      `cannot connect to the MQTT broker at ${config.url}: ${describeError(err)}`,
      { step: ctx.step, path: 'url', cause: err },
    );
  }
  return client;
}
