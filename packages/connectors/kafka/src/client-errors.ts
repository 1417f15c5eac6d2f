/**
 * Connection options and error handling of the Kafka client wrapper: library options from
 * Sluice's connection fields, and library errors turned into SluiceErrors — permanent ones
 * (authentication, authorization) apart from retryable ones, secrets scrubbed from messages.
 */

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type BaseOptions, GenericError } from '@platformatic/kafka';
import { SluiceError } from '@sluice/core';
import type { SaslOptions, TlsOptions } from './connection.ts';

/** The connection fields of a Kafka component (see `connection.ts`). */
export interface ConnectionConfig {
  brokers: string[];
  client_id: string;
  tls?: TlsOptions;
  sasl?: SaslOptions;
}

/** Library client options (brokers, TLS, SASL, timeouts) from Sluice's connection fields. */
export function clientOptions(config: ConnectionConfig, baseDir: string, step: string): BaseOptions {
  const options: BaseOptions = {
    clientId: config.client_id,
    bootstrapBrokers: config.brokers,
    connectTimeout: 5_000,
    timeout: 10_000,
    // The library retries briefly; Sluice's own loops retry for good with capped backoff.
    retries: 2,
    retryDelay: 250,
  };
  const tls = config.tls;
  if (tls?.enabled) {
    const read = (file: string | undefined, path: string) => {
      if (file === undefined) return undefined;
      try {
        return readFileSync(resolve(baseDir, file));
      } catch (err) {
        throw new SluiceError('CONFIG_INVALID', `cannot read ${path} '${file}': ${(err as Error).message}`, {
          step,
          path,
          cause: err,
        });
      }
    };
    options.tls = { rejectUnauthorized: tls.reject_unauthorized };
    const ca = read(tls.ca, 'tls.ca');
    const cert = read(tls.cert, 'tls.cert');
    const key = read(tls.key, 'tls.key');
    if (ca) options.tls.ca = ca;
    if (cert) options.tls.cert = cert;
    if (key) options.tls.key = key;
  }
  if (config.sasl) {
    options.sasl = {
      mechanism: config.sasl.mechanism,
      username: config.sasl.username,
      password: config.sasl.password,
    };
  }
  return options;
}

/** Secret strings of a connection config, to scrub from messages. */
export function connectionSecrets(config: ConnectionConfig): string[] {
  const secrets: string[] = [];
  if (config.sasl?.password) secrets.push(config.sasl.password);
  return secrets;
}

/** `message` with every secret replaced by `***`. */
export function scrub(message: string, secrets: readonly string[]): string {
  let out = message;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join('***');
  return out;
}

/** Kafka error names that no retry can fix: wrong credentials, missing ACLs, bad config. */
const PERMANENT = new Set([
  'SASL_AUTHENTICATION_FAILED',
  'UNSUPPORTED_SASL_MECHANISM',
  'ILLEGAL_SASL_STATE',
  'TOPIC_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'INVALID_GROUP_ID',
  'INVALID_SESSION_TIMEOUT',
  'INCONSISTENT_GROUP_PROTOCOL',
  'GROUP_MAX_SIZE_REACHED',
  'FENCED_INSTANCE_ID',
  'UNSUPPORTED_VERSION',
]);

/** Every library error inside `err` (it nests them in `errors` and `cause`). */
function* nested(err: unknown, depth = 0): Generator<Error> {
  if (!(err instanceof Error) || depth > 6) return;
  yield err;
  const inner = (err as { errors?: unknown }).errors;
  if (Array.isArray(inner)) for (const e of inner) yield* nested(e, depth + 1);
  if (err.cause !== undefined) yield* nested(err.cause, depth + 1);
}

/** The Kafka error name (`apiId`) of the first protocol error inside `err`, if any. */
export function kafkaErrorName(err: unknown): string | undefined {
  for (const e of nested(err)) {
    const id = (e as { apiId?: unknown }).apiId;
    if (typeof id === 'string') return id;
  }
  return undefined;
}

/** Whether `err` (or an error inside it) is one no retry can fix. */
export function isPermanent(err: unknown): boolean {
  for (const e of nested(err)) {
    const id = (e as { apiId?: unknown }).apiId;
    if (typeof id === 'string' && PERMANENT.has(id)) return true;
    if (GenericError.isGenericError(e) && e.code === 'PLT_KFK_AUTHENTICATION') return true;
  }
  return false;
}

/** The most specific message inside a library error, secrets scrubbed. */
export function describeKafkaError(err: unknown, secrets: readonly string[]): string {
  const parts: string[] = [];
  for (const e of nested(err)) {
    const id = (e as { apiId?: unknown }).apiId;
    const message = e.message.replace(/\.$/, '');
    const text = typeof id === 'string' ? `${id} (${message})` : message;
    if (text && !parts.includes(text)) parts.push(text);
    if (parts.length >= 5) break;
  }
  return scrub(parts.join(': ') || String(err), secrets);
}

/**
 * Wraps a library error: permanent ones (auth, ACLs) as CONFIG_INVALID, the rest as the
 * retryable SOURCE_UNAVAILABLE. The message never contains a secret; the original is the cause.
 */
export function toSourceError(
  err: unknown,
  what: string,
  step: string,
  secrets: readonly string[],
): SluiceError {
  if (err instanceof SluiceError) return err;
  const detail = describeKafkaError(err, secrets);
  if (isPermanent(err)) {
    return new SluiceError('CONFIG_INVALID', `${what}: ${detail}; check the credentials, ACLs and options`, {
      step,
      cause: err,
    });
  }
  return new SluiceError('SOURCE_UNAVAILABLE', `${what}: ${detail}`, { step, cause: err });
}
