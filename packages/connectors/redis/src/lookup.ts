/**
 * The `redis` lookup table: the `lookup` step reads hashes or JSON strings by key from Redis,
 * every key of a call in one round trip (`MGET`, or a pipeline of `HGETALL`/`HMGET`).
 */

import {
  defineLookup,
  type Lookup,
  type LookupAnswer,
  type LookupContext,
  type LookupKey,
  parseDuration,
  type Row,
  retry,
  SluiceError,
} from '@sluice/core';
import Type, { type Static } from 'typebox';
import {
  connect,
  describeError,
  disconnect,
  endpointOf,
  failureKind,
  type RedisClient,
} from './connection.ts';
import { connectionFields } from './connection-config.ts';
import { fieldText } from './encode.ts';

const config = Type.Object(
  {
    ...connectionFields,
    mode: Type.Union([Type.Literal('hash'), Type.Literal('string')], {
      default: 'hash',
      description:
        'What a key holds: `hash` — a hash, whose fields are the row; `string` — a JSON object, ' +
        'which is the row (or a text, with `value_field`).',
      examples: ['string'],
    }),
    prefix: Type.String({
      default: '',
      description:
        'Text before the key values in each Redis key: key `[42]` with prefix `user:` reads `user:42`.',
      examples: ['user:'],
    }),
    separator: Type.String({
      default: ':',
      description: 'Text between the values of a key of several values: `[eu, 42]` reads `<prefix>eu:42`.',
      examples: ['|'],
    }),
    fields: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        description:
          '`mode: hash`: the fields read (`HMGET`); a field the hash lacks is NULL. Absent: every field (`HGETALL`).',
        examples: [['name', 'tier']],
      }),
    ),
    value_field: Type.Optional(
      Type.String({
        minLength: 1,
        description: '`mode: string`: the value is text, handed over as this one field, not parsed as JSON.',
        examples: ['name'],
      }),
    ),
    max_keys: Type.Integer({
      minimum: 1,
      maximum: 100_000,
      default: 1000,
      description: 'Most keys one round trip asks for; the step splits larger sets of keys.',
    }),
  },
  { additionalProperties: false },
);

/** The `redis` lookup's options, defaults applied. */
export type RedisLookupConfig = Static<typeof config>;

/** A reply that is a list of texts (MGET, HMGET, HGETALL in RESP2), checked. */
function textList(reply: unknown): (string | null)[] {
  if (!Array.isArray(reply))
    throw new SluiceError('INTERNAL', `redis lookup: expected a list reply, got ${typeof reply}`);
  return reply as (string | null)[];
}

class RedisLookup implements Lookup {
  readonly maxKeys: number;
  readonly #config: RedisLookupConfig;
  #client: RedisClient | undefined;
  #id = 'lookup';

  constructor(cfg: RedisLookupConfig) {
    if (cfg.mode === 'string' && cfg.fields !== undefined)
      throw new SluiceError('CONFIG_INVALID', '`fields` is for `mode: hash`; a string holds one value', {
        path: 'fields',
      });
    if (cfg.mode === 'hash' && cfg.value_field !== undefined)
      throw new SluiceError(
        'CONFIG_INVALID',
        '`value_field` is for `mode: string`; a hash has fields of its own',
        {
          path: 'value_field',
        },
      );
    parseDuration(cfg.connect_timeout, 'connect_timeout');
    parseDuration(cfg.reply_timeout, 'reply_timeout');
    this.#config = cfg;
    this.maxKeys = cfg.max_keys;
  }

  async open(ctx: LookupContext): Promise<void> {
    this.#id = ctx.id;
    this.#client = await retry(
      () =>
        connect(
          this.#config,
          { code: 'LOOKUP_UNAVAILABLE', step: ctx.id, name: `sluice-lookup-${ctx.id}` },
          ctx.log,
        ),
      { maxAttempts: 3, initialBackoff: 200, maxBackoff: 1000 },
      ctx.signal,
    );
    ctx.log.info('redis lookup: reading', { at: endpointOf(this.#config.url), mode: this.#config.mode });
  }

  /** The Redis key of a lookup key: the prefix, then its values joined by the separator. */
  #keyOf(key: LookupKey): string {
    let out = this.#config.prefix;
    for (let i = 0; i < key.length; i++) out += (i > 0 ? this.#config.separator : '') + fieldText(key[i]);
    return out;
  }

  async get(keys: readonly LookupKey[], signal: AbortSignal): Promise<LookupAnswer[]> {
    const client = this.#client;
    if (client === undefined) throw new SluiceError('INTERNAL', 'redis lookup: get before open');
    signal.throwIfAborted();
    const names = keys.map((k) => this.#keyOf(k));
    try {
      return this.#config.mode === 'string'
        ? await this.#strings(client, names)
        : await this.#hashes(client, names);
    } catch (err) {
      throw this.#error(err, 'read');
    }
  }

  /** One `MGET` for every key: a JSON object (or a text as `value_field`) per key, NULL a miss. */
  async #strings(client: RedisClient, names: string[]): Promise<LookupAnswer[]> {
    const values = textList(await client.sendCommand(['MGET', ...names]));
    const field = this.#config.value_field;
    return values.map((value, i): LookupAnswer => {
      if (value === null) return null;
      if (field !== undefined) return { [field]: value };
      let parsed: unknown;
      try {
        parsed = JSON.parse(value);
      } catch (err) {
        return this.#refused(names[i] as string, `its value is not JSON (${describeError(err)})`);
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
        return this.#refused(names[i] as string, 'its value is JSON but not an object');
      return parsed as Row;
    });
  }

  /**
   * A pipeline of `HGETALL` (or `HMGET fields`) for every key, issued at once: one round trip.
   * An empty hash (or every field absent) is a miss; a key of another type fails alone.
   */
  async #hashes(client: RedisClient, names: string[]): Promise<LookupAnswer[]> {
    const fields = this.#config.fields;
    const replies = await Promise.allSettled(
      names.map((name) => client.sendCommand(fields ? ['HMGET', name, ...fields] : ['HGETALL', name])),
    );
    return replies.map((reply, i): LookupAnswer => {
      if (reply.status === 'rejected') {
        if (failureKind(reply.reason) !== 'refused') throw reply.reason;
        return this.#refused(names[i] as string, describeError(reply.reason));
      }
      if (fields !== undefined) {
        const values = textList(reply.value);
        if (values.every((v) => v === null)) return null;
        const row: Row = {};
        for (let f = 0; f < fields.length; f++) row[fields[f] as string] = values[f] ?? null;
        return row;
      }
      // RESP2 answers HGETALL with a flat list: field, value, field, value…
      const flat = textList(reply.value);
      if (flat.length === 0) return null;
      const row: Row = {};
      for (let f = 0; f + 1 < flat.length; f += 2) row[flat[f] as string] = flat[f + 1];
      return row;
    });
  }

  #refused(name: string, reason: string): SluiceError {
    return new SluiceError('LOOKUP_FAILED', `redis lookup: key '${name}': ${reason}`, { step: this.#id });
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    await disconnect(client);
  }

  /** LOOKUP_UNAVAILABLE (retried by the step) for an outage, LOOKUP_FAILED for the rest. */
  #error(err: unknown, what: string): SluiceError {
    if (err instanceof SluiceError) return err;
    const code = failureKind(err) === 'transient' ? 'LOOKUP_UNAVAILABLE' : 'LOOKUP_FAILED';
    return new SluiceError(code, `redis lookup: ${what}: ${describeError(err, this.#config.url)}`, {
      step: this.#id,
      cause: err,
    });
  }
}

export const redisLookup = defineLookup({
  type: 'redis',
  summary: 'Reads hashes or JSON strings by key from Redis: one round trip per batch of keys.',
  description: [
    'The `lookup` step hands over the distinct keys of a batch that its cache does not hold, at most `max_keys` a call. Each key becomes a Redis key: `prefix`, then the key’s values joined by `separator` (`prefix: user:` and key `[42]` read `user:42`). A call is one round trip:',
    '',
    '- `mode: hash` — `HGETALL` (or `HMGET` of `fields`) for every key, sent together as one pipeline; the row is the hash’s fields, as text (Redis stores text: cast with a `map` step where numbers are needed). An empty or missing hash (with `fields`: none of them present) is a miss.',
    '- `mode: string` — one `MGET` of every key; the row is the value parsed as a JSON object, or `{ <value_field>: value }` with `value_field`. A missing key is a miss.',
    '',
    'A miss is decided by the step’s `on_miss`; its cache, retries, timeout and metrics apply as for every lookup.',
    '',
    '- **Transient** — connection refused or lost, LOADING, BUSY: LOOKUP_UNAVAILABLE, which the step retries (`retries`, `timeout`) while the client reconnects.',
    '- **A key that holds something else** (a hash key holding a string: WRONGTYPE; a string that is no JSON object): that key fails alone, and its records go to the dead letters (LOOKUP_FAILED) with the reason. `MGET` answers a key of another type as missing.',
    '- **Setup** — wrong credentials: the job fails at its start.',
    '',
    'The URL is a secret: it never appears in logs or errors.',
  ].join('\n'),
  example: [
    'type: redis',
    'url: redis://127.0.0.1:6379',
    'mode: hash',
    "prefix: 'customer:'",
    'fields: [name, tier]',
  ].join('\n'),
  config,
  create: (cfg) => new RedisLookup(cfg),
});
