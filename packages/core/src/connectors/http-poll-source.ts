/**
 * The `http_poll` source: polls a partner's HTTP API on an interval or a cron schedule, pages
 * through each response, and asks only for what changed (ETag, Last-Modified, an incremental
 * cursor).
 */

import { parseByteSize } from '../byte-size.ts';
import type { Source, SourceContext, SourceReader } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import { defineSource } from '../spec.ts';
import { parseDuration } from '../time.ts';
import { retryPolicy } from './backoff.ts';
import { nextCronTime, parseCron } from './cron.ts';
import { requestHeaders } from './http-client.ts';
import { type HttpPollConfig, httpPollConfig } from './http-poll-config.ts';
import { type HttpPollOptions, HttpPollReader } from './http-poll-reader.ts';

const DEFAULT_INTERVAL = '1m';

class HttpPollSource implements Source {
  readonly #config: HttpPollConfig;
  readonly #url: URL;
  readonly #headers: Headers;
  readonly #schedule: HttpPollOptions['schedule'];
  readonly #timeoutMs: number;
  readonly #maxBody: number;

  /** Checks the options; throws CONFIG_INVALID naming the one that is wrong. */
  constructor(config: HttpPollConfig) {
    this.#config = config;
    try {
      this.#url = new URL(config.url);
    } catch (err) {
      throw new SluiceError('CONFIG_INVALID', 'url is not a valid URL', { path: 'url', cause: err });
    }
    const base: { [name: string]: string } = {
      accept: config.format === 'jsonl' ? 'application/x-ndjson, application/json' : 'application/json',
    };
    if (config.method === 'POST' && config.body !== undefined) base['content-type'] = 'application/json';
    this.#headers = requestHeaders(this.#url, config.headers, base);
    if (config.cron !== undefined && config.interval !== undefined) {
      throw new SluiceError('CONFIG_INVALID', 'give either interval or cron, not both', { path: 'cron' });
    }
    if (config.body !== undefined && config.method !== 'POST') {
      throw new SluiceError('CONFIG_INVALID', 'a body is sent only with method: POST', { path: 'body' });
    }
    if (config.cron !== undefined) {
      const cron = parseCron(config.cron, 'cron');
      if (nextCronTime(cron, Date.now()) === undefined)
        throw new SluiceError('CONFIG_INVALID', `cron '${config.cron}' never fires`, { path: 'cron' });
      this.#schedule = { cron };
    } else {
      const everyMs = parseDuration(config.interval ?? DEFAULT_INTERVAL, 'interval');
      if (everyMs <= 0)
        throw new SluiceError('CONFIG_INVALID', 'interval must be more than 0', { path: 'interval' });
      this.#schedule = { everyMs };
    }
    if (config.format === 'jsonl') {
      if (config.records !== undefined)
        throw new SluiceError(
          'CONFIG_INVALID',
          'records applies to format: json only (a jsonl line is one record)',
          {
            path: 'records',
          },
        );
      if (config.pagination?.type === 'cursor')
        throw new SluiceError(
          'CONFIG_INVALID',
          'a cursor in the body needs format: json; page a jsonl response by link or page',
          { path: 'pagination.type' },
        );
    }
    this.#timeoutMs = parseDuration(config.timeout, 'timeout');
    this.#maxBody = parseByteSize(config.max_body, 'max_body');
    retryPolicy(config.retry);
  }

  async open(ctx: SourceContext): Promise<SourceReader[]> {
    const options: HttpPollOptions = {
      config: this.#config,
      url: this.#url,
      headers: this.#headers,
      schedule: this.#schedule,
      timeoutMs: this.#timeoutMs,
      maxBody: this.#maxBody,
      retry: retryPolicy(this.#config.retry),
      clock: ctx.clock,
      log: ctx.log,
      step: ctx.id,
      signal: ctx.signal,
    };
    return [new HttpPollReader(options, ctx.restored.poll)];
  }
}

/** The `http_poll` source spec. */
export const httpPollSource = defineSource({
  type: 'http_poll',
  delivery: 'exactly-once',
  identity: ['url', 'method', 'body', 'format', 'records', 'pagination', 'incremental'],
  summary:
    'Polls an HTTP API on an interval or cron schedule: pagination, ETag / Last-Modified, incremental cursor.',
  description: [
    'Each poll requests `url` (with `headers`; a `POST` sends `body` as JSON) and reads the records of the',
    'response: the array at `records` (a dotted path), or the body itself when it is an array, or the body',
    'as one record; with `format: jsonl`, one record per line. With `pagination` a poll reads page after',
    'page — following `Link: <…>; rel="next"`, a cursor from the body, or numbered pages until an empty or',
    'short one — at most `max_pages`. The next page is requested only when the pipeline has taken the',
    'records of the last (backpressure), and the wait between polls ends at once when the job stops.',
    '',
    'Incremental polling. The `ETag` and `Last-Modified` of a poll’s first response are sent back as',
    '`If-None-Match` / `If-Modified-Since` on the next poll’s first request: a `304` reads nothing. With',
    '`incremental`, the greatest `field` of the records read (numbers by value, anything else as text,',
    'so ISO timestamps in one format) is sent as the query parameter `param` in every request of the next',
    'poll; the API must return only records after it (with an inclusive `since` the records at the',
    'boundary come again). Without either, every poll reads what the API returns, all of it.',
    '',
    'Position and restarts. The single partition is `poll`; its position holds the validators, the',
    'incremental value, and within a poll the URL of the page being read and how many of its records',
    'were returned. A restarted job resumes the interrupted poll at that page, skipping those records:',
    'nothing a completed checkpoint covered is read again and nothing after it is lost (exactly-once),',
    'provided the API answers the same page request with the same records. That consistency is the',
    'API’s: a record inserted into or removed from an earlier page between two requests shifts the',
    'pages after it (a page-numbered API may then repeat or skip a record; a cursor or link API',
    'usually does not). A restart between polls polls at once with `interval`, at the next time it',
    'fires with `cron`. Redirects are followed within the URL’s origin only (the headers are secrets).',
    '',
    'The page URL in a checkpoint leaves out the query parameters it shares with `url` (they may hold',
    'an API key); the configuration adds them back on restore.',
    '',
    'Failures. `429` and `503` wait at least as long as `Retry-After` asks (up to 10 minutes, then ask',
    'again); they, other 5xx, 408, timeouts',
    'and network failures are retried with capped, jittered backoff (`retry`), then fail the job',
    '(SOURCE_UNAVAILABLE). A permanent failure fails the job at once (SOURCE_REFUSED): any other 4xx',
    '(401, 403, 404, …), a body that is not JSON or larger than `max_body`, no array at `records`, a next page on another origin. An',
    'element of the records that is not a JSON object (or a jsonl line that does not parse) is a decode',
    'failure: it goes to the dead-letter output and counts as a record in; reading goes on. Messages and',
    'logs name the URL by its origin and path only: header values, URL credentials and the query (it may',
    'hold an API key) never appear. Times are UTC for `cron`.',
  ].join('\n'),
  config: httpPollConfig,
  example: [
    'type: http_poll',
    'url: https://api.example.com/v1/orders',
    'headers:',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a pipeline file's ${VAR} reference, shown as such
    '  authorization: Bearer ${API_TOKEN:-change-me}',
    'interval: 30s',
    'records: data',
    'pagination: { type: cursor, cursor_path: meta.next_cursor, param: cursor }',
    'incremental: { field: updated_at, param: updated_since }',
  ].join('\n'),
  create: (config) => new HttpPollSource(config),
});
