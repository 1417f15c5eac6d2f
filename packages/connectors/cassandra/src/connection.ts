/**
 * One `cassandra-driver` client per component: made from the shared options, and the driver's
 * errors sorted into what a sink or lookup does with them.
 */

import { type Logger, parseDuration, SluiceError } from '@sluice/core';
import cassandra from 'cassandra-driver';
import type { Static } from 'typebox';
import type { connectionFields } from './connection-config.ts';

type Fields = typeof connectionFields;
/** The connection options, as a validated config holds them. */
export interface ConnectionConfig {
  readonly contact_points: Static<Fields['contact_points']>;
  readonly local_datacenter: string;
  readonly keyspace: string;
  readonly table: string;
  readonly username?: string;
  readonly password?: string;
  readonly consistency: Static<Fields['consistency']>;
  readonly connect_timeout: string;
  readonly request_timeout: string;
}

export type Client = cassandra.Client;

const CONSISTENCY: { readonly [name in ConnectionConfig['consistency']]: number } = {
  any: cassandra.types.consistencies.any,
  one: cassandra.types.consistencies.one,
  two: cassandra.types.consistencies.two,
  three: cassandra.types.consistencies.three,
  quorum: cassandra.types.consistencies.quorum,
  all: cassandra.types.consistencies.all,
  local_quorum: cassandra.types.consistencies.localQuorum,
  each_quorum: cassandra.types.consistencies.eachQuorum,
  local_one: cassandra.types.consistencies.localOne,
};

/** The driver's consistency code for a config's `consistency`. */
export function consistencyOf(config: ConnectionConfig): number {
  return CONSISTENCY[config.consistency];
}

/** Checks the durations (no I/O); throws CONFIG_INVALID. */
export function checkConnection(config: ConnectionConfig): void {
  parseDuration(config.connect_timeout, 'connect_timeout');
  parseDuration(config.request_timeout, 'request_timeout');
  if ((config.username === undefined) !== (config.password === undefined))
    throw new SluiceError('CONFIG_INVALID', '`username` and `password` go together: give both or neither', {
      path: config.username === undefined ? 'username' : 'password',
    });
}

/**
 * A client for `config`, not yet connected. The driver's own retries stay at its defaults
 * (a request is tried on another node when one times out); the component's retry decides the rest.
 */
export function createClient(config: ConnectionConfig, name: string, log: Logger): Client {
  const client = new cassandra.Client({
    contactPoints: [...config.contact_points],
    localDataCenter: config.local_datacenter,
    applicationName: name,
    credentials:
      config.username !== undefined && config.password !== undefined
        ? { username: config.username, password: config.password }
        : undefined,
    socketOptions: {
      connectTimeout: parseDuration(config.connect_timeout, 'connect_timeout'),
      readTimeout: parseDuration(config.request_timeout, 'request_timeout'),
    },
    queryOptions: { consistency: consistencyOf(config), prepare: true },
  });
  client.on('log', (level: string, where: string, message: string) => {
    if (level === 'warning') log.warn(`cassandra driver: ${message}`, { where });
  });
  return client;
}

/** What to do about a failure: try again, refuse the record(s) it is about, or stop. */
export type FailureKind = 'transient' | 'record' | 'setup';

const codes = cassandra.types.responseErrorCodes;
const TRANSIENT_CODES = new Set<number>([
  codes.serverError,
  codes.overloaded,
  codes.isBootstrapping,
  codes.unavailableException,
  codes.writeTimeout,
  codes.readTimeout,
  codes.truncateError,
  codes.writeFailure,
  codes.readFailure,
]);
const SETUP_CODES = new Set<number>([
  codes.badCredentials,
  codes.unauthorized,
  codes.syntaxError,
  codes.configError,
  codes.alreadyExists,
  codes.protocolError,
]);

/**
 * Sorts a driver failure: no node reachable, timeouts, overload and unavailable replicas are
 * transient; a value the driver cannot encode for its column (a TypeError) or one the server
 * refuses as invalid is the record's; credentials, permissions and schema errors are setup.
 */
export function failureKind(err: unknown): FailureKind {
  if (err instanceof cassandra.errors.NoHostAvailableError) {
    const inner = Object.values(err.innerErrors ?? {});
    if (inner.length > 0 && inner.every((e) => e instanceof cassandra.errors.AuthenticationError))
      return 'setup';
    return 'transient';
  }
  if (err instanceof cassandra.errors.OperationTimedOutError) return 'transient';
  if (err instanceof cassandra.errors.AuthenticationError) return 'setup';
  if (err instanceof cassandra.errors.ResponseError) {
    if (TRANSIENT_CODES.has(err.code)) return 'transient';
    if (SETUP_CODES.has(err.code)) return 'setup';
    if (err.code === codes.invalid) return 'record';
    return 'setup';
  }
  if (err instanceof TypeError || err instanceof RangeError) return 'record';
  if (err instanceof cassandra.errors.DriverInternalError) return 'transient';
  if (err instanceof Error && /socket|ECONNRESET|ECONNREFUSED|EPIPE|closed/i.test(err.message))
    return 'transient';
  return 'setup';
}

/** The failure's message, without the secrets the driver never puts there anyway (it knows no URL). */
export function describeError(err: unknown): string {
  if (err instanceof cassandra.errors.NoHostAvailableError) {
    const inner = Object.entries(err.innerErrors ?? {}).map(
      ([host, e]) => `${host}: ${e instanceof Error ? e.message : String(e)}`,
    );
    return inner.length > 0 ? `no node reachable (${inner.join('; ')})` : err.message;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Ends the client's connections; never throws. */
export async function shutdown(client: Client | undefined): Promise<void> {
  await client?.shutdown().catch(() => {});
}
