/**
 * The options of the `websocket` source.
 */

import { inputLimitFields } from '@sluice/core';
import { type Static, Type } from 'typebox';

export const websocketSourceConfig = Type.Object(
  {
    url: Type.String({
      description: 'The `ws://` or `wss://` URL of the push API.',
      examples: ['wss://stream.example.com/v1/trades'],
    }),
    headers: Type.Record(Type.String(), Type.String(), {
      default: {},
      description:
        'HTTP headers of the upgrade request (an `Authorization` token, an API key): give secrets ' +
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a pipeline file's ${VAR} reference, shown as such
        'as `${ENV_VAR}` references.',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a pipeline file's ${VAR} reference, shown as such
      examples: [{ authorization: 'Bearer ${API_TOKEN:-dev}' }],
    }),
    subscribe_message: Type.Optional(
      Type.String({
        description:
          'Text sent on every connection before anything is read (a subscription request), ' +
          'unless a resume message is sent instead. Absent: nothing is sent.',
        examples: ['{"op":"subscribe","channel":"trades"}'],
      }),
    ),
    resume: Type.Enum(['none', 'message'], {
      default: 'none',
      description:
        '`none`: the API cannot resume; what it pushed while the source was disconnected or the ' +
        'pipeline was down is lost (at-most-once). `message`: on every connection after the first ' +
        'record, and after a restart from a checkpoint, the source sends `resume_message` with the ' +
        'position of the last record read (after a restart: the checkpointed one) instead of ' +
        '`subscribe_message`, and the API sends what came after it (at-least-once).',
      examples: ['message'],
    }),
    resume_message: Type.Optional(
      Type.String({
        description:
          'With `resume: message`: the text sent to resume, `{{position}}` standing for the ' +
          'position as JSON (the value of `position_field` of the last record read).',
        examples: ['{"op":"resume","after":{{position}}}'],
      }),
    ),
    position_field: Type.Optional(
      Type.String({
        description:
          'With `resume: message`: the record field that holds the API’s position (a sequence ' +
          'number, a cursor); it goes into the checkpoint and the resume message.',
        examples: ['seq'],
      }),
    ),
    format: Type.Enum(['json', 'text', 'bytes'], {
      default: 'json',
      description:
        'How a message becomes a record: `json` — the message is one JSON object, which is the ' +
        'record (any other message is a dead letter with the reason); `text` — `{ value }` with the ' +
        'message as UTF-8 text; `bytes` — `{ value }` with the message in base64.',
      examples: ['text'],
    }),
    max_buffered: Type.Integer({
      minimum: 1,
      maximum: 1_000_000,
      default: 10_000,
      description:
        'Messages received and not yet read by the pipeline at which the source stops reading the ' +
        'socket (TCP flow control pushes back on the server) until the pipeline has read half of them.',
      examples: [1000],
    }),
    initial_backoff: Type.String({
      default: '250ms',
      description: 'First reconnect delay after the connection drops (doubling, with jitter).',
      examples: ['1s'],
    }),
    max_backoff: Type.String({
      default: '30s',
      description: 'Greatest reconnect delay.',
      examples: ['10s'],
    }),
    ...inputLimitFields,
  },
  { additionalProperties: false },
);

export type WebsocketSourceConfig = Static<typeof websocketSourceConfig>;
