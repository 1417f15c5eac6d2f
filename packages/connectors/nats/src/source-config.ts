/**
 * The `nats` source's options.
 */

import { inputLimitFields } from '@sluice/core';
import { type Static, Type } from 'typebox';
import { connectionFields } from './connection-config.ts';

export const natsSourceConfig = Type.Object(
  {
    ...connectionFields,
    stream: Type.String({
      minLength: 1,
      pattern: '^[^.*>/\\\\\\s]+$',
      description: 'JetStream stream to read.',
      examples: ['ORDERS'],
    }),
    durable: Type.Optional(
      Type.String({
        minLength: 1,
        pattern: '^[^.*>/\\\\\\s]+$',
        description:
          'Name of the durable pull consumer. The server keeps its position (what was acknowledged) ' +
          'across restarts, so it must stay the same; workers that share the work use the same one. ' +
          'Absent: `sluice-<pipeline>-<source id>`.',
        examples: ['sluice-orders'],
      }),
    ),
    subjects: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        description:
          'Subjects the consumer reads (its filter subjects), with NATS wildcards (`*` one token, ' +
          '`>` the rest). Absent: every subject of the stream. With `create`, also the subjects of ' +
          'the stream when it is created. More than one needs nats-server 2.10 or later.',
        examples: [['orders.*.created', 'orders.eu.>']],
      }),
    ),
    create: Type.Boolean({
      default: false,
      description:
        'Create the stream (on `subjects`, file storage) and the durable consumer when they do not ' +
        'exist yet, with the options below. `false`: bind to an existing stream and consumer, and ' +
        'fail at start when either is missing. An existing consumer is used as it is: its own ' +
        '`ack_wait`, `max_deliver` and `max_ack_pending` apply.',
      examples: [true],
    }),
    deliver_policy: Type.Enum(['all', 'new'], {
      default: 'all',
      description:
        'Where a consumer created by `create` starts: `all` — the first message of the stream; ' +
        '`new` — messages published after it is created.',
      examples: ['new'],
    }),
    ack_wait: Type.String({
      default: '30s',
      description:
        'How long the server waits for the acknowledgement of a delivered message before it ' +
        'delivers it again (consumer created by `create`). Acknowledgements wait for the checkpoint, ' +
        'so the source tells the server it is still working on its unacknowledged messages every ' +
        'third of this time: a checkpoint interval longer than `ack_wait` causes no redelivery while ' +
        'the source runs. After a crash the server redelivers once `ack_wait` has passed.',
      examples: ['1m'],
    }),
    max_deliver: Type.Integer({
      minimum: -1,
      default: 10,
      description:
        'Most deliveries of one message (consumer created by `create`; `-1`: no limit). A message ' +
        'delivered for the last allowed time after earlier deliveries were never acknowledged (a ' +
        'pipeline that crashes on it) goes to the dead-letter output with the reason and is ' +
        'terminated once the checkpoint covering it is durable.',
      examples: [5],
    }),
    max_ack_pending: Type.Integer({
      minimum: 1,
      default: 1000,
      description:
        'Most messages delivered and not acknowledged (consumer created by `create`); the server ' +
        'delivers no more meanwhile. The source asks for an early checkpoint when half of it is read ' +
        'and unacknowledged.',
      examples: [10000],
    }),
    pull_batch: Type.Integer({
      minimum: 1,
      maximum: 100_000,
      default: 500,
      description:
        'Messages asked for in one pull request; also about the most the source buffers ahead of ' +
        'the pipeline.',
      examples: [100],
    }),
    format: Type.Enum(['json', 'text', 'bytes'], {
      default: 'json',
      description:
        'How a message payload becomes a record: `json` — the payload is one JSON object, which is ' +
        'the record (any other payload is a dead letter with the reason); `text` — `{ value }` with ' +
        'the payload as UTF-8 text; `bytes` — `{ value }` with the payload in base64.',
      examples: ['text'],
    }),
    metadata: Type.Boolean({
      default: true,
      description:
        'Add the field `_nats` to each record: `{ subject, stream, sequence, delivered, headers }` ' +
        '(`sequence`: the stream sequence; `delivered`: how many times the message was delivered; ' +
        '`headers`: the message headers by name, the last value winning when a name repeats, `{}` ' +
        'when there are none).',
      examples: [false],
    }),
    ...inputLimitFields,
  },
  { additionalProperties: false },
);

export type NatsSourceConfig = Static<typeof natsSourceConfig>;
