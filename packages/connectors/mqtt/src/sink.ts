/**
 * The `mqtt` sink: each record published as one JSON message, to a fixed topic or one an SQL
 * expression gives; a write resolves once the broker acknowledged its messages (QoS 1/2).
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
import type { MqttClient } from 'mqtt';
import { connectClient, describeError } from './connection.ts';
import { type MqttSinkConfig, mqttSinkConfig } from './sink-config.ts';

type CompiledExpression = ReturnType<typeof compileExpression>;

/** A message ready to publish: which record it is, where it goes, what it says. */
interface Message {
  index: number;
  topic: string;
  payload: string;
}

/** Why `topic` is no topic to publish to, or undefined. */
function topicProblem(topic: unknown): string | undefined {
  if (typeof topic !== 'string')
    return topic === null || topic === undefined ? 'gave NULL' : `gave a ${typeof topic}, not text`;
  if (topic.length === 0) return 'gave an empty topic';
  if (topic.includes('+') || topic.includes('#')) return `gave '${topic}', which has a wildcard`;
  return undefined;
}

/** No acknowledgement within `ack_timeout`: fails the job rather than being retried. */
class AckTimeout extends SluiceError {
  constructor(message: string, step: string) {
    super('SINK_UNAVAILABLE', message, { step });
  }
}

/** A publish failure the broker decided (an MQTT 5 reason code of 0x80 or more): not retried. */
function refusedCode(err: Error): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' && code >= 0x80 ? code : undefined;
}

class MqttSink implements Sink {
  readonly #config: MqttSinkConfig;
  readonly #step: string;
  readonly #topic: CompiledExpression | undefined;
  readonly #ackTimeout: number;
  readonly #policy: RetryPolicy;
  #client: MqttClient | undefined;
  /** QoS 1/2 publishes in flight at most: the broker's receive maximum (MQTT 5 CONNACK). */
  #inflight = 20;
  #log: Logger | undefined;
  #signal: AbortSignal | undefined;

  constructor(config: MqttSinkConfig, step: string, sink?: SinkInfo) {
    this.#config = config;
    this.#step = step;
    if ((config.topic === undefined) === (config.topic_expression === undefined)) {
      throw new SluiceError(
        'CONFIG_INVALID',
        'give either `topic` or `topic_expression`, not both or neither',
        {
          step,
          path: 'topic',
        },
      );
    }
    if (config.topic !== undefined && topicProblem(config.topic) !== undefined) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `topic '${config.topic}' has a wildcard: publish to a plain topic`,
        {
          step,
          path: 'topic',
        },
      );
    }
    if (config.topic_expression !== undefined) {
      const source: string | Expr =
        sink === undefined ? config.topic_expression : sink.expression('topic_expression');
      this.#topic = compileExpression(source, { step, path: 'topic_expression' });
    }
    this.#ackTimeout = parseDuration(config.ack_timeout, 'ack_timeout');
    this.#policy = retryPolicy(config.retry);
  }

  async open(ctx: SinkContext): Promise<void> {
    this.#log = ctx.log;
    this.#signal = ctx.signal;
    const clientId = this.#config.client_id ?? `sluice-${ctx.pipeline ?? 'embedded'}-${ctx.id}`.slice(0, 128);
    const policy: RetryPolicy = {
      ...this.#policy,
      onRetry: (err, attempt, delay) =>
        ctx.log.warn('mqtt: cannot connect; retrying', {
          sink: ctx.id,
          attempt,
          delay,
          error: describeError(err),
        }),
    };
    this.#client = await retry(
      () =>
        connectClient(this.#config, { clientId, clean: true }, { code: 'SINK_UNAVAILABLE', step: ctx.id }),
      policy,
      ctx.signal,
    );
    const client = this.#client;
    const window = () => {
      const max = client.serverProperties?.receiveMaximum;
      this.#inflight = typeof max === 'number' && max > 0 ? max : 20;
    };
    window();
    client.on('connect', window);
    this.#client.on('error', (err) =>
      ctx.log.warn('mqtt: connection error; reconnecting', { sink: ctx.id, error: describeError(err) }),
    );
  }

  async write(batch: SinkBatch): Promise<SinkRejection[] | undefined> {
    const rejections: SinkRejection[] = [];
    let messages: Message[] = [];
    const { records, texts } = batch;
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as Row;
      let topic = this.#config.topic;
      if (this.#topic !== undefined) {
        let value: unknown;
        try {
          value = this.#topic.evaluate(record);
        } catch (err) {
          rejections.push({ index: i, message: `topic_expression failed: ${describeError(err)}` });
          continue;
        }
        const problem = topicProblem(value);
        if (problem !== undefined || typeof value !== 'string') {
          rejections.push({ index: i, message: `topic_expression ${problem}` });
          continue;
        }
        topic = value;
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
      if (topic !== undefined) messages.push({ index: i, topic, payload });
    }
    const policy: RetryPolicy = {
      ...this.#policy,
      // The client resends unacknowledged messages across reconnects by itself: a write that
      // timed out is not published again, it fails the job.
      isRetryable: (err) => !(err instanceof AckTimeout),
      onRetry: (err, attempt, delay) =>
        this.#log?.warn('mqtt: publish failed; retrying', {
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
          `publishing ${failed.length} message(s) failed: ${describeError(failed[0]?.error)}`,
          {
            step: this.#step,
          },
        );
      },
      policy,
      this.#signal,
    );
    return rejections.length > 0 ? rejections.sort((a, b) => a.index - b.index) : undefined;
  }

  /**
   * Publishes `messages` and waits for the broker's acknowledgements. Records the broker refused
   * go to `rejections`; returns the messages that failed otherwise (to retry).
   */
  #publish(messages: Message[], rejections: SinkRejection[]): Promise<{ message: Message; error: Error }[]> {
    const client = this.#client;
    if (client === undefined)
      throw new SluiceError('INTERNAL', 'mqtt sink written before open', { step: this.#step });
    const failed: { message: Message; error: Error }[] = [];
    if (messages.length === 0) return Promise.resolve(failed);
    const { qos, retain } = this.#config;
    // At most the broker's receive maximum in flight: Mosquitto refuses more (quota exceeded).
    const window = qos === 0 ? messages.length : this.#inflight;
    return new Promise((resolve, reject) => {
      let open = messages.length;
      let next = 0;
      const timer = setTimeout(() => {
        reject(
          new AckTimeout(
            `the MQTT broker did not acknowledge ${open} message(s) within ${this.#config.ack_timeout}`,
            this.#step,
          ),
        );
      }, this.#ackTimeout);
      const send = () => {
        const message = messages[next++] as Message;
        client.publish(message.topic, message.payload, { qos, retain }, (err) => {
          if (err) {
            const code = refusedCode(err);
            if (code !== undefined)
              rejections.push({
                index: message.index,
                message: `the broker refused it: ${err.message} (reason code ${code})`,
              });
            else failed.push({ message, error: err });
          }
          if (--open === 0) {
            clearTimeout(timer);
            resolve(failed);
          } else if (next < messages.length) send();
        });
      };
      while (next < Math.min(window, messages.length)) send();
    });
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (client !== undefined) await client.endAsync(false);
  }

  async abort(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (client !== undefined) await client.endAsync(true);
  }
}

/** The `mqtt` sink spec. */
export const mqttSink = defineSink({
  type: 'mqtt',
  summary: 'Publishes records as JSON messages to MQTT topics, waiting for the broker’s acknowledgements.',
  delivery: { option: 'qos', values: { '0': 'at-most-once', '1': 'at-least-once', '2': 'at-least-once' } },
  description: [
    'Each record becomes one message: its payload is the record as JSON (a record read as JSON',
    'that no step changed is published as the text it was read from), its topic `topic` or what',
    '`topic_expression` gives for it. With `qos` 1 or 2 a write resolves only once the broker has',
    'acknowledged every message of the batch, so a checkpoint never covers a message the broker',
    'does not have: delivery is at-least-once (a restart republishes what was written after the',
    'last checkpoint; MQTT has no transactions, so nothing is held back until the checkpoint). With',
    'QoS 0 the broker acknowledges nothing: at-most-once.',
    '',
    'A record whose topic expression fails or gives no usable topic, that cannot be written as JSON,',
    'or that the broker refuses (an MQTT 5 reason code such as 135 not authorized or 151 quota',
    'exceeded) goes to the dead-letter output. A publish that fails otherwise is retried with capped',
    'backoff (`retry`); across a reconnect the client resends what the broker has not acknowledged.',
    'No acknowledgement within `ack_timeout` fails the job (SINK_UNAVAILABLE), which restarts from its',
    'last checkpoint. `retain` publishes retained messages.',
  ].join('\n'),
  example: [
    'type: mqtt',
    'url: mqtt://127.0.0.1:1883',
    'topic_expression: "\'alerts/\' || device"',
    'qos: 1',
  ].join('\n'),
  config: mqttSinkConfig,
  expressions(config): ExpressionOptions {
    const options: { [path: string]: string } = {};
    if (config.topic_expression !== undefined) options.topic_expression = config.topic_expression;
    return options;
  },
  create(config, sink) {
    return new MqttSink(config, sink?.id ?? 'mqtt', sink);
  },
});
