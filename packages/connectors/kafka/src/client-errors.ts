/**
 * Connection options and error handling of the Kafka client wrapper: library options from
 * Sluice's connection fields, and library errors turned into SluiceErrors — permanent ones
 * (authentication, authorization) apart from retryable ones, secrets scrubbed from messages.
 */

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { BaseOptions } from '@platformatic/kafka';
import { redactUrlCredentials, SluiceError } from '@sluice/core';
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

/** `message` with every secret, and the credentials of every URL, replaced by `***`. */
export function scrub(message: string, secrets: readonly string[]): string {
  let out = redactUrlCredentials(message);
  for (const s of secrets) if (s.length > 0) out = out.split(s).join('***');
  return out;
}

/** Kafka error names that no retry can fix: missing ACLs, bad config (SASL ones: below). */
const PERMANENT = new Set([
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

/** Node's codes for a broker certificate that does not verify against the trusted CAs. */
const TLS_UNVERIFIED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
  'INVALID_PURPOSE',
]);

const SASL_FAILED = new Set([
  'SASL_AUTHENTICATION_FAILED',
  'UNSUPPORTED_SASL_MECHANISM',
  'ILLEGAL_SASL_STATE',
]);

/** What a failure no retry can fix is about: the config path to look at, and what to do. */
export interface PermanentFailure {
  path?: string;
  hint: string;
}

/**
 * Whether `err` (or an error inside it) is one no retry can fix — wrong credentials, a broker
 * certificate that does not verify, missing ACLs, bad options — and what to fix; undefined when
 * a retry may help.
 */
export function permanentFailure(err: unknown): PermanentFailure | undefined {
  for (const e of nested(err)) {
    const id = (e as { apiId?: unknown }).apiId;
    const code = (e as { code?: unknown }).code;
    if ((typeof id === 'string' && SASL_FAILED.has(id)) || code === 'PLT_KFK_AUTHENTICATION') {
      // A SASL_SSL listener closes a handshake sent in plaintext: the credentials were never read.
      if ([...nested(e)].some((inner) => /Connection closed/.test(inner.message))) {
        return {
          path: 'sasl',
          hint:
            'the broker closed the connection during the SASL handshake: if the listener is SASL_SSL, ' +
            'set tls; otherwise check sasl.mechanism, sasl.username and sasl.password',
        };
      }
      return { path: 'sasl', hint: 'check sasl.mechanism, sasl.username and sasl.password' };
    }
    if (typeof code === 'string' && TLS_UNVERIFIED.has(code)) {
      return {
        path: 'tls.ca',
        hint:
          "the broker's TLS certificate did not verify: set tls.ca to the PEM file of the CA that signed it " +
          '(tls.reject_unauthorized: false skips the check, for testing only)',
      };
    }
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      return {
        path: 'brokers',
        hint: "the broker's TLS certificate does not name the address connected to: use an address it names",
      };
    }
    // The library saw a TLS record where a Kafka answer should be: the listener speaks TLS only.
    if (code === 'PLT_KFK_USER' && /requires TLS/.test(e.message)) {
      return { path: 'tls', hint: 'this listener expects TLS: set tls (or connect to a plaintext listener)' };
    }
    if (typeof id === 'string' && PERMANENT.has(id))
      return { hint: 'check the credentials, ACLs and options' };
  }
  return undefined;
}

/** Whether `err` (or an error inside it) is one no retry can fix. */
export function isPermanent(err: unknown): boolean {
  return permanentFailure(err) !== undefined;
}

/** The most specific message inside a library error, secrets scrubbed. */
export function describeKafkaError(err: unknown, secrets: readonly string[]): string {
  const parts: string[] = [];
  for (const e of nested(err)) {
    const id = (e as { apiId?: unknown }).apiId;
    const code = (e as { code?: unknown }).code;
    // Node's advice for its own CLI ("try running Node.js with --use-system-ca") does not apply.
    const message = e.message.replace(/; if the root CA is installed locally.*$/s, '').replace(/\.$/, '');
    const tlsCode =
      typeof code === 'string' && (TLS_UNVERIFIED.has(code) || code === 'ERR_TLS_CERT_ALTNAME_INVALID');
    const name = typeof id === 'string' ? id : tlsCode ? code : '';
    const text = name ? `${name} (${message})` : message;
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
  const permanent = permanentFailure(err);
  if (permanent) {
    return new SluiceError('CONFIG_INVALID', `${what}: ${detail}; ${permanent.hint}`, {
      step,
      path: permanent.path,
      cause: err,
    });
  }
  return new SluiceError('SOURCE_UNAVAILABLE', `${what}: ${detail}`, { step, cause: err });
}
