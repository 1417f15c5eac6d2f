/**
 * The `nats` lookup table: the `lookup` step reads rows by key from a JetStream KV bucket.
 */

import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  defineLookup,
  type Lookup,
  type LookupAnswer,
  type LookupContext,
  type LookupKey,
  type Row,
  SluiceError,
} from '@sluice/core';
import { type Static, Type } from 'typebox';
import { closeNats, connectNats, describeError } from './connection.ts';
import { connectionFields } from './connection-config.ts';

const config = Type.Object(
  {
    ...connectionFields,
    bucket: Type.String({
      minLength: 1,
      pattern: '^[-\\w]+$',
      description: 'The KV bucket read. It must exist when the job starts.',
      examples: ['customers'],
    }),
    key_prefix: Type.String({
      default: '',
      description:
        'Text put before each key: the KV key of a lookup key is this prefix, then the key’s ' +
        'values as text joined by `.` (`key: [region, id]` with `eu`, 42 reads `<prefix>eu.42`).',
      examples: ['customer.'],
    }),
    format: Type.Enum(['json', 'text'], {
      default: 'json',
      description:
        'How a value becomes the row: `json` — the value is one JSON object, which is the row (any ' +
        'other value fails that key: its records go to the dead letters); `text` — `{ value }` ' +
        'with the value as UTF-8 text.',
      examples: ['text'],
    }),
    max_keys: Type.Integer({
      minimum: 1,
      maximum: 10_000,
      default: 256,
      description: 'Most keys one call reads (concurrently); the step splits larger sets of keys.',
      examples: [64],
    }),
  },
  { additionalProperties: false },
);

/** The `nats` lookup's options, defaults applied. */
export type NatsLookupConfig = Static<typeof config>;

/** KV keys: letters, digits and `-/_=.`, no empty token, no leading or trailing `.`. */
const VALID_KEY = /^[-/_=.a-zA-Z0-9]+$/;

/** The KV key for `key`, or why it has none. */
export function kvKey(prefix: string, key: LookupKey): string | { problem: string } {
  const parts: string[] = [];
  for (const v of key) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean')
      parts.push(String(v));
    else return { problem: `a key value of type ${v instanceof Date ? 'timestamp' : typeof v} is no KV key` };
  }
  const text = prefix + parts.join('.');
  if (!VALID_KEY.test(text) || text.startsWith('.') || text.endsWith('.') || text.includes('..'))
    return { problem: `'${text}' is no valid KV key (letters, digits and -/_=. only, no empty token)` };
  return text;
}

/** Whether `err` is a failure of the connection (retried by the step) rather than of one key. */
function transient(err: unknown): boolean {
  return /timeout|disconnect|closed|connection|no responders|ECONNREFUSED|ECONNRESET/i.test(
    describeError(err),
  );
}

class NatsLookup implements Lookup {
  readonly maxKeys: number;
  readonly #config: NatsLookupConfig;
  #nc: NatsConnection | undefined;
  #kv: KV | undefined;
  #id = 'lookup';

  constructor(cfg: NatsLookupConfig) {
    this.#config = cfg;
    this.maxKeys = cfg.max_keys;
  }

  async open(ctx: LookupContext): Promise<void> {
    this.#id = ctx.id;
    this.#nc = await connectNats(this.#config, {
      code: 'LOOKUP_UNAVAILABLE',
      step: ctx.id,
      log: ctx.log,
      kind: 'lookup',
    });
    try {
      const kv = await new Kvm(this.#nc).open(this.#config.bucket);
      await kv.status();
      this.#kv = kv;
    } catch (err) {
      await this.close();
      if (transient(err)) throw this.#error(err, 'open');
      throw new SluiceError(
        'CONFIG_INVALID',
        `nats lookup: cannot open KV bucket '${this.#config.bucket}': ${describeError(err)}`,
        { step: ctx.id, path: 'bucket', cause: err },
      );
    }
  }

  get(keys: readonly LookupKey[], signal: AbortSignal): Promise<LookupAnswer[]> {
    const kv = this.#kv;
    if (kv === undefined) throw new SluiceError('INTERNAL', 'nats lookup: get before open');
    signal.throwIfAborted();
    return Promise.all(keys.map((key) => this.#one(kv, key)));
  }

  async #one(kv: KV, key: LookupKey): Promise<LookupAnswer> {
    const name = kvKey(this.#config.key_prefix, key);
    if (typeof name !== 'string')
      return new SluiceError('LOOKUP_FAILED', `nats lookup: ${name.problem}`, {
        step: this.#id,
        path: 'key_prefix',
      });
    let entry: Awaited<ReturnType<KV['get']>>;
    try {
      entry = await kv.get(name);
    } catch (err) {
      if (transient(err)) throw this.#error(err, `read '${name}' from`);
      return this.#error(err, `read '${name}' from`);
    }
    if (entry === null || entry.operation !== 'PUT') return null;
    const text = entry.string();
    if (this.#config.format === 'text') return { value: text };
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      return new SluiceError(
        'LOOKUP_FAILED',
        `nats lookup: the value of '${name}' is not valid JSON: ${(err as Error).message}`,
        { step: this.#id },
      );
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      return new SluiceError(
        'LOOKUP_FAILED',
        `nats lookup: the value of '${name}' is JSON but not an object`,
        {
          step: this.#id,
        },
      );
    return parsed as Row;
  }

  async close(): Promise<void> {
    const nc = this.#nc;
    this.#nc = undefined;
    this.#kv = undefined;
    if (nc !== undefined) await closeNats(nc);
  }

  /** LOOKUP_UNAVAILABLE (retried by the step) for an outage, LOOKUP_FAILED for the rest. */
  #error(err: unknown, what: string): SluiceError {
    if (err instanceof SluiceError) return err;
    const code = transient(err) ? 'LOOKUP_UNAVAILABLE' : 'LOOKUP_FAILED';
    return new SluiceError(
      code,
      `nats lookup: ${what} bucket '${this.#config.bucket}': ${describeError(err)}`,
      {
        step: this.#id,
        cause: err,
      },
    );
  }
}

/** The `nats` lookup spec. */
export const natsLookup = defineLookup({
  type: 'nats',
  summary: 'Reads rows by key from a NATS JetStream KV bucket.',
  description: [
    'The `lookup` step hands over the distinct keys of a batch that its cache does not hold, at most',
    '`max_keys` a call; the lookup reads them from `bucket` concurrently on one connection. A key’s',
    "KV key is `key_prefix` followed by its values as text joined by `.` (so 42 and `'42'` read the",
    'same entry). A key with no entry, or one deleted or purged, is a miss (the step’s `on_miss`',
    'decides); an entry is the row as JSON (`format: json`) or `{ value }` (`format: text`).',
    '',
    '- **Transient** — the server unreachable, a timeout: LOOKUP_UNAVAILABLE, which the step retries',
    '  (`retries`, `timeout`); the client reconnects by itself with capped backoff meanwhile.',
    '- **One key** — a value that is not a JSON object, a key that is no valid KV key: LOOKUP_FAILED,',
    '  and the records of that key go to the dead letters with the reason.',
    '- **Setup** — no such bucket: the job fails at its start with CONFIG_INVALID.',
    '',
    'The bucket is read as it is at each call: with the step’s cache, a changed entry is seen once',
    'its cached answer expires (`cache.ttl`).',
  ].join('\n'),
  example: [
    'type: nats',
    "servers: ['nats://127.0.0.1:4222']",
    'bucket: customers',
    "key_prefix: 'customer.'",
  ].join('\n'),
  config,
  create: (cfg) => new NatsLookup(cfg),
});
