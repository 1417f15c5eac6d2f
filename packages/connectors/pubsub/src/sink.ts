/**
 * The `pubsub` sink: publishes each record as a Pub/Sub message through the client's batching
 * publisher, with ordering keys and attributes from SQL expressions.
 */

import type { PubSub, Topic } from '@google-cloud/pubsub';
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
import { describeError, grpcCode, pubsubClient, Status } from './connection.ts';
import { topicPath } from './connection-config.ts';
import { type PubsubSinkConfig, pubsubSinkConfig } from './sink-config.ts';

type CompiledExpression = ReturnType<typeof compileExpression>;

/** The most data one message may carry. */
const MAX_MESSAGE_BYTES = 10_000_000;

/** A message ready to publish: which record it is and what it carries. */
interface Message {
  index: number;
  data: Buffer;
  attributes: { [name: string]: string } | undefined;
  orderingKey: string | undefined;
}

/** An attribute or ordering key value as text, or why it is none. */
function textOf(value: unknown): string | { problem: string } {
  if (value === null || value === undefined) return { problem: 'gave NULL' };
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  return { problem: `gave a ${Array.isArray(value) ? 'list' : typeof value}, not text` };
}

/** Whether the service refused a publish for good (retrying the same request will not help). */
function refusedForGood(err: unknown): boolean {
  const code = grpcCode(err);
  return code === Status.INVALID_ARGUMENT || code === Status.FAILED_PRECONDITION;
}

class PubsubSink implements Sink {
  readonly #config: PubsubSinkConfig;
  readonly #step: string;
  readonly #orderingKey: CompiledExpression | undefined;
  readonly #attributes: [string, CompiledExpression][] = [];
  readonly #policy: RetryPolicy;
  readonly #maxLatency: number;
  #pubsub: PubSub | undefined;
  #topic: Topic | undefined;
  #log: Logger | undefined;
  #signal: AbortSignal | undefined;

  constructor(config: PubsubSinkConfig, step: string, sink?: SinkInfo) {
    this.#config = config;
    this.#step = step;
    const compile = (path: string, text: string) =>
      compileExpression(sink === undefined ? text : (sink.expression(path) as string | Expr), { step, path });
    if (config.ordering_key_expression !== undefined)
      this.#orderingKey = compile('ordering_key_expression', config.ordering_key_expression);
    for (const [name, text] of Object.entries(config.attributes ?? {})) {
      if (name.startsWith('goog'))
        throw new SluiceError(
          'CONFIG_INVALID',
          `attribute '${name}': names starting with 'goog' are reserved`,
          {
            step,
            path: `attributes.${name}`,
          },
        );
      this.#attributes.push([name, compile(`attributes.${name}`, text)]);
    }
    this.#policy = retryPolicy(config.retry);
    this.#maxLatency = parseDuration(config.max_latency, 'max_latency');
  }

  async open(ctx: SinkContext): Promise<void> {
    this.#log = ctx.log;
    this.#signal = ctx.signal;
    const pubsub = await pubsubClient(this.#config, ctx.baseDir);
    this.#pubsub = pubsub;
    const name = topicPath(this.#config.project, this.#config.topic);
    const topic = pubsub.topic(name, {
      batching: {
        maxMessages: this.#config.max_messages,
        maxBytes: this.#config.max_bytes,
        maxMilliseconds: this.#maxLatency,
      },
      messageOrdering: this.#orderingKey !== undefined,
    });
    const policy: RetryPolicy = {
      ...this.#policy,
      onRetry: (err, attempt, delay) =>
        ctx.log.warn('pubsub: cannot reach the topic; retrying', {
          sink: ctx.id,
          attempt,
          delay,
          error: describeError(err),
        }),
    };
    try {
      const [exists] = await retry(() => topic.exists(), policy, ctx.signal);
      if (!exists)
        throw new SluiceError('CONFIG_INVALID', `pubsub: topic '${name}' does not exist; create it first`, {
          step: ctx.id,
          path: 'topic',
        });
    } catch (err) {
      await pubsub.close().catch(() => {});
      if (err instanceof SluiceError) throw err;
      throw new SluiceError(
        'SINK_UNAVAILABLE',
        `pubsub: cannot reach topic '${name}': ${describeError(err)}`,
        {
          step: ctx.id,
          path: 'topic',
          cause: err,
        },
      );
    }
    this.#topic = topic;
  }

  /** The message for record `index`, or why it goes to the dead letters. */
  #message(record: Row, index: number, text: string | undefined): Message | SinkRejection {
    let orderingKey: string | undefined;
    if (this.#orderingKey !== undefined) {
      let value: unknown;
      try {
        value = this.#orderingKey.evaluate(record);
      } catch (err) {
        return { index, message: `ordering_key_expression failed: ${describeError(err)}` };
      }
      const key = textOf(value);
      if (typeof key !== 'string') return { index, message: `ordering_key_expression ${key.problem}` };
      if (key !== '') orderingKey = key;
    }
    let attributes: { [name: string]: string } | undefined;
    for (const [name, expression] of this.#attributes) {
      let value: unknown;
      try {
        value = expression.evaluate(record);
      } catch (err) {
        return { index, message: `attribute '${name}' failed: ${describeError(err)}` };
      }
      const attr = textOf(value);
      if (typeof attr !== 'string') return { index, message: `attribute '${name}' ${attr.problem}` };
      if (Buffer.byteLength(attr) > 1024)
        return { index, message: `attribute '${name}' is longer than the 1024 bytes Pub/Sub allows` };
      attributes ??= {};
      attributes[name] = attr;
    }
    let payload = text;
    if (payload === undefined) {
      try {
        payload = JSON.stringify(record);
      } catch (err) {
        return { index, message: `cannot be written as JSON: ${describeError(err)}` };
      }
    }
    const data = Buffer.from(payload);
    if (data.length > MAX_MESSAGE_BYTES)
      return {
        index,
        message: `its JSON is ${data.length} bytes, over the 10 MB a Pub/Sub message may carry`,
      };
    return { index, data, attributes, orderingKey };
  }

  async write(batch: SinkBatch): Promise<SinkRejection[] | undefined> {
    const rejections: SinkRejection[] = [];
    let messages: Message[] = [];
    const { records, texts } = batch;
    for (let i = 0; i < records.length; i++) {
      const m = this.#message(records[i] as Row, i, texts?.[i]);
      if ('message' in m) rejections.push(m);
      else messages.push(m);
    }
    const policy: RetryPolicy = {
      ...this.#policy,
      onRetry: (err, attempt, delay) =>
        this.#log?.warn('pubsub: publish failed; retrying', {
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
        messages = failed.map((f) => f.message);
        throw new SluiceError(
          'SINK_UNAVAILABLE',
          `pubsub: publishing ${failed.length} message(s) failed: ${describeError(failed[0]?.error)}`,
          { step: this.#step, cause: failed[0]?.error },
        );
      },
      policy,
      this.#signal,
    );
    return rejections.length > 0 ? rejections.sort((a, b) => a.index - b.index) : undefined;
  }

  /**
   * Hands `messages` to the batching publisher and waits for every one to be published. Messages
   * the service refused for good go to `rejections`; returns those that failed otherwise.
   */
  async #publish(
    messages: Message[],
    rejections: SinkRejection[],
  ): Promise<{ message: Message; error: unknown }[]> {
    const topic = this.#topic;
    if (topic === undefined)
      throw new SluiceError('INTERNAL', 'pubsub sink written before open', { step: this.#step });
    const sent = messages.map((m) =>
      topic.publishMessage({
        data: m.data,
        ...(m.attributes === undefined ? {} : { attributes: m.attributes }),
        ...(m.orderingKey === undefined ? {} : { orderingKey: m.orderingKey }),
      }),
    );
    topic.flush().catch(() => {});
    const settled = await Promise.allSettled(sent);
    const failed: { message: Message; error: unknown }[] = [];
    const paused = new Set<string>();
    for (let i = 0; i < settled.length; i++) {
      const result = settled[i];
      const message = messages[i] as Message;
      if (result === undefined || result.status === 'fulfilled') continue;
      // A failed publish pauses its ordering key until it is resumed.
      if (message.orderingKey !== undefined) paused.add(message.orderingKey);
      if (refusedForGood(result.reason))
        rejections.push({
          index: message.index,
          message: `the service refused it: ${describeError(result.reason)}`,
        });
      else failed.push({ message, error: result.reason });
    }
    for (const key of paused) topic.resumePublishing(key);
    return failed;
  }

  async close(): Promise<void> {
    const pubsub = this.#pubsub;
    this.#pubsub = undefined;
    this.#topic = undefined;
    if (pubsub !== undefined) await pubsub.close();
  }

  async abort(): Promise<void> {
    await this.close().catch(() => {});
  }
}

/** The `pubsub` sink spec. */
export const pubsubSink = defineSink({
  type: 'pubsub',
  summary:
    'Publishes records as JSON messages to a Google Cloud Pub/Sub topic, with ordering keys and attributes.',
  delivery: 'at-least-once',
  description: [
    'Each record becomes one message: its data is the record as JSON (a record read as JSON that no',
    'step changed is published as the text it was read from), its attributes what `attributes` gives',
    'for it, its ordering key what `ordering_key_expression` gives. Messages go through the',
    'client’s batching publisher (`max_messages`, `max_bytes`, `max_latency` per `Publish` request);',
    'a write resolves only once the service has accepted every message of the batch, so a checkpoint',
    'never covers a message the topic does not have. With an ordering key the client publishes',
    'messages of one key in order, one request at a time.',
    '',
    'Delivery: at-least-once. Pub/Sub has no transaction and no publish-side deduplication, so a',
    'restart publishes again what was written after the last checkpoint. Give each message an',
    'attribute that identifies the record (its key, or `_pubsub.message_id` behind a `pubsub`',
    'source) so that consumers can drop repeats.',
    '',
    'A record whose ordering key or attribute expression fails or gives NULL, that cannot be written',
    'as JSON, whose data is over 10 MB or an attribute over 1024 bytes, or that the service refuses',
    'with INVALID_ARGUMENT goes to the dead-letter output with the reason. A publish that fails',
    'otherwise (the service unavailable, a deadline) is retried with capped backoff (`retry`); a',
    'failed ordering key is resumed before the retry.',
    '',
    'Tested against a stand-in of the Pub/Sub gRPC API (the package’s `test-support-server.ts`), not',
    'against the real service: no Pub/Sub emulator can run on the machines this was built on.',
  ].join('\n'),
  example: [
    'type: pubsub',
    'project: my-project',
    'topic: orders-enriched',
    'ordering_key_expression: customer_id',
    "attributes: { region: region, order_id: 'CAST(order_id AS TEXT)' }",
  ].join('\n'),
  config: pubsubSinkConfig,
  expressions(config): ExpressionOptions {
    const options: { [path: string]: string } = {};
    if (config.ordering_key_expression !== undefined)
      options.ordering_key_expression = config.ordering_key_expression;
    for (const [name, text] of Object.entries(config.attributes ?? {})) options[`attributes.${name}`] = text;
    return options;
  },
  create(config, sink) {
    return new PubsubSink(config, sink?.id ?? 'pubsub', sink);
  },
});
