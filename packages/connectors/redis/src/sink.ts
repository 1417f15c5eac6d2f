/**
 * The `redis` sink: each batch written as one pipeline of commands (hash, string, sorted set,
 * stream or publish) — encoded as RESP into one buffer and written to the socket at once
 * (`resp-encoder.ts`, `resp-pipeline.ts`); records Redis refuses go to the dead letters with its
 * reason, the rest are written; a lost connection is opened again and the batch retried with
 * capped backoff from the first command it lost.
 */

import {
  type Logger,
  parseDuration,
  type RetryPolicy,
  retry,
  retryPolicy,
  type Sink,
  type SinkBatch,
  type SinkContext,
  type SinkRejection,
  SluiceError,
} from '@sluice/core';
import { writeCommands } from './commands.ts';
import { describeError, endpointOf, replyKind } from './connection.ts';
import { RespEncoder } from './resp-encoder.ts';
import { parseRedisUrl, RespConnection, type RespConnectOptions, RespSetupError } from './resp-pipeline.ts';
import { type RedisSinkConfig, type SinkPlan, sinkPlan } from './sink-config.ts';

/** The `redis` sink (its spec, with what it does, is `redisSink` in `sink-spec.ts`). */
export class RedisSink implements Sink {
  readonly #config: RedisSinkConfig;
  readonly #plan: SinkPlan;
  readonly #policy: RetryPolicy;
  #step = 'redis';
  #options: RespConnectOptions | undefined;
  #connection: RespConnection | undefined;
  /** The batch's commands as RESP; its buffer is reused from batch to batch. */
  readonly #encoder = new RespEncoder();
  #log: Logger | undefined;
  #signal: AbortSignal | undefined;
  /** The reason of the last transient failure, for the retry's log line. */
  #lastFailure = '';
  /** When a lost connection was last logged (at most one line a second). */
  #lastWarning = 0;

  constructor(config: RedisSinkConfig, step?: string) {
    this.#plan = sinkPlan(config, step);
    this.#config = config;
    this.#policy = retryPolicy(config.retry);
  }

  async open(ctx: SinkContext): Promise<void> {
    this.#step = ctx.id;
    this.#log = ctx.log;
    this.#signal = ctx.signal;
    let endpoint: ReturnType<typeof parseRedisUrl>;
    try {
      endpoint = parseRedisUrl(this.#config.url);
    } catch (err) {
      throw new SluiceError('CONFIG_INVALID', `the redis sink's url is invalid: ${describeError(err)}`, {
        step: ctx.id,
        path: 'url',
      });
    }
    this.#options = {
      endpoint,
      connectTimeout: parseDuration(this.#config.connect_timeout, 'connect_timeout'),
      // As the other redis components: at least 1 s.
      replyTimeout: Math.max(1000, parseDuration(this.#config.reply_timeout, 'reply_timeout')),
      name: `sluice-${ctx.pipeline ?? 'embedded'}-${ctx.id}`.replace(/\s/g, '_'),
    };
    this.#connection = await retry(() => this.#connect(), this.#retrying('cannot connect'), ctx.signal);
    ctx.log.info('redis sink: writing', {
      at: endpointOf(this.#config.url),
      mode: this.#plan.mode,
      [this.#plan.mode === 'publish' ? 'channel' : 'key']: this.#plan.target.text,
    });
  }

  /**
   * Opens a connection: one attempt. Rejects with CONFIG_INVALID when Redis refuses the
   * credentials, with SINK_UNAVAILABLE otherwise; neither names the URL.
   */
  async #connect(): Promise<RespConnection> {
    const options = this.#options;
    if (options === undefined)
      throw new SluiceError('INTERNAL', 'redis sink written before open', { step: this.#step });
    try {
      return await RespConnection.connect(options);
    } catch (err) {
      const setup = err instanceof RespSetupError && replyKind(err.message) === 'setup';
      this.#lastFailure = describeError(err, this.#config.url);
      throw new SluiceError(
        setup ? 'CONFIG_INVALID' : 'SINK_UNAVAILABLE',
        `cannot connect to Redis at ${endpointOf(this.#config.url)}: ${this.#lastFailure}`,
        { step: this.#step, path: setup ? 'url' : undefined, cause: err },
      );
    }
  }

  async write(batch: SinkBatch): Promise<SinkRejection[] | undefined> {
    const encoder = this.#encoder;
    encoder.reset();
    const refused = writeCommands(batch, this.#plan, this.#config, encoder);
    // The first attempt outside `retry`: the usual write costs no retry state.
    let pending = await this.#send(undefined, refused);
    if (pending.length > 0)
      await retry(
        async (attempt) => {
          // Attempt 1 is the one above: its failure is reported, then the commands are sent again.
          if (attempt > 1) pending = await this.#send(pending, refused);
          if (pending.length > 0)
            throw new SluiceError(
              'SINK_UNAVAILABLE',
              `writing to Redis at ${endpointOf(this.#config.url)} failed; ${pending.length} command(s) not written`,
              { step: this.#step },
            );
        },
        this.#retrying('write failed'),
        this.#signal,
      );
    if (refused.size === 0) return undefined;
    return [...refused].sort((a, b) => a[0] - b[0]).map(([index, message]) => ({ index, message }));
  }

  /**
   * Sends the batch's commands — all of them, or those at `positions` of the encoder — as one
   * pipeline (one buffer, one socket write) and waits for every reply, opening a connection first
   * when the last one was lost. Commands Redis refuses put their record in `refused`. Returns the
   * positions to send again: from the first command that failed otherwise (a lost connection, a
   * transient error reply) to the end, so that a retry writes them in their order and a later
   * write of a key is never overtaken.
   */
  async #send(positions: readonly number[] | undefined, refused: Map<number, string>): Promise<number[]> {
    const encoder = this.#encoder;
    const count = positions === undefined ? encoder.count : positions.length;
    if (count === 0) return [];
    /** The positions from the `from`-th sent on, without those of records refused meanwhile. */
    const from = (k: number): number[] => {
      const out: number[] = [];
      for (; k < count; k++) {
        const j = positions === undefined ? k : (positions[k] as number);
        if (!refused.has(encoder.recordOf(j))) out.push(j);
      }
      return out;
    };
    let connection = this.#connection;
    if (connection === undefined || !connection.open) {
      this.#connection = undefined;
      try {
        connection = await this.#connect();
      } catch (err) {
        if (err instanceof SluiceError && err.code === 'CONFIG_INVALID') throw err;
        return from(0);
      }
      this.#connection = connection;
    }
    const bytes = positions === undefined ? encoder.bytes() : encoder.select(positions);
    const { replied, errors, lost } = await connection.send(bytes, count);
    if (errors !== undefined)
      for (const [k, message] of errors) {
        const kind = replyKind(message);
        if (kind === 'setup')
          throw new SluiceError('CONFIG_INVALID', `Redis refused the sink’s connection: ${message}`, {
            step: this.#step,
            path: 'url',
          });
        if (kind === 'transient') {
          this.#lastFailure = message;
          return from(k);
        }
        const j = positions === undefined ? k : (positions[k] as number);
        const record = encoder.recordOf(j);
        if (!refused.has(record)) refused.set(record, `Redis refused ${encoder.nameOf(j)}: ${message}`);
      }
    if (lost === undefined) return [];
    this.#lastFailure = describeError(lost, this.#config.url);
    if (Date.now() - this.#lastWarning >= 1000) {
      this.#lastWarning = Date.now();
      this.#log?.warn('redis: connection lost; reconnecting', { step: this.#step, error: this.#lastFailure });
    }
    return from(replied);
  }

  #retrying(what: string): RetryPolicy {
    return {
      ...this.#policy,
      onRetry: (err, attempt, delay) =>
        this.#log?.warn(`redis sink: ${what}; retrying`, {
          sink: this.#step,
          attempt,
          delay,
          error: this.#lastFailure || describeError(err, this.#config.url),
        }),
    };
  }

  async close(): Promise<void> {
    const connection = this.#connection;
    this.#connection = undefined;
    await connection?.close();
  }

  async abort(): Promise<void> {
    const connection = this.#connection;
    this.#connection = undefined;
    connection?.destroy();
  }
}
