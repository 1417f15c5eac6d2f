/**
 * Connections to Redis for the sink, the lookup and the source: one client per component, which
 * reconnects by itself (capped backoff) once open; errors told apart as a refusal of one command
 * (for good) or an outage (retried).
 */

import { type Logger, parseDuration, SluiceError } from '@sluice/core';
import { createClient, ErrorReply } from 'redis';

/** A connected client; commands are sent as argument lists (`sendCommand`). */
export type RedisClient = ReturnType<typeof createClient>;

/** The longest wait between two reconnection attempts of an open client (ms). */
const MAX_RECONNECT_DELAY = 2000;

/**
 * Error replies that say the server cannot answer now, not that the command is wrong: loading its
 * data, busy with a script, out of memory, a replica that cannot write, a cluster reconfiguring.
 */
const TRANSIENT_REPLIES =
  /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|OOM|NOREPLICAS|MOVED|ASK)\b/;

/** Error replies about the connection's credentials or permissions: the config is wrong. */
const SETUP_REPLIES = /^(NOAUTH|WRONGPASS|NOPERM)\b/;

/**
 * What a failure of one command means: `refused` — the server refused this command for good
 * (WRONGTYPE, a syntax error): the record goes to the dead letters; `setup` — credentials or
 * permissions; `transient` — the connection or the server's state: try again.
 */
export function failureKind(err: unknown): 'refused' | 'setup' | 'transient' {
  return err instanceof ErrorReply ? replyKind(err.message) : 'transient';
}

/** What an error reply (its text, `WRONGTYPE …`) means, as `failureKind`. */
export function replyKind(message: string): 'refused' | 'setup' | 'transient' {
  if (SETUP_REPLIES.test(message)) return 'setup';
  return TRANSIENT_REPLIES.test(message) ? 'transient' : 'refused';
}

/** The message of an error, without the URL (which may hold a password). */
export function describeError(err: unknown, url?: string): string {
  let text = err instanceof Error ? err.message || err.name : String(err);
  if (err instanceof AggregateError && err.errors.length > 0) text = describeError(err.errors[0], url);
  if (url) text = text.split(url).join('(url)');
  return text;
}

/** Where a URL points, without its credentials: for log lines. */
export function endpointOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '6379'}${u.pathname}`;
  } catch {
    return '(unparsed url)';
  }
}

export interface ConnectOptions {
  url: string;
  connect_timeout: string;
  reply_timeout: string;
}

/**
 * Opens a client and waits until it is ready. The first connection is tried once (the caller
 * retries it under its policy); once open, the client reconnects by itself after a lost
 * connection, waiting up to 2 s between attempts, and after `reply_timeout` without an expected
 * reply. Commands sent while it is disconnected fail at once (no offline queue): the caller's retries decide how long to wait. Rejects with a
 * SluiceError of `code` (CONFIG_INVALID for credentials) that names no secret.
 */
export async function connect(
  config: ConnectOptions,
  what: {
    code: 'SINK_UNAVAILABLE' | 'SOURCE_UNAVAILABLE' | 'LOOKUP_UNAVAILABLE';
    step: string;
    name: string;
  },
  log: Logger,
): Promise<RedisClient> {
  let open = false;
  // A server that accepts commands and never answers: the socket times out, the waiting commands
  // fail (transient), and the client connects again; PINGs keep an idle connection from timing out.
  const replyTimeout = Math.max(1000, parseDuration(config.reply_timeout, 'reply_timeout'));
  const client = createClient({
    url: config.url,
    name: what.name.replace(/\s/g, '_'),
    disableOfflineQueue: true,
    disableClientInfo: true,
    pingInterval: Math.floor(replyTimeout / 3),
    socket: {
      socketTimeout: replyTimeout,
      connectTimeout: parseDuration(config.connect_timeout, 'connect_timeout'),
      reconnectStrategy: (retries) =>
        open ? Math.min(MAX_RECONNECT_DELAY, 50 * 2 ** Math.min(retries, 10)) : false,
    },
  });
  let lastWarning = 0;
  client.on('error', (err: unknown) => {
    // Logged at most once a second: a client reconnecting in a loop reports each attempt.
    if (!open || Date.now() - lastWarning < 1000) return;
    lastWarning = Date.now();
    log.warn('redis: connection error; reconnecting', {
      step: what.step,
      error: describeError(err, config.url),
    });
  });
  try {
    await client.connect();
  } catch (err) {
    destroy(client);
    const kind = failureKind(err);
    throw new SluiceError(
      kind === 'setup' ? 'CONFIG_INVALID' : what.code,
      `cannot connect to Redis at ${endpointOf(config.url)}: ${describeError(err, config.url)}`,
      { step: what.step, path: kind === 'setup' ? 'url' : undefined },
    );
  }
  open = true;
  return client as RedisClient;
}

/** Closes a client, waiting for the replies still due; destroys it when that fails. */
export async function disconnect(client: RedisClient | undefined): Promise<void> {
  if (client === undefined) return;
  try {
    if (client.isOpen) await client.close();
  } catch {
    destroy(client);
  }
}

/** Drops a client's connection at once; a client that is closed already is left as it is. */
export function destroy(client: { isOpen: boolean; destroy(): void } | undefined): void {
  if (client?.isOpen) client.destroy();
}
