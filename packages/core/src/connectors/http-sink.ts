/**
 * The `http` sink: sends records to an HTTP endpoint in JSON or NDJSON requests, retrying
 * transient failures and bisecting rejected requests down to the records at fault.
 */

import Type, { type Static } from 'typebox';
import type { Sink, SinkBatch, SinkContext, SinkRejection } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import { defineSink } from '../spec.ts';
import { formatDuration, parseDuration } from '../time.ts';
import { type RetryPolicy, requestedDelay, retry, retryConfig, retryPolicy } from './backoff.ts';
import {
  type ChangelogOptions,
  changelogEntries,
  changelogFields,
  changelogSinkSupport,
  checkChangelogOptions,
  encodeEntry,
} from './changelog-format.ts';
import { jsonLine } from './format-encode.ts';
import { HttpFailure, networkReason, requestHeaders, retryAfterOf, snippetOf } from './http-client.ts';

/** Config schema of the `http` sink. */
export const httpSinkConfig = Type.Object(
  {
    url: Type.String({
      pattern: '^https?://',
      description:
        'Endpoint the records are sent to (http or https). Credentials in it (`https://user:password@host/`) ' +
        'are sent as Basic authentication and shown as `***` in logs and errors.',
      examples: ['https://collector.example.com/v1/records'],
    }),
    method: Type.Enum(['POST', 'PUT', 'PATCH'], {
      default: 'POST',
      description: 'HTTP method of each request.',
      examples: ['PUT'],
    }),
    headers: Type.Record(
      Type.String(),
      Type.String({ secret: true, description: 'Header value (treated as a secret: never logged).' }),
      {
        default: {},
        description:
          'Extra request headers, e.g. `Authorization`; all values are secret. `Content-Type` ' +
          'defaults to the format.',
        examples: [{ authorization: 'Bearer change-me' }],
      },
    ),
    batch_size: Type.Integer({
      minimum: 1,
      default: 500,
      description: 'Most records per request.',
      examples: [1000],
    }),
    format: Type.Enum(['json', 'ndjson'], {
      default: 'json',
      description: '`json`: a JSON array of records per request; `ndjson`: one JSON record per line.',
      examples: ['ndjson'],
    }),
    timeout: Type.String({
      default: '10s',
      description: 'Longest wait for a response (a duration); then the attempt counts as failed.',
      examples: ['30s'],
    }),
    ...changelogFields,
    retry: retryConfig,
  },
  { additionalProperties: false },
);

/** Options of the `http` sink, defaults applied. */
export type HttpSinkConfig = Static<typeof httpSinkConfig>;

/** Statuses that mean "try again later". */
/** Statuses that describe the endpoint or the credentials, not the records: no record is to blame. */
const endpointStatuses = new Set([401, 403, 404, 405, 406, 407, 410, 415]);

class HttpSink implements Sink {
  readonly #config: HttpSinkConfig;
  readonly #url: URL;
  /** The URL without credentials or query, safe for messages. */
  readonly #target: string;
  readonly #timeout: number;
  readonly #policy: RetryPolicy;
  readonly #headers: Headers;
  /** The changelog format; absent: records are sent as they are (inserts only). */
  readonly #changelog: ChangelogOptions | undefined;
  #ctx: SinkContext | undefined;

  constructor(config: HttpSinkConfig) {
    this.#config = config;
    try {
      this.#url = new URL(config.url);
    } catch (err) {
      throw new SluiceError('CONFIG_INVALID', 'url is not a valid URL', { path: 'url', cause: err });
    }
    this.#target = `${config.method} ${this.#url.origin}${this.#url.pathname}`;
    this.#timeout = parseDuration(config.timeout, 'timeout');
    // Both formats are JSON, so every changelog fits either.
    const changelog = { changelog: config.changelog, key: config.key };
    checkChangelogOptions(changelog);
    this.#changelog = config.changelog === undefined ? undefined : changelog;
    const policy = retryPolicy(config.retry);
    this.#policy = {
      ...policy,
      isRetryable: (err) =>
        err instanceof SluiceError && (!(err.cause instanceof HttpFailure) || err.cause.transient),
      retryAfter: requestedDelay,
      onRetry: (err, attempt, delay) =>
        this.#ctx?.log.warn('http sink retrying', {
          target: this.#target,
          attempt,
          delay_ms: delay,
          error: err instanceof Error ? err.message : String(err),
        }),
    };
    this.#headers = requestHeaders(this.#url, config.headers, {
      'content-type': config.format === 'json' ? 'application/json' : 'application/x-ndjson',
    });
  }

  async open(ctx: SinkContext): Promise<void> {
    this.#ctx = ctx;
  }

  async write(batch: SinkBatch): Promise<SinkRejection[] | undefined> {
    const { records, texts, kinds } = batch;
    const rejections: SinkRejection[] = [];
    // Each line's JSON once (a record's text when it has one), reused if a rejected request is
    // split; a line that cannot be written (not JSON, no upsert key) is rejected on its own.
    // A changelog line may stand for two records (an update's before and after): `indexes` holds
    // the first, `counts` how many.
    const lines: string[] = [];
    const indexes: number[] = [];
    const counts: number[] = [];
    const changelog = this.#changelog;
    if (changelog === undefined) {
      for (let i = 0; i < records.length; i++) {
        try {
          lines.push(jsonLine(records[i], texts?.[i]));
          indexes.push(i);
          counts.push(1);
        } catch (err) {
          rejections.push({
            index: i,
            message: `the record cannot be written as JSON: ${(err as Error).message}`,
          });
        }
      }
    } else {
      for (const entry of changelogEntries(changelog, records, kinds, texts)) {
        try {
          lines.push(encodeEntry(jsonLine, entry));
          indexes.push(entry.first);
          counts.push(entry.count);
        } catch (err) {
          for (let i = entry.first; i < entry.first + entry.count; i++)
            rejections.push({ index: i, message: (err as Error).message });
        }
      }
    }
    const size = this.#config.batch_size;
    for (let from = 0; from < lines.length; from += size) {
      await this.#deliver(lines, indexes, counts, from, Math.min(from + size, lines.length), rejections);
    }
    return rejections.length > 0 ? rejections : undefined;
  }

  /**
   * Sends lines [from, to) (line k stands for the `counts[k]` records of the write from
   * `indexes[k]`); a rejected request is split in halves until single lines remain.
   */
  async #deliver(
    lines: string[],
    indexes: readonly number[],
    counts: readonly number[],
    from: number,
    to: number,
    rejections: SinkRejection[],
  ): Promise<void> {
    const rejected = await this.#send(lines.slice(from, to));
    if (rejected === undefined) return;
    if (to - from === 1) {
      for (let i = indexes[from]; i < indexes[from] + counts[from]; i++)
        rejections.push({ index: i, message: rejected });
      return;
    }
    const middle = from + Math.ceil((to - from) / 2);
    await this.#deliver(lines, indexes, counts, from, middle, rejections);
    await this.#deliver(lines, indexes, counts, middle, to, rejections);
  }

  /**
   * Sends one request, retrying transient failures. Resolves with undefined when accepted, or
   * with the server's message when it rejected the records for good.
   */
  async #send(lines: string[]): Promise<string | undefined> {
    const ctx = this.#ctx;
    if (!ctx) throw new SluiceError('INTERNAL', 'http sink: write() called before open()');
    const body = this.#config.format === 'json' ? `[${lines.join(',')}]` : `${lines.join('\n')}\n`;
    let attempts = 0;
    try {
      return await retry(
        (attempt) => {
          attempts = attempt;
          return this.#attempt(body, ctx);
        },
        this.#policy,
        ctx.signal,
      );
    } catch (err) {
      if (!(err instanceof SluiceError) || ctx.signal.aborted) throw err;
      const after = attempts > 1 ? ` after ${attempts} attempts` : '';
      throw new SluiceError('SINK_UNAVAILABLE', `${this.#target} failed${after}: ${err.message}`, {
        step: ctx.id,
        path: err.path,
        cause: err,
      });
    }
  }

  async #attempt(body: string, ctx: SinkContext): Promise<string | undefined> {
    const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(this.#timeout)]);
    try {
      const res = await fetch(this.#url, {
        method: this.#config.method,
        headers: this.#headers,
        body,
        signal,
      });
      if (res.ok) {
        await res.arrayBuffer();
        return undefined;
      }
      const text = await snippetOf(res);
      const failure = new HttpFailure(
        res.status,
        text,
        retryAfterOf(res.headers.get('retry-after'), Date.now()),
      );
      if (failure.transient) {
        throw new SluiceError('SINK_UNAVAILABLE', failure.message, { step: ctx.id, cause: failure });
      }
      if (endpointStatuses.has(res.status) || res.status < 400) {
        throw new SluiceError(
          'SINK_UNAVAILABLE',
          `${failure.message} (the endpoint refuses any request: check url, method and headers)`,
          { step: ctx.id, path: 'url', cause: failure },
        );
      }
      return failure.message;
    } catch (err) {
      if (err instanceof SluiceError || ctx.signal.aborted) throw err;
      const timedOut = err instanceof Error && err.name === 'TimeoutError';
      const reason = timedOut
        ? `no response within ${formatDuration(this.#timeout)} (timeout)`
        : networkReason(err);
      throw new SluiceError('SINK_UNAVAILABLE', reason, { step: ctx.id, cause: err });
    }
  }

  async close(): Promise<void> {}
}

/** The `http` sink spec. */
export const httpSink = defineSink({
  type: 'http',
  summary: 'Sends records to an HTTP endpoint as JSON arrays or NDJSON, with retries.',
  description: [
    'Each write is sent in order, in requests of at most `batch_size` records: a JSON array',
    '(`format: json`) or one record per line (`format: ndjson`). A 2xx response means the records',
    'are delivered.',
    '',
    '- **Transient** — 408, 429, 5xx, network errors and `timeout`: retried with capped',
    '  exponential backoff and full jitter (`retry`), waiting at least what `Retry-After` asks;',
    '  after `retry.max_attempts` the write fails with SINK_UNAVAILABLE.',
    '- **Rejected records** — any other 4xx (400, 409, 413, 422, …): the request is split in halves',
    '  and resent until the records the server refuses are found; each goes to the dead-letter',
    '  output with the server’s message (SINK_REJECTED), the others are delivered. A request that',
    '  holds k rejected records among n costs up to about 2k·log2(n) extra requests.',
    '- **Endpoint refused** — 401, 403, 404, 405, 406, 407, 410, 415 and unfollowed redirects say',
    '  nothing about the records (wrong URL, credentials or format): the write fails at once with',
    '  SINK_UNAVAILABLE, and no record is dead-lettered.',
    '',
    'An updating stream (an `aggregate` without a window) is sent as a changelog with `changelog:`',
    '`debezium` (one `{"before", "after", "op"}` object per change) or `upsert` with `key` (the row,',
    'or its key fields with `"__deleted": true` for a delete), in either format; an update’s two',
    'records travel as one object, and are rejected together.',
    '',
    'Delivery is at-least-once: a request that timed out or whose response was lost is sent again,',
    'so the endpoint should be idempotent (e.g. deduplicate on a record id) when duplicates matter.',
    'Header values are secrets: they never appear in logs or errors.',
  ].join('\n'),
  example: [
    'type: http',
    'url: https://collector.example.com/v1/records',
    'headers:',
    '  authorization: Bearer change-me',
    'batch_size: 1000',
    'format: ndjson',
    'retry:',
    '  max_attempts: 5',
  ].join('\n'),
  delivery: 'at-least-once',
  changelog: changelogSinkSupport,
  config: httpSinkConfig,
  create: (config) => new HttpSink(config),
});
