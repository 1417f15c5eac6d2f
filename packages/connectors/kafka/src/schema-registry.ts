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
 */

import { backoffDelay, type Logger, SluiceError, sleep } from '@sluice/core';
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
  let res: Response;
  let body: string;
  try {
    res = await fetch(url, {
      headers: registryHeaders(settings),
      signal: AbortSignal.any([signal, AbortSignal.timeout(settings.timeoutMs)]),
    });
    body = await res.text();
  } catch (err) {
    if (signal.aborted) throw err;
    const cause = (err as Error & { cause?: Error }).cause;
    throw new TransientError(
      `GET ${url} failed: ${(err as Error).message}${cause ? ` (${cause.message})` : ''}`,
    );
  }
  const status = res.status;
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
  if (status === 408 || status === 429 || status >= 500) {
    throw new TransientError(`GET ${url} answered ${status}: ${body.slice(0, 200)}`);
  }
  if (status === 404 && errorCode(body) === 40403) return null;
  const hint =
    status === 401 || status === 403
      ? 'check schema_registry.basic_auth'
      : 'is schema_registry.url the base URL of a Confluent-compatible registry?';
  throw new SluiceError('CONFIG_INVALID', `GET ${url} answered ${status}: ${body.slice(0, 200)}; ${hint}`, {
    step,
    path: status === 401 || status === 403 ? 'schema_registry.basic_auth' : 'schema_registry.url',
  });
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
