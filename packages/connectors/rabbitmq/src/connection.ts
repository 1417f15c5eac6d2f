/**
 * Connecting to RabbitMQ for the `rabbitmq` source and sink: one AMQP connection from the config,
 * with failures worded with the URL's credentials hidden.
 */

import { parseDuration, redactUrlCredentials, SluiceError } from '@sluice/core';
import amqp, { type ChannelModel } from 'amqplib';

/** First wait before reconnecting, ms; it grows with each failed attempt up to `RECONNECT_MAX`. */
export const RECONNECT_FIRST = 500;
export const RECONNECT_MAX = 30_000;

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

/** The URL with `username` / `password` from the config put into it (they win over the URL's). */
function urlOf(config: ConnectionConfig): string {
  if (config.username === undefined && config.password === undefined) return config.url;
  const url = new URL(config.url);
  if (config.username !== undefined) url.username = encodeURIComponent(config.username);
  if (config.password !== undefined) url.password = encodeURIComponent(config.password);
  return url.toString();
}

/**
 * Opens one connection. Rejects with `code` (SOURCE_UNAVAILABLE / SINK_UNAVAILABLE, retryable)
 * when the broker cannot be reached or does not answer within `connect_timeout`, and with
 * CONFIG_INVALID when it refuses the login (wrong credentials or vhost), which no retry mends.
 */
export async function connect(
  config: ConnectionConfig,
  ctx: { code: 'SOURCE_UNAVAILABLE' | 'SINK_UNAVAILABLE'; step: string },
): Promise<ChannelModel> {
  const timeout = parseDuration(config.connect_timeout, 'connect_timeout');
  let timer: NodeJS.Timeout | undefined;
  const attempt = amqp.connect(urlOf(config), { timeout });
  try {
    return await Promise.race([
      attempt,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${config.connect_timeout}`)), timeout);
      }),
    ]);
  } catch (err) {
    // A connection that opens after the timeout is closed at once.
    attempt.then((c) => c.close()).catch(() => {});
    const refused = /ACCESS_REFUSED|NOT_ALLOWED|403|530/.test(describeError(err));
    throw new SluiceError(
      refused ? 'CONFIG_INVALID' : ctx.code,
      `cannot connect to RabbitMQ at ${redactUrlCredentials(config.url)}: ${describeError(err)}`,
      { step: ctx.step, path: refused ? 'username' : 'url', cause: err },
    );
  } finally {
    clearTimeout(timer);
  }
}
