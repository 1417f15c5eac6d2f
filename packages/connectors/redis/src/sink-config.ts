/**
 * The `redis` sink's options, and the checks the schema cannot make.
 */

import { parseDuration, retryConfig, SluiceError } from '@sluice/core';
import { type Static, Type } from 'typebox';
import { connectionFields } from './connection-config.ts';
import { parseTemplate, type Template } from './template.ts';

export const SINK_MODES = ['hash', 'string', 'sorted_set', 'stream', 'publish'] as const;
export type SinkMode = (typeof SINK_MODES)[number];

export const redisSinkConfig = Type.Object(
  {
    ...connectionFields,
    mode: Type.Union(
      [
        Type.Literal('hash'),
        Type.Literal('string'),
        Type.Literal('sorted_set'),
        Type.Literal('stream'),
        Type.Literal('publish'),
      ],
      {
        default: 'hash',
        description:
          'What each record becomes: `hash` — a hash per key (`HSET`); `string` — a value per key ' +
          '(`SET`); `sorted_set` — a member of a sorted set (`ZADD`); `stream` — an entry of a ' +
          'stream (`XADD`); `publish` — a message on a channel (`PUBLISH`).',
        examples: ['sorted_set'],
      },
    ),
    key: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Template of the key each record is written under: text with record fields in braces ' +
          '(`{{` and `}}` are literal braces). Required except with `mode: publish`.',
        examples: ['user:{user_id}'],
      }),
    ),
    channel: Type.Optional(
      Type.String({
        minLength: 1,
        description: '`mode: publish`: template of the channel each record is published to.',
        examples: ['alerts:{region}'],
      }),
    ),
    fields: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        description:
          '`mode: hash` and `stream`: the record fields written (each under its own name). Absent: every field.',
        examples: [['name', 'tier']],
      }),
    ),
    value_field: Type.Optional(
      Type.String({
        minLength: 1,
        description: '`mode: string` and `publish`: write this field’s value rather than the record as JSON.',
        examples: ['total'],
      }),
    ),
    ttl: Type.Optional(
      Type.String({
        description:
          '`mode: string`: how long each key lives after it is written (`SET … PX`). Absent: forever.',
        examples: ['1h'],
      }),
    ),
    member: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          '`mode: sorted_set`: template of the member. Absent: the record as JSON (then an update ' +
          'must come as a retraction of the old record, not as an upsert).',
        examples: ['{player}'],
      }),
    ),
    score_field: Type.Optional(
      Type.String({
        minLength: 1,
        description: '`mode: sorted_set`: the field holding the member’s score (a number).',
        examples: ['points'],
      }),
    ),
    maxlen: Type.Optional(
      Type.Integer({
        minimum: 1,
        description:
          '`mode: stream`: trim the stream to about this many entries as it is written (`XADD … MAXLEN ~ N`). Absent: no trimming.',
        examples: [100000],
      }),
    ),
    retry: retryConfig,
  },
  { additionalProperties: false },
);

export type RedisSinkConfig = Static<typeof redisSinkConfig>;

/** The options of a config as the sink uses them: templates parsed, durations in ms. */
export interface SinkPlan {
  readonly mode: SinkMode;
  /** The key template, or the channel's with `mode: publish`. */
  readonly target: Template;
  readonly member?: Template;
  readonly ttl?: number;
}

/** Options each mode takes beside the connection's, `mode` and `retry`. */
const OPTIONS: { readonly [M in SinkMode]: readonly string[] } = {
  hash: ['key', 'fields'],
  string: ['key', 'value_field', 'ttl'],
  sorted_set: ['key', 'member', 'score_field'],
  stream: ['key', 'fields', 'maxlen'],
  publish: ['channel', 'value_field'],
};

/** Checks what the schema cannot say (no I/O) and parses the templates; throws CONFIG_INVALID. */
export function sinkPlan(config: RedisSinkConfig, step?: string): SinkPlan {
  const fail = (path: string, message: string): never => {
    throw new SluiceError('CONFIG_INVALID', message, { step, path });
  };
  const mode = config.mode;
  const allowed = OPTIONS[mode];
  for (const option of ['key', 'channel', 'fields', 'value_field', 'ttl', 'member', 'score_field', 'maxlen'])
    if ((config as { [k: string]: unknown })[option] !== undefined && !allowed.includes(option))
      fail(option, `\`${option}\` is not an option of \`mode: ${mode}\` (it takes ${allowed.join(', ')})`);
  const targetPath = mode === 'publish' ? 'channel' : 'key';
  const target = mode === 'publish' ? config.channel : config.key;
  if (target === undefined)
    return fail(
      targetPath,
      `\`mode: ${mode}\` needs \`${targetPath}\`: a template such as '${mode === 'publish' ? 'alerts:{region}' : 'user:{user_id}'}'`,
    );
  parseDuration(config.connect_timeout, 'connect_timeout');
  parseDuration(config.reply_timeout, 'reply_timeout');
  if (mode === 'sorted_set' && config.score_field === undefined)
    fail('score_field', '`mode: sorted_set` needs `score_field`: the field holding each member’s score');
  return {
    mode,
    target: parseTemplate(target, targetPath, step),
    member: config.member === undefined ? undefined : parseTemplate(config.member, 'member', step),
    ttl: config.ttl === undefined ? undefined : parseDuration(config.ttl, 'ttl'),
  };
}
