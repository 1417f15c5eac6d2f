/**
 * The `rabbitmq` sink: each record published as one persistent JSON message to an exchange, with
 * a fixed routing key or one an SQL expression gives, on a confirm channel; a write resolves once
 * the broker confirmed every message of the batch.
 */

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
import type { Message as AmqpMessage, ChannelModel, ConfirmChannel } from 'amqplib';
import { connect, describeError } from './connection.ts';
import { type RabbitmqSinkConfig, rabbitmqSinkConfig } from './sink-config.ts';

type CompiledExpression = ReturnType<typeof compileExpression>;

/** A message ready to publish: which record it is, where it goes, what it says. */
interface Outgoing {
  index: number;
  routingKey: string;
  body: Buffer;
}

/** A message published and not confirmed yet. */
interface InFlight {
  message: Outgoing;
  /** Why the broker returned it (`mandatory` with no queue bound), when it did. */
  returned?: string;
  confirmed: boolean;
}

/** One confirm channel's life. */
interface Session {
  readonly connection: ChannelModel;
  readonly channel: ConfirmChannel;
  live: boolean;
  /** Published on it, oldest first, from `head` on: returns are matched against these. */
  inFlight: InFlight[];
  head: number;
}

/** No confirms within `confirm_timeout`: fails the job rather than being retried. */
class ConfirmTimeout extends SluiceError {
  constructor(message: string, step: string) {
    super('SINK_UNAVAILABLE', message, { step });
  }
}

/** Why `key` is no routing key to publish with, or undefined. */
function routingKeyProblem(key: unknown): string | undefined {
  if (typeof key !== 'string')
    return key === null || key === undefined ? 'gave NULL' : `gave a ${typeof key}, not text`;
  if (Buffer.byteLength(key) > 255) return 'gave a routing key longer than 255 bytes';
  return undefined;
}

class RabbitmqSink implements Sink {
  readonly #config: RabbitmqSinkConfig;
  readonly #step: string;
  readonly #routingKey: CompiledExpression | undefined;
  readonly #confirmTimeout: number;
  readonly #policy: RetryPolicy;
  #session: Session | undefined;
  #log: Logger | undefined;
  #signal: AbortSignal | undefined;

  constructor(config: RabbitmqSinkConfig, step: string, sink?: SinkInfo) {
    this.#config = config;
    this.#step = step;
    if ((config.routing_key === undefined) === (config.routing_key_expression === undefined)) {
      throw new SluiceError(
        'CONFIG_INVALID',
        'give either `routing_key` or `routing_key_expression`, not both or neither',
        { step, path: 'routing_key' },
      );
    }
    if (config.routing_key !== undefined && routingKeyProblem(config.routing_key) !== undefined) {
      throw new SluiceError('CONFIG_INVALID', 'routing_key is longer than 255 bytes', {
        step,
        path: 'routing_key',
      });
    }
    if (config.routing_key_expression !== undefined) {
      const source: string | Expr =
        sink === undefined ? config.routing_key_expression : sink.expression('routing_key_expression');
      this.#routingKey = compileExpression(source, { step, path: 'routing_key_expression' });
    }
    this.#confirmTimeout = parseDuration(config.confirm_timeout, 'confirm_timeout');
    this.#policy = retryPolicy(config.retry);
  }

  async open(ctx: SinkContext): Promise<void> {
    this.#log = ctx.log;
    this.#signal = ctx.signal;
    await retry(() => this.#connect(), this.#retryPolicy('cannot connect'), ctx.signal);
  }

  #retryPolicy(what: string): RetryPolicy {
    return {
      ...this.#policy,
      // No confirm within the timeout fails the job: the messages may be in the broker already.
      isRetryable: (err) => err instanceof SluiceError && err.retryable && !(err instanceof ConfirmTimeout),
      onRetry: (err, attempt, delay) =>
        this.#log?.warn(`rabbitmq: ${what}; retrying`, {
          sink: this.#step,
          attempt,
          delay,
          error: describeError(err),
        }),
    };
  }

  /** Opens a connection and a confirm channel, declaring or checking the exchange. */
  async #connect(): Promise<Session> {
    const connection = await connect(this.#config, { code: 'SINK_UNAVAILABLE', step: this.#step });
    let channel: ConfirmChannel;
    const { exchange, exchange_type } = this.#config;
    try {
      channel = await connection.createConfirmChannel();
      // A refusal closes the channel with an 'error' event: the awaited call below reports it.
      channel.on('error', () => {});
      if (exchange_type !== undefined)
        await channel.assertExchange(exchange, exchange_type, { durable: true });
      else if (exchange !== '') await channel.checkExchange(exchange);
    } catch (err) {
      await connection.close().catch(() => {});
      const code = (err as { code?: unknown }).code;
      if (code === 404 || code === 406 || code === 403)
        throw new SluiceError('CONFIG_INVALID', `rabbitmq: exchange '${exchange}': ${describeError(err)}`, {
          step: this.#step,
          path: 'exchange',
          cause: err,
        });
      throw new SluiceError('SINK_UNAVAILABLE', `rabbitmq: ${describeError(err)}`, {
        step: this.#step,
        cause: err,
      });
    }
    const session: Session = { connection, channel, live: true, inFlight: [], head: 0 };
    const lost = () => {
      if (!session.live) return;
      session.live = false;
      connection.close().catch(() => {});
    };
    connection.on('close', lost);
    connection.on('error', () => {});
    channel.on('close', lost);
    channel.on('error', (err: Error) =>
      this.#log?.warn('rabbitmq: channel error', { sink: this.#step, error: describeError(err) }),
    );
    channel.on('return', (msg: AmqpMessage) => this.#returned(session, msg));
    this.#session = session;
    return session;
  }

  /**
   * A message came back unroutable. The broker sends `basic.return` before the confirm of the
   * same message and in publishing order, so it is the oldest unconfirmed one with its key and body.
   */
  #returned(session: Session, msg: AmqpMessage): void {
    const fields = msg.fields as { replyCode?: number; replyText?: string };
    for (let i = session.head; i < session.inFlight.length; i++) {
      const f = session.inFlight[i] as InFlight;
      if (f.confirmed || f.returned !== undefined) continue;
      if (f.message.routingKey !== msg.fields.routingKey || !f.message.body.equals(msg.content)) continue;
      f.returned =
        `the broker returned it: no queue is bound to exchange '${msg.fields.exchange}' for routing key ` +
        `'${msg.fields.routingKey}' (${fields.replyCode ?? 312} ${fields.replyText ?? 'NO_ROUTE'})`;
      return;
    }
  }

  async write(batch: SinkBatch): Promise<SinkRejection[] | undefined> {
    const rejections: SinkRejection[] = [];
    let messages: Outgoing[] = [];
    const { records, texts } = batch;
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as Row;
      let routingKey = this.#config.routing_key;
      if (this.#routingKey !== undefined) {
        let value: unknown;
        try {
          value = this.#routingKey.evaluate(record);
        } catch (err) {
          rejections.push({ index: i, message: `routing_key_expression failed: ${describeError(err)}` });
          continue;
        }
        const problem = routingKeyProblem(value);
        if (problem !== undefined || typeof value !== 'string') {
          rejections.push({ index: i, message: `routing_key_expression ${problem}` });
          continue;
        }
        routingKey = value;
      }
      let text = texts?.[i];
      if (text === undefined) {
        try {
          text = JSON.stringify(record);
        } catch (err) {
          rejections.push({ index: i, message: `cannot be written as JSON: ${describeError(err)}` });
          continue;
        }
      }
      if (routingKey !== undefined) messages.push({ index: i, routingKey, body: Buffer.from(text) });
    }
    await retry(
      async () => {
        const failed = await this.#publish(messages, rejections);
        if (failed.length === 0) return;
        // Not confirmed because the channel closed: published again on a new one.
        messages = failed;
        throw new SluiceError(
          'SINK_UNAVAILABLE',
          `rabbitmq: the connection closed before the broker confirmed ${failed.length} message(s)`,
          { step: this.#step },
        );
      },
      this.#retryPolicy('publishing failed'),
      this.#signal,
    );
    return rejections.length > 0 ? rejections.sort((a, b) => a.index - b.index) : undefined;
  }

  /**
   * Publishes `messages` on the current channel (a new one if it closed), at most `max_in_flight`
   * unconfirmed, and waits for the broker's confirms. Records the broker returned or nacked go to
   * `rejections`; returns the messages left unconfirmed by a closed channel (to publish again).
   */
  async #publish(messages: Outgoing[], rejections: SinkRejection[]): Promise<Outgoing[]> {
    if (messages.length === 0) return [];
    const session = this.#session?.live ? this.#session : await this.#connect();
    const { exchange, persistent, mandatory, max_in_flight: window } = this.#config;
    const failed: Outgoing[] = [];
    return new Promise((resolve, reject) => {
      let open = messages.length;
      let next = 0;
      let inFlight = 0;
      let waitingForDrain = false;
      let finished = false;
      const finish = (err?: Error) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        session.channel.off('close', onClose);
        if (err) reject(err);
        else resolve(failed);
      };
      const timer = setTimeout(() => {
        finish(
          new ConfirmTimeout(
            `rabbitmq: the broker did not confirm ${open} message(s) within ${this.#config.confirm_timeout}`,
            this.#step,
          ),
        );
      }, this.#confirmTimeout);
      const settle = (f: InFlight, err: unknown) => {
        f.confirmed = true;
        while (session.head < session.inFlight.length && session.inFlight[session.head]?.confirmed)
          session.head++;
        if (session.head === session.inFlight.length) {
          session.inFlight = [];
          session.head = 0;
        }
        if (err) {
          if (err instanceof Error && err.message === 'message nacked')
            rejections.push({
              index: f.message.index,
              message:
                'the broker refused it (basic.nack): a queue it routes to refuses messages (full, or being deleted)',
            });
          else failed.push(f.message);
        } else if (f.returned !== undefined) {
          rejections.push({ index: f.message.index, message: f.returned });
        }
        inFlight--;
        if (--open === 0) finish();
        else send();
      };
      const send = () => {
        // A closed channel: what is left is not published here (no drain will come).
        while (
          next < messages.length &&
          !finished &&
          (!session.live || (inFlight < window && !waitingForDrain))
        ) {
          const message = messages[next++] as Outgoing;
          if (!session.live) {
            failed.push(message);
            if (--open === 0) finish();
            continue;
          }
          const f: InFlight = { message, confirmed: false };
          session.inFlight.push(f);
          inFlight++;
          let ok = true;
          try {
            ok = session.channel.publish(
              exchange,
              message.routingKey,
              message.body,
              { persistent, mandatory, contentType: 'application/json' },
              (err) => settle(f, err),
            );
          } catch (err) {
            // The channel closed under the publish (amqplib throws on a closed channel).
            settle(f, err ?? new Error('channel closed'));
            continue;
          }
          if (!ok) {
            waitingForDrain = true;
            session.channel.once('drain', () => {
              waitingForDrain = false;
              send();
            });
          }
        }
      };
      const onClose = () => send();
      session.channel.on('close', onClose);
      send();
    });
  }

  async close(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    if (session === undefined || !session.live) return;
    session.live = false;
    await session.channel.close().catch(() => {});
    await session.connection.close().catch(() => {});
  }

  async abort(): Promise<void> {
    await this.close();
  }
}

/** The `rabbitmq` sink spec. */
export const rabbitmqSink = defineSink({
  type: 'rabbitmq',
  summary: 'Publishes records as persistent JSON messages to a RabbitMQ exchange, with publisher confirms.',
  delivery: 'at-least-once',
  description: [
    'Each record becomes one message: its body is the record as JSON (a record read as JSON that',
    'no step changed is published as the text it was read from), content type',
    '`application/json`, persistent unless `persistent` is off, published to `exchange` with',
    '`routing_key` or what `routing_key_expression` gives for it. The channel is a confirm channel:',
    'a write resolves only once the broker confirmed every message of the batch, with at most',
    '`max_in_flight` unconfirmed at a time (backpressure), so a checkpoint never covers a message',
    'the broker does not have. Delivery is at-least-once: a restart republishes what was written',
    'after the last checkpoint (AMQP 0.9.1 has no transactions that span a checkpoint).',
    '',
    'A record whose routing key expression fails or gives no usable key, that cannot be written as',
    'JSON, that the broker returns because no queue is bound for it (`mandatory`, on by default), or',
    'that the broker refuses (`basic.nack`: a queue with `x-overflow: reject-publish` is full) goes',
    'to the dead-letter output with the reason; the rest of the batch is published. When the',
    'connection drops, the messages not confirmed are published again on a new connection, with',
    'capped backoff (`retry`). No confirm within `confirm_timeout` fails the job (SINK_UNAVAILABLE),',
    'which restarts from its last checkpoint. With `exchange_type` the sink declares the exchange;',
    'otherwise a named exchange must exist.',
  ].join('\n'),
  example: [
    'type: rabbitmq',
    'url: amqp://127.0.0.1:5672',
    'exchange: orders',
    'exchange_type: topic',
    "routing_key_expression: \"'order.' || region || '.created'\"",
  ].join('\n'),
  config: rabbitmqSinkConfig,
  expressions(config): ExpressionOptions {
    const options: { [path: string]: string } = {};
    if (config.routing_key_expression !== undefined)
      options.routing_key_expression = config.routing_key_expression;
    return options;
  },
  create(config, sink) {
    return new RabbitmqSink(config, sink?.id ?? 'rabbitmq', sink);
  },
});
