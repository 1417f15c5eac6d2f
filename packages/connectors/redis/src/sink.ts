/**
 * The `redis` sink: each batch written as one pipeline of commands (hash, string, sorted set,
 * stream or publish); records Redis refuses go to the dead letters with its reason, the rest are
 * written; a lost connection is retried with capped backoff from the first command it lost.
 */

import {
  type Logger,
  type RetryPolicy,
  retry,
  retryPolicy,
  type Sink,
  type SinkBatch,
  type SinkContext,
  type SinkRejection,
  SluiceError,
} from '@sluice/core';
import { batchCommands, type Command } from './commands.ts';
import {
  connect,
  describeError,
  destroy,
  disconnect,
  endpointOf,
  failureKind,
  type RedisClient,
} from './connection.ts';
import { type RedisSinkConfig, type SinkPlan, sinkPlan } from './sink-config.ts';

/** The `redis` sink (its spec, with what it does, is `redisSink` in `sink-spec.ts`). */
export class RedisSink implements Sink {
  readonly #config: RedisSinkConfig;
  readonly #plan: SinkPlan;
  readonly #policy: RetryPolicy;
  #step = 'redis';
  #client: RedisClient | undefined;
  #log: Logger | undefined;
  #signal: AbortSignal | undefined;
  /** The reason of the last transient failure, for the retry's log line. */
  #lastFailure = '';

  constructor(config: RedisSinkConfig, step?: string) {
    this.#plan = sinkPlan(config, step);
    this.#config = config;
    this.#policy = retryPolicy(config.retry);
  }

  async open(ctx: SinkContext): Promise<void> {
    this.#step = ctx.id;
    this.#log = ctx.log;
    this.#signal = ctx.signal;
    this.#client = await retry(
      () =>
        connect(
          this.#config,
          { code: 'SINK_UNAVAILABLE', step: ctx.id, name: `sluice-${ctx.pipeline ?? 'embedded'}-${ctx.id}` },
          ctx.log,
        ),
      this.#retrying('cannot connect'),
      ctx.signal,
    );
    ctx.log.info('redis sink: writing', {
      at: endpointOf(this.#config.url),
      mode: this.#plan.mode,
      [this.#plan.mode === 'publish' ? 'channel' : 'key']: this.#plan.target.text,
    });
  }

  async write(batch: SinkBatch): Promise<SinkRejection[] | undefined> {
    const { commands, refused } = batchCommands(batch, this.#plan, this.#config);
    // The first attempt outside `retry`: the usual write costs no retry state.
    let pending = await this.#send(commands, refused);
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
   * Sends `commands` in one pipeline (all issued in one tick: node-redis writes them together)
   * and waits for every reply. Commands Redis refuses put their record in `refused`. Returns the
   * commands to send again: from the first that failed otherwise (a lost connection) to the end,
   * so that a retry writes them in their order and a later write of a key is never overtaken.
   */
  async #send(commands: readonly Command[], refused: Map<number, string>): Promise<Command[]> {
    const client = this.#client;
    if (client === undefined)
      throw new SluiceError('INTERNAL', 'redis sink written before open', { step: this.#step });
    if (commands.length === 0) return [];
    const replies = await Promise.allSettled(commands.map((c) => client.sendCommand(c.args)));
    for (let j = 0; j < replies.length; j++) {
      const reply = replies[j] as PromiseSettledResult<unknown>;
      if (reply.status === 'fulfilled') continue;
      const kind = failureKind(reply.reason);
      const command = commands[j] as Command;
      if (kind === 'setup')
        throw new SluiceError(
          'CONFIG_INVALID',
          `Redis refused the sink’s connection: ${describeError(reply.reason, this.#config.url)}`,
          {
            step: this.#step,
            path: 'url',
          },
        );
      if (kind === 'refused') {
        if (!refused.has(command.index))
          refused.set(command.index, `Redis refused ${command.args[0]}: ${describeError(reply.reason)}`);
        continue;
      }
      this.#lastFailure = describeError(reply.reason, this.#config.url);
      return commands.slice(j).filter((c) => !refused.has(c.index));
    }
    return [];
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
    const client = this.#client;
    this.#client = undefined;
    await disconnect(client);
  }

  async abort(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    destroy(client);
  }
}
