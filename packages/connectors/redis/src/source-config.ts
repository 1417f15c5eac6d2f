/**
 * The `redis` source's options: a stream read by a consumer group, or channels of pub/sub.
 */

import { inputLimitFields, parseDuration, SluiceError } from '@sluice/core';
import { type Static, Type } from 'typebox';
import { connectionFields } from './connection-config.ts';

export const redisSourceConfig = Type.Object(
  {
    ...connectionFields,
    mode: Type.Union([Type.Literal('stream'), Type.Literal('pubsub')], {
      default: 'stream',
      description:
        '`stream` — read a Redis stream with a consumer group (at-least-once); `pubsub` — subscribe ' +
        'to channels (at-most-once: Redis keeps no message for a subscriber that is not connected).',
      examples: ['pubsub'],
    }),
    stream: Type.Optional(
      Type.String({ minLength: 1, description: '`mode: stream`: the stream’s key.', examples: ['orders'] }),
    ),
    group: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          '`mode: stream`: the consumer group; workers of one group share the stream’s entries, and the group’s acknowledgements are the position the pipeline resumes from.',
        examples: ['sluice-orders'],
      }),
    ),
    consumer: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          '`mode: stream`: this worker’s consumer name in the group; it must stay the same across restarts (a restart reads its own pending entries again) and differ between workers. Absent: `sluice-<pipeline>-<source id>`.',
        examples: ['worker-1'],
      }),
    ),
    create_group: Type.Boolean({
      default: true,
      description:
        '`mode: stream`: create the group (and the stream, `XGROUP CREATE … MKSTREAM`) when it does not exist, starting at `start`.',
      examples: [false],
    }),
    start: Type.String({
      default: '$',
      description:
        '`mode: stream`: where a group the source creates starts: `$` — entries added from now on; `0` — every entry of the stream; or an entry id.',
      examples: ['0'],
    }),
    claim_idle: Type.String({
      default: '5m',
      description:
        '`mode: stream`: entries another consumer of the group has held unacknowledged this long are taken over (`XAUTOCLAIM`): a worker that died leaves its entries to the others. Keep it well above the checkpoint interval, or a live worker’s entries are taken and read twice.',
      examples: ['1m'],
    }),
    max_deliveries: Type.Integer({
      minimum: 1,
      default: 5,
      description:
        '`mode: stream`: an entry delivered more often than this (the group’s delivery count, from `XPENDING`) goes to the dead-letter output instead of being read again: a poison entry that crashed the pipeline each time stops doing so.',
      examples: [10],
    }),
    max_pending: Type.Integer({
      minimum: 1,
      default: 1000,
      description:
        '`mode: stream`: the most entries read and not yet acknowledged. Acknowledgements wait for a checkpoint, so when half of this is reached the source asks for an early checkpoint, and at the limit it reads no further until one completes.',
      examples: [10000],
    }),
    channels: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        description:
          '`mode: pubsub`: channels to subscribe to; a name with `*`, `?` or `[` is a pattern (`PSUBSCRIBE`).',
        examples: [['alerts', 'sensors:*']],
      }),
    ),
    format: Type.Optional(
      Type.Union([Type.Literal('fields'), Type.Literal('json'), Type.Literal('text')], {
        description:
          'How an entry or message becomes a record. Streams: `fields` (the default) — the entry’s fields, as text; `json` — the entry field `json_field` holds a JSON object, which is the record. Pub/sub: `json` (the default) — the message is a JSON object, which is the record; `text` — `{ channel, message }`. Input that does not decode goes to the dead-letter output.',
        examples: ['json'],
      }),
    ),
    json_field: Type.String({
      default: 'data',
      minLength: 1,
      description: '`mode: stream` with `format: json`: the entry field holding the JSON document.',
      examples: ['payload'],
    }),
    max_depth: inputLimitFields.max_depth,
  },
  { additionalProperties: false },
);

export type RedisSourceConfig = Static<typeof redisSourceConfig>;

/** Durations of a config in ms, checked with the options the mode needs; throws CONFIG_INVALID. */
export function checkSourceConfig(config: RedisSourceConfig): {
  claimIdle: number;
  format: 'fields' | 'json' | 'text';
} {
  const fail = (path: string, message: string): never => {
    throw new SluiceError('CONFIG_INVALID', message, { path });
  };
  if (config.mode === 'stream') {
    if (config.stream === undefined)
      fail('stream', '`mode: stream` needs `stream`: the key of the stream read');
    if (config.group === undefined) fail('group', '`mode: stream` needs `group`: the consumer group');
    if (config.channels !== undefined) fail('channels', '`channels` is for `mode: pubsub`');
    if (config.format === 'text')
      fail('format', '`format: text` is for `mode: pubsub`; streams take `fields` or `json`');
  } else {
    if (config.channels === undefined) fail('channels', '`mode: pubsub` needs `channels`');
    for (const option of ['stream', 'group', 'consumer'] as const)
      if (config[option] !== undefined) fail(option, `\`${option}\` is for \`mode: stream\``);
    if (config.format === 'fields')
      fail('format', '`format: fields` is for streams; pub/sub messages take `json` or `text`');
  }
  parseDuration(config.connect_timeout, 'connect_timeout');
  parseDuration(config.reply_timeout, 'reply_timeout');
  return {
    claimIdle: parseDuration(config.claim_idle, 'claim_idle'),
    format: config.format ?? (config.mode === 'stream' ? 'fields' : 'json'),
  };
}
