/**
 * Connecting to NATS for the `nats` source, sink and lookup: client options from the config, a
 * capped exponential reconnect backoff, and failures worded with credentials hidden.
 */

import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { ErrorCode } from '@sluice/core';
import { backoffDelay, type Logger, parseDuration, redactUrlCredentials, SluiceError } from '@sluice/core';

/**
 * First wait before reconnecting, ms; it grows with each failed attempt up to `RECONNECT_MAX`,
 * kept short so that a pipeline resumes within seconds of the server's return (a connection
 * attempt to a server that is down costs next to nothing).
 */
const RECONNECT_FIRST = 250;
const RECONNECT_MAX = 5_000;

/** The connection options the source, the sink and the lookup have (see `connectionFields`). */
export interface ConnectionConfig {
  readonly servers: readonly string[];
  readonly username?: string;
  readonly password?: string;
  readonly token?: string;
  readonly connect_timeout: string;
}

/** A foreign error's message with credentials hidden. */
export function describeError(err: unknown): string {
  return redactUrlCredentials(err instanceof Error ? err.message : String(err));
}

/**
 * Connects and resolves once a server accepted the connection. Rejects with `code` (an
 * `*_UNAVAILABLE` code) when no server answers within `connect_timeout`. After that the client
 * reconnects by itself for as long as it is open, waiting longer after each failed attempt
 * (capped exponential backoff with jitter, 0.25 s to 5 s; a connection resets it), and logs
 * each disconnect and reconnect.
 */
export async function connectNats(
  config: ConnectionConfig,
  ctx: { code: ErrorCode; step: string; log: Logger; kind: string },
): Promise<NatsConnection> {
  const timeout = parseDuration(config.connect_timeout, 'connect_timeout');
  let attempt = 0;
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: [...config.servers],
      timeout,
      name: `sluice-${ctx.kind}-${ctx.step}`,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectDelayHandler: () =>
        Math.max(RECONNECT_FIRST, backoffDelay(++attempt, RECONNECT_FIRST, RECONNECT_MAX)),
      ...(config.username === undefined ? {} : { user: config.username }),
      ...(config.password === undefined ? {} : { pass: config.password }),
      ...(config.token === undefined ? {} : { token: config.token }),
    });
  } catch (err) {
    throw new SluiceError(
      ctx.code,
      `cannot connect to NATS at ${config.servers.map(redactUrlCredentials).join(', ')}: ${describeError(err)}`,
      { step: ctx.step, path: 'servers', cause: err },
    );
  }
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect')
        ctx.log.warn(`nats: connection lost; reconnecting`, {
          [ctx.kind]: ctx.step,
          server: redactUrlCredentials(String(s.server)),
        });
      else if (s.type === 'reconnect') {
        attempt = 0;
        ctx.log.info('nats: reconnected', { [ctx.kind]: ctx.step });
      }
    }
  })().catch(() => {});
  return nc;
}

/** Closes a connection, flushing what it has queued; never throws. */
export async function closeNats(nc: NatsConnection): Promise<void> {
  if (nc.isClosed()) return;
  try {
    await nc.flush();
  } catch {
    // Closed or disconnected: nothing more to send.
  }
  await nc.close().catch(() => {});
}
