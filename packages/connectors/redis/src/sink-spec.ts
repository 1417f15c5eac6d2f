/**
 * The `redis` sink's spec: its options, guarantee, changelog support and reference text.
 */

import { defineSink } from '@sluice/core';
import { RedisSink } from './sink.ts';
import { redisSinkConfig } from './sink-config.ts';
import { parseTemplate } from './template.ts';

/** The `redis` sink spec. */
export const redisSink = defineSink({
  type: 'redis',
  summary:
    'Writes records to Redis as hashes, strings, sorted-set members, stream entries or published messages.',
  description: [
    'Each record becomes one command (two for a hash with NULL fields) on the key its `key`',
    'template names (`user:{user_id}`: text with record fields in braces):',
    '',
    '- `mode: hash` — `HSET key field value …` with the record’s fields (or `fields`); a NULL field',
    '  is removed (`HDEL`). Takes changelogs: a delete is `DEL key`; an update of the same key replaces',
    '  the whole hash in one atomic command (`EVAL`), one that moves the key deletes the old key.',
    '- `mode: string` — `SET key value [PX ttl]`, the value the record as JSON (a record read as',
    '  JSON that no step changed is written as the text it was read from) or its `value_field`.',
    '  Takes changelogs: a delete is `DEL key`.',
    '- `mode: sorted_set` — `ZADD key score member`, the score from `score_field`, the member from',
    '  the `member` template or the record as JSON (a leaderboard from window results). Takes',
    '  changelogs: a delete is `ZREM key member`; without `member`, only retract streams (the old',
    '  record names the member to remove).',
    '- `mode: stream` — `XADD key [MAXLEN ~ maxlen] * field value …`. Appends only.',
    '- `mode: publish` — `PUBLISH channel message` to the `channel` template. Appends only.',
    '',
    'Values are written as text: strings as they are, numbers and booleans as their literal, dates',
    'as ISO-8601, arrays and objects as JSON. A batch is sent as one pipeline, in record order: its',
    'commands encoded as RESP into one buffer and written at once, the replies awaited together.',
    '',
    '- **Refused records** — a record whose key template names a NULL or missing field, whose score',
    '  is no number, or whose command Redis refuses for good (WRONGTYPE: the key holds another',
    '  type) goes to the dead-letter output with the reason; the rest of the batch is written.',
    '- **Transient failures** — a lost connection, no reply within `reply_timeout` (a hung server),',
    '  LOADING, BUSY, OOM, READONLY: the commands from',
    '  the first one that failed on are sent again, in order, with capped exponential backoff and',
    '  full jitter (`retry`), on a new connection; after `retry.max_attempts` the write',
    '  fails with SINK_UNAVAILABLE and the job restarts from its last checkpoint.',
    '- **Setup errors** — wrong credentials or permissions: CONFIG_INVALID.',
    '',
    'Delivery is at-least-once: a write resolves once Redis has answered every command, so a',
    'checkpoint never covers a record Redis does not have; a restart writes again what came after',
    'the last checkpoint (Redis has no transactions that outlive a connection, so nothing is held',
    'back). In `hash`, `string` and `sorted_set` modes a replay rewrites the same keys with the same',
    'values, so the data converges to what one run would leave (effectively exactly-once for a',
    'reader that looks after the replay); `stream` appends replayed entries again and `publish`',
    'sends them again (and reaches only subscribers connected at the time). What Redis keeps across',
    'its own restart depends on its persistence settings (AOF, RDB).',
    '',
    'The URL is a secret: it never appears in logs or errors.',
  ].join('\n'),
  example: ['type: redis', 'url: redis://127.0.0.1:6379', 'mode: hash', "key: 'user:{user_id}'"].join('\n'),
  delivery: 'at-least-once',
  changelog: {
    consumes: (config) => {
      if (config.mode === 'hash' || config.mode === 'string') return ['append', 'upsert', 'retract'];
      if (config.mode === 'sorted_set')
        return config.member === undefined ? ['append', 'retract'] : ['append', 'upsert', 'retract'];
      return ['append'];
    },
    hint: 'use `mode: hash`, `string` or `sorted_set`, whose keys a change replaces or removes',
    upsertKey: (config) => {
      if (config.key === undefined) return undefined;
      if (config.mode !== 'hash' && config.mode !== 'string' && config.mode !== 'sorted_set')
        return undefined;
      if (config.mode === 'sorted_set' && config.member === undefined) return undefined;
      const fields = new Set(parseTemplate(config.key, 'key').fields);
      if (config.member !== undefined)
        for (const f of parseTemplate(config.member, 'member').fields) fields.add(f);
      return { path: 'key', fields: [...fields] };
    },
  },
  config: redisSinkConfig,
  create: (config, sink) => new RedisSink(config, sink?.id),
});
