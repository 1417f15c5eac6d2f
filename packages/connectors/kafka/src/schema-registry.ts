/**
 * Schemas by id from a Confluent-compatible Schema Registry, fetched once and kept compiled.
 *
 * Decoding is synchronous, so the registry is asked before it: the decoder looks ids up with
 * `get` (no I/O) and reports the ids it does not know; `resolve` fetches those
 * (`GET {url}/schemas/ids/{id}`) and compiles them. One request per id: concurrent `resolve`
 * calls for the same id share it. An unreachable registry, a 5xx, 408 or 429 is transient and
 * retried with capped exponential backoff and jitter until it answers or the reader closes; an id
 * the registry does not have (404, error code 40403) or a schema that does not compile is
 * permanent for that id — its records become decode failures. Anything else (401/403, a URL that
 * is not a registry) stops the job with CONFIG_INVALID.
 *
 * The sink's side, `registerSchema`, registers a schema under a subject with the same requests'
 * headers, timeout and notion of transient failure.
 */

import { backoffDelay, type Logger, type RetryPolicy, SluiceError, sleep } from '@sluice/core';
import { scrub } from './client-errors.ts';

/** A schema as the registry returns it (`schemaType` is absent for Avro). */
export interface RegisteredSchema {
  readonly id: number;
  readonly type: 'AVRO' | 'JSON' | 'PROTOBUF' | string;
  readonly schema: string;
  readonly references: readonly unknown[];
}

/** How to reach the registry. */
export interface RegistrySettings {
  /** Base URL, e.g. `http://127.0.0.1:8081` (no trailing slash needed). */
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  /** Timeout of one request, ms. */
  readonly timeoutMs: number;
}

/** Turns a fetched schema into what the decoder uses; throws when it cannot (permanent). */
export type SchemaCompiler<T> = (schema: RegisteredSchema) => T;

/** Backoff of registry retries: first and greatest delay, ms. */
const BACKOFF_FIRST = 100;
const BACKOFF_MAX = 10_000;

/** A transient registry failure (retried). */
class TransientError extends Error {}

/** The headers of every registry request (basic auth when configured). */
export function registryHeaders(settings: RegistrySettings): { [name: string]: string } {
  const headers: { [name: string]: string } = {
    accept: 'application/vnd.schemaregistry.v1+json, application/json',
  };
  if (settings.username !== undefined) {
    const token = Buffer.from(`${settings.username}:${settings.password ?? ''}`).toString('base64');
    headers.authorization = `Basic ${token}`;
  }
  return headers;
}

/** One registry request: its status and body text. Throws a `TransientError` when it gets no answer. */
async function request(
  settings: RegistrySettings,
  method: 'GET' | 'POST',
  url: string,
  body: string | undefined,
  signal: AbortSignal,
): Promise<{ status: number; body: string }> {
  const headers = registryHeaders(settings);
  if (body !== undefined) headers['content-type'] = 'application/vnd.schemaregistry.v1+json';
  try {
    const res = await fetch(url, {
      method,
      headers,
      body,
      signal: AbortSignal.any([signal, AbortSignal.timeout(settings.timeoutMs)]),
    });
    return { status: res.status, body: await res.text() };
  } catch (err) {
    if (signal.aborted) throw err;
    const cause = (err as Error & { cause?: Error }).cause;
    throw new TransientError(
      `${method} ${url} failed: ${(err as Error).message}${cause ? ` (${cause.message})` : ''}`,
    );
  }
}

/** Whether a status is worth retrying: 408, 429 and 5xx. */
function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** The CONFIG_INVALID of an answer no retry can fix: 401/403 name the credentials, the rest the URL. */
function refused(what: string, status: number, body: string, step: string): SluiceError {
  const auth = status === 401 || status === 403;
  const hint = auth
    ? 'check schema_registry.basic_auth'
    : 'is schema_registry.url the base URL of a Confluent-compatible registry?';
  return new SluiceError('CONFIG_INVALID', `${what} answered ${status}: ${body.slice(0, 200)}; ${hint}`, {
    step,
    path: auth ? 'schema_registry.basic_auth' : 'schema_registry.url',
  });
}

/**
 * Fetches schema `id`: the schema, or null when the registry says it has no such id. Throws a
 * `TransientError` for failures worth retrying and a SluiceError (CONFIG_INVALID) for the rest.
 */
export async function fetchSchema(
  settings: RegistrySettings,
  id: number,
  signal: AbortSignal,
  step: string,
): Promise<RegisteredSchema | null> {
  const url = `${settings.url.replace(/\/+$/, '')}/schemas/ids/${id}`;
  const { status, body } = await request(settings, 'GET', url, undefined, signal);
  if (status === 200) {
    let parsed: { schema?: unknown; schemaType?: unknown; references?: unknown };
    try {
      parsed = JSON.parse(body) as typeof parsed;
    } catch {
      parsed = {};
    }
    if (typeof parsed?.schema !== 'string') {
      throw new SluiceError(
        'CONFIG_INVALID',
        `GET ${url} answered 200 without a schema; is schema_registry.url a Confluent-compatible registry?`,
        { step, path: 'schema_registry.url' },
      );
    }
    return {
      id,
      type: typeof parsed.schemaType === 'string' ? parsed.schemaType : 'AVRO',
      schema: parsed.schema,
      references: Array.isArray(parsed.references) ? parsed.references : [],
    };
  }
  if (isTransientStatus(status)) {
    throw new TransientError(`GET ${url} answered ${status}: ${body.slice(0, 200)}`);
  }
  if (status === 404 && errorCode(body) === 40403) return null;
  throw refused(`GET ${url}`, status, body, step);
}

/** What `registerSchema` needs besides the schema: who asks, how to retry, what to hide. */
export interface RegisterOptions {
  readonly step: string;
  readonly log: Logger;
  /** Attempts and backoff of transient failures (the sink's `retry`). */
  readonly retry: RetryPolicy;
  /** Scrubbed from messages (the registry password). */
  readonly secrets: readonly string[];
  readonly signal: AbortSignal;
}

/**
 * Registers `schema` (`AVRO` or `JSON`) under `subject` the way Confluent serializers do
 * (`POST {url}/subjects/{subject}/versions`) and returns its id; a schema the subject already
 * has keeps its id. Transient failures (no answer, 5xx, 408, 429) are retried with capped
 * backoff up to `retry.maxAttempts`, then SINK_UNAVAILABLE. An incompatible schema (409) or
 * one the registry finds invalid (422) is CONFIG_INVALID at `schema`; 401/403 and a URL that
 * is not a registry's are CONFIG_INVALID at `schema_registry`. Messages hold no secret.
 */
export async function registerSchema(
  settings: RegistrySettings,
  subject: string,
  schema: { readonly type: 'AVRO' | 'JSON'; readonly text: string },
  options: RegisterOptions,
): Promise<number> {
  const { step, retry, secrets, signal } = options;
  const url = `${settings.url.replace(/\/+$/, '')}/subjects/${encodeURIComponent(subject)}/versions`;
  const payload: { schema: string; schemaType?: string } = { schema: schema.text };
  if (schema.type !== 'AVRO') payload.schemaType = schema.type;
  const body = JSON.stringify(payload);
  const what = `POST ${url}`;
  for (let attempt = 1; ; attempt++) {
    let answer: { status: number; body: string };
    try {
      answer = await request(settings, 'POST', url, body, signal);
      if (isTransientStatus(answer.status)) {
        throw new TransientError(`${what} answered ${answer.status}: ${answer.body.slice(0, 200)}`);
      }
    } catch (err) {
      if (!(err instanceof TransientError) || signal.aborted) throw err;
      const message = scrub(err.message, secrets);
      if (attempt >= retry.maxAttempts) {
        throw new SluiceError(
          'SINK_UNAVAILABLE',
          `cannot register the schema of subject '${subject}' after ${attempt} attempts: ${message}`,
          { step },
        );
      }
      const delay = backoffDelay(attempt, retry.initialBackoff, retry.maxBackoff, retry.random);
      options.log.warn('kafka sink: schema registry unavailable; retrying', {
        sink: step,
        subject,
        attempt,
        delay,
        error: message,
      });
      if (!(await sleep(delay, signal))) throw signal.reason;
      continue;
    }
    const { status } = answer;
    const text = scrub(answer.body.slice(0, 500), secrets);
    if (status === 200) {
      let id: unknown;
      try {
        id = (JSON.parse(answer.body) as { id?: unknown })?.id;
      } catch {
        id = undefined;
      }
      if (typeof id === 'number' && Number.isInteger(id)) return id;
      throw new SluiceError(
        'CONFIG_INVALID',
        `${what} answered 200 without a schema id; is schema_registry.url a Confluent-compatible registry?`,
        { step, path: 'schema_registry.url' },
      );
    }
    if (status === 409) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `the registry refused the schema as incompatible with the earlier versions of subject '${subject}' ` +
          `(409: ${text}); make the change compatible, or change the subject's compatibility level`,
        { step, path: 'schema' },
      );
    }
    if (status === 422) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `the registry refused the schema of subject '${subject}' as invalid (422: ${text})`,
        { step, path: 'schema' },
      );
    }
    throw refused(what, status, text, step);
  }
}

function errorCode(body: string): number | undefined {
  try {
    const code = (JSON.parse(body) as { error_code?: unknown })?.error_code;
    return typeof code === 'number' ? code : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The schemas a reader has met, compiled: `get` answers from memory, `resolve` fetches.
 * `T` is what the compiler makes of a schema (a value decoder).
 */
export class SchemaResolver<T> {
  readonly #settings: RegistrySettings;
  readonly #compile: SchemaCompiler<T>;
  readonly #log: Logger;
  readonly #step: string;
  readonly #secrets: readonly string[];
  /** Compiled schemas, or the reason an id is unusable (permanent). */
  readonly #known = new Map<number, { ok: T } | { error: string }>();
  readonly #pending = new Map<number, Promise<void>>();

  constructor(
    settings: RegistrySettings,
    compile: SchemaCompiler<T>,
    options: { log: Logger; step: string; secrets: readonly string[] },
  ) {
    this.#settings = settings;
    this.#compile = compile;
    this.#log = options.log;
    this.#step = options.step;
    this.#secrets = options.secrets;
  }

  /** The compiled schema `id`, or `{ error }` when it is unusable; undefined when not fetched yet. */
  get(id: number): { ok: T } | { error: string } | undefined {
    return this.#known.get(id);
  }

  /**
   * Fetches and compiles the ids not known yet. Resolves once every one is known (compiled or
   * unusable); rejects with a SluiceError when the registry refuses for good (configuration),
   * or when `signal` aborts.
   */
  async resolve(ids: Iterable<number>, signal: AbortSignal): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const id of ids) {
      if (this.#known.has(id)) continue;
      let p = this.#pending.get(id);
      if (!p) {
        p = this.#load(id, signal).finally(() => this.#pending.delete(id));
        this.#pending.set(id, p);
      }
      waits.push(p);
    }
    await Promise.all(waits);
  }

  async #load(id: number, signal: AbortSignal): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      let schema: RegisteredSchema | null;
      try {
        schema = await fetchSchema(this.#settings, id, signal, this.#step);
      } catch (err) {
        if (!(err instanceof TransientError) || signal.aborted) throw err;
        const delay = backoffDelay(attempt, BACKOFF_FIRST, BACKOFF_MAX);
        this.#log.warn('kafka source: schema registry unavailable; retrying', {
          source: this.#step,
          schema_id: id,
          attempt,
          delay,
          error: scrub(err.message, this.#secrets),
        });
        if (!(await sleep(delay, signal))) throw signal.reason;
        continue;
      }
      if (schema === null) {
        this.#known.set(id, { error: `schema id ${id} is not in the schema registry` });
        return;
      }
      try {
        this.#known.set(id, { ok: this.#compile(schema) });
      } catch (err) {
        this.#known.set(id, { error: `schema id ${id} ${(err as Error).message}` });
      }
      return;
    }
  }
}
