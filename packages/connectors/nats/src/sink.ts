/**
 * The `nats` sink: each record published to JetStream as one JSON message, with a message id
 * when `msg_id_expression` gives one, waiting for the stream's acknowledgements.
 */

import { JetStreamApiError, type JetStreamClient, jetstream } from '@nats-io/jetstream';
import { type NatsConnection, RequestError } from '@nats-io/transport-node';
import {
  compileExpression,
  defineSink,
  type Expr,
  type ExpressionOptions,
  type Logger,
  parseDuration,
  type RetryPolicy,
  type Row,
  retry,
  retryPolicy,
  type Sink,
  type SinkBatch,
  type SinkContext,
  type SinkInfo,
  type SinkRejection,
  SluiceError,
} from '@sluice/core';
import { closeNats, connectNats, describeError } from './connection.ts';
import { type NatsSinkConfig, natsSinkConfig } from './sink-config.ts';

type CompiledExpression = ReturnType<typeof compileExpression>;

/** A message ready to publish: which record it is, where it goes, what it says, its id. */
interface Message {
  index: number;
  subject: string;
  payload: string;
  id: string | undefined;
}

/** Why `subject` is no subject to publish to, or undefined. */
export function subjectProblem(subject: unknown): string | undefined {
  if (typeof subject !== 'string')
    return subject === null || subject === undefined ? 'gave NULL' : `gave a ${typeof subject}, not text`;
  if (subject.length === 0) return 'gave an empty subject';
  if (/\s/.test(subject)) return `gave '${subject}', which has white space`;
  for (const token of subject.split('.')) {
    if (token === '') return `gave '${subject}', which has an empty token`;
    if (token === '*' || token === '>') return `gave '${subject}', which has a wildcard`;
  }
  return undefined;
}

/**
 * Why the server refused a publish for good, or undefined for a failure worth retrying (a
 * timeout, a lost connection). For good: an error the stream answered (message too large, a
 * wrong expected stream), no stream taking the subject, a payload over the server's limit.
 */
export function refusal(err: unknown, subject: string): string | undefined {
  if (err instanceof JetStreamApiError) return `the stream refused it: ${err.message} (error ${err.code})`;
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof RequestError && cause.isNoResponders())
    return `no stream takes subject '${subject}' (the server answered: no responders)`;
  const message = describeError(err);
  if (/max_payload/.test(message)) return `it is larger than the server's max_payload: ${message}`;
  return undefined;
}

class NatsSink implements Sink {
  readonly #config: NatsSinkConfig;
  readonly #step: string;
  readonly #subject: CompiledExpression | undefined;
  readonly #msgId: CompiledExpression | undefined;
  readonly #ackTimeout: number;
  readonly #policy: RetryPolicy;
  #nc: NatsConnection | undefined;
  #js: JetStreamClient | undefined;
  #log: Logger | undefined;
  #signal: AbortSignal | undefined;
  /** Publishes the stream answered as duplicates (a message id it had stored already). */
  duplicates = 0;

  constructor(config: NatsSinkConfig, step: string, sink?: SinkInfo) {
    this.#config = config;
    this.#step = step;
    if ((config.subject === undefined) === (config.subject_expression === undefined))
      throw new SluiceError(
        'CONFIG_INVALID',
        'give either `subject` or `subject_expression`, not both or neither',
        {
          step,
          path: 'subject',
        },
      );
    if (config.subject !== undefined) {
      const problem = subjectProblem(config.subject);
      if (problem !== undefined)
        throw new SluiceError(
          'CONFIG_INVALID',
          `subject ${problem.replace(/^gave /, '')}: publish to a plain subject`,
          {
            step,
            path: 'subject',
          },
        );
    }
    const compile = (path: 'subject_expression' | 'msg_id_expression', text: string) =>
      compileExpression(sink === undefined ? text : (sink.expression(path) as string | Expr), { step, path });
    if (config.subject_expression !== undefined)
      this.#subject = compile('subject_expression', config.subject_expression);
    if (config.msg_id_expression !== undefined)
      this.#msgId = compile('msg_id_expression', config.msg_id_expression);
    this.#ackTimeout = parseDuration(config.ack_timeout, 'ack_timeout');
    this.#policy = retryPolicy(config.retry);
  }

  async open(ctx: SinkContext): Promise<void> {
    this.#log = ctx.log;
    this.#signal = ctx.signal;
    const policy: RetryPolicy = {
      ...this.#policy,
      onRetry: (err, attempt, delay) =>
        ctx.log.warn('nats: cannot connect; retrying', {
          sink: ctx.id,
          attempt,
          delay,
          error: describeError(err),
        }),
    };
    this.#nc = await retry(
      () => connectNats(this.#config, { code: 'SINK_UNAVAILABLE', step: ctx.id, log: ctx.log, kind: 'sink' }),
      policy,
      ctx.signal,
    );
    this.#js = jetstream(this.#nc, { timeout: this.#ackTimeout });
  }

  async write(batch: SinkBatch): Promise<SinkRejection[] | undefined> {
    const rejections: SinkRejection[] = [];
    let messages: Message[] = [];
    const { records, texts } = batch;
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as Row;
      let subject = this.#config.subject as string;
      if (this.#subject !== undefined) {
        let value: unknown;
        try {
          value = this.#subject.evaluate(record);
        } catch (err) {
          rejections.push({ index: i, message: `subject_expression failed: ${describeError(err)}` });
          continue;
        }
        const problem = subjectProblem(value);
        if (problem !== undefined) {
          rejections.push({ index: i, message: `subject_expression ${problem}` });
          continue;
        }
        subject = value as string;
      }
      let id: string | undefined;
      if (this.#msgId !== undefined) {
        let value: unknown;
        try {
          value = this.#msgId.evaluate(record);
        } catch (err) {
          rejections.push({ index: i, message: `msg_id_expression failed: ${describeError(err)}` });
          continue;
        }
        if (value === null || value === undefined || value === '') {
          rejections.push({
            index: i,
            message: 'msg_id_expression gave NULL or an empty text: no message id',
          });
          continue;
        }
        id = typeof value === 'string' ? value : JSON.stringify(value);
      }
      let payload = texts?.[i];
      if (payload === undefined) {
        try {
          payload = JSON.stringify(record);
        } catch (err) {
          rejections.push({ index: i, message: `cannot be written as JSON: ${describeError(err)}` });
          continue;
        }
      }
      messages.push({ index: i, subject, payload, id });
    }
    const policy: RetryPolicy = {
      ...this.#policy,
      onRetry: (err, attempt, delay) =>
        this.#log?.warn('nats: publish failed; retrying', {
          sink: this.#step,
          attempt,
          delay,
          error: describeError(err),
        }),
    };
    await retry(
      async () => {
        const failed = await this.#publish(messages, rejections);
        if (failed.length === 0) return;
        // Published again with the same message ids: the stream stores each once.
        messages = failed.map((f) => f.message);
        throw new SluiceError(
          'SINK_UNAVAILABLE',
          `nats: publishing ${failed.length} message(s) failed: ${describeError(failed[0]?.error)}`,
          { step: this.#step, cause: failed[0]?.error },
        );
      },
      policy,
      this.#signal,
    );
    return rejections.length > 0 ? rejections.sort((a, b) => a.index - b.index) : undefined;
  }

  /**
   * Publishes `messages` with at most `max_in_flight` waiting for the stream's acknowledgement.
   * Records the server refused for good go to `rejections`; returns the messages that failed
   * otherwise (to retry).
   */
  async #publish(
    messages: Message[],
    rejections: SinkRejection[],
  ): Promise<{ message: Message; error: unknown }[]> {
    const js = this.#js;
    if (js === undefined)
      throw new SluiceError('INTERNAL', 'nats sink written before open', { step: this.#step });
    const failed: { message: Message; error: unknown }[] = [];
    let next = 0;
    const worker = async () => {
      while (next < messages.length) {
        const message = messages[next++] as Message;
        try {
          const ack = await js.publish(
            message.subject,
            message.payload,
            message.id === undefined
              ? { timeout: this.#ackTimeout }
              : { msgID: message.id, timeout: this.#ackTimeout },
          );
          if (ack.duplicate) this.duplicates++;
        } catch (err) {
          const why = refusal(err, message.subject);
          if (why !== undefined) rejections.push({ index: message.index, message: why });
          else failed.push({ message, error: err });
        }
      }
    };
    const workers: Promise<void>[] = [];
    for (let i = 0; i < Math.min(this.#config.max_in_flight, messages.length); i++) workers.push(worker());
    await Promise.all(workers);
    return failed;
  }

  async close(): Promise<void> {
    const nc = this.#nc;
    this.#nc = undefined;
    if (nc !== undefined) await closeNats(nc);
  }

  async abort(): Promise<void> {
    await this.close();
  }
}

/** The `nats` sink spec. */
export const natsSink = defineSink({
  type: 'nats',
  summary: 'Publishes records as JSON messages to JetStream, with message ids for deduplication.',
  delivery: 'at-least-once',
  description: [
    'Each record becomes one message: its payload is the record as JSON (a record read as JSON that',
    'no step changed is published as the text it was read from), its subject `subject` or what',
    '`subject_expression` gives for it; a stream must take the subject. A write resolves only once',
    'the stream has acknowledged every message of the batch (at most `max_in_flight` waiting at',
    'once), so a checkpoint never covers a message the stream does not have.',
    '',
    'Delivery: at-least-once, and exactly-once into the stream with message ids. JetStream has no',
    'transaction to hold messages until the checkpoint, so a restart publishes again what was written',
    'after the last checkpoint. With `msg_id_expression` each message carries the header',
    '`Nats-Msg-Id`, and the stream stores one message per id within its duplicate window (2 minutes by',
    'default; the stream’s `duplicate_window`): records written again after a restart with the same',
    'ids are acknowledged as duplicates and not stored twice. Take the id from what identifies the',
    "record — its key, or its source coordinates (`_nats.stream || ':' || _nats.sequence` behind a",
    '`nats` source, which gives each record the same coordinates on every delivery).',
    '',
    'A record whose subject or id expression fails or gives nothing usable, that cannot be written',
    'as JSON, or that the server refuses for good (no stream takes its subject, larger than the',
    'stream’s `max_msg_size` or the server’s `max_payload`) goes to the dead-letter output with the',
    'reason. A publish that fails otherwise (no acknowledgement within `ack_timeout`, a lost',
    'connection) is retried with capped backoff (`retry`), with the same message id; the client',
    'reconnects by itself meanwhile.',
  ].join('\n'),
  example: [
    'type: nats',
    "servers: ['nats://127.0.0.1:4222']",
    'subject_expression: "\'orders.\' || region"',
    'msg_id_expression: "\'order-\' || order_id"',
  ].join('\n'),
  config: natsSinkConfig,
  expressions(config): ExpressionOptions {
    const options: { [path: string]: string } = {};
    if (config.subject_expression !== undefined) options.subject_expression = config.subject_expression;
    if (config.msg_id_expression !== undefined) options.msg_id_expression = config.msg_id_expression;
    return options;
  },
  create(config, sink) {
    return new NatsSink(config, sink?.id ?? 'nats', sink);
  },
});
