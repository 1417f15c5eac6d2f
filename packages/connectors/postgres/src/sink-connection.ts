/**
 * The `postgres` sink's connections: the write connection with its transaction state and
 * retries, and the control connection (no transaction ever open there) that commits prepared
 * transactions. Split from `sink.ts`, which decides what to write; this decides how a statement
 * reaches the server and what a broken connection means.
 */

import {
  type Logger,
  type RetryPolicy,
  retry,
  retryPolicy,
  type SinkContext,
  type SluiceError,
} from '@sluice/core';
import pg from 'pg';
import { failureKind, serverReason, sinkError } from './pg-errors.ts';
import type { PostgresSinkConfig } from './sink-config.ts';
import { TableProblem } from './table.ts';

/** The write connection of one sink, and its control connection. */
export class SinkConnection {
  readonly #config: PostgresSinkConfig;
  readonly #policy: RetryPolicy;
  #ctx: SinkContext | undefined;
  #client: pg.Client | undefined;
  #controlClient: Promise<pg.Client> | undefined;
  /** `delivery: exactly_once`: a transaction lost with the connection is lost for good. */
  exactlyOnce = false;
  /** Whether the write connection has a transaction open. */
  inTransaction = false;
  /** The connection broke with an exactly_once transaction open: no retry may hide that. */
  #lost = false;

  constructor(config: PostgresSinkConfig) {
    this.#config = config;
    this.#policy = {
      ...retryPolicy(config.retry),
      isRetryable: (err) => failureKind(err) === 'transient' && !this.#lost,
    };
  }

  /** The sink's context, once opened: its log, id and abort signal. */
  set context(ctx: SinkContext) {
    this.#ctx = ctx;
  }

  get log(): Logger | undefined {
    return this.#ctx?.log;
  }

  /** Whether an exactly_once transaction was lost with its connection. */
  get lost(): boolean {
    return this.#lost;
  }

  /**
   * Runs `fn` on a connected client, retrying transient failures (connecting again each time)
   * with capped backoff and jitter. Rejects with a record or setup failure as the server gave it,
   * and with SINK_UNAVAILABLE once the retries are spent.
   */
  async attempt<T>(what: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const policy: RetryPolicy = {
      ...this.#policy,
      onRetry: (err, attempt, delay) =>
        this.log?.warn('postgres sink: retrying', {
          what,
          attempt,
          delay_ms: delay,
          reason: serverReason(err),
        }),
    };
    try {
      return await retry(
        async () => {
          const client = await this.#connected();
          try {
            return await fn(client);
          } catch (err) {
            if (failureKind(err) === 'transient') {
              this.broken();
              await this.drop();
            }
            throw err;
          }
        },
        policy,
        this.#ctx?.signal,
      );
    } catch (err) {
      if (failureKind(err) === 'record' || err instanceof TableProblem) throw err;
      throw this.fatal(err, what);
    }
  }

  /** Runs `fn` once on the write connection: a failure is final (a transaction there would be lost anyway). */
  async once<T>(what: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.#connected());
    } catch (err) {
      // A failed PREPARE or COMMIT ends the transaction: its writes are gone.
      this.broken();
      await this.drop();
      throw this.fatal(err, what);
    }
  }

  /** Runs `fn` on the control connection (no transaction ever open there), retrying outages. */
  async control(what: string, fn: (client: pg.Client) => Promise<void>): Promise<void> {
    const policy: RetryPolicy = {
      ...retryPolicy(this.#config.retry),
      isRetryable: (e) => failureKind(e) === 'transient',
    };
    try {
      await retry(
        async () => {
          this.#controlClient ??= this.#newClient();
          const client = await this.#controlClient;
          try {
            await fn(client);
          } catch (err) {
            if (failureKind(err) === 'transient') await this.dropControl();
            throw err;
          }
        },
        policy,
        this.#ctx?.signal,
      );
    } catch (err) {
      throw this.fatal(err, what);
    }
  }

  /**
   * The write connection broke, or a statement ended its transaction: an open exactly_once
   * transaction is lost for good; at_least_once appends write their kept rows again.
   */
  broken(): void {
    if (this.inTransaction && this.exactlyOnce) this.#lost = true;
    this.inTransaction = false;
  }

  fatal(err: unknown, what: string): SluiceError {
    return sinkError(err, this.#ctx?.id ?? 'postgres', `${what} into ${this.#config.table}`);
  }

  /** Ends the write connection: an open transaction rolls back. */
  async drop(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => {});
  }

  async dropControl(): Promise<void> {
    const client = this.#controlClient;
    this.#controlClient = undefined;
    await client?.then((c) => c.end()).catch(() => {});
  }

  async #connected(): Promise<pg.Client> {
    if (this.#client) return this.#client;
    const client = await this.#newClient();
    this.#client = client;
    return client;
  }

  /** A connected client whose loss between statements is logged (the next statement then fails). */
  async #newClient(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.#config.url,
      connectionTimeoutMillis: this.#config.connect_timeout,
      application_name: `sluice ${this.#ctx?.id ?? 'sink'}`,
    });
    // A connection that breaks between statements emits 'error'; the next statement then fails and reconnects.
    client.on('error', (err) => {
      this.log?.warn('postgres sink: connection lost', { reason: serverReason(err) });
      if (this.#client === client) {
        this.#client = undefined;
        this.broken();
      }
    });
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
    return client;
  }
}
