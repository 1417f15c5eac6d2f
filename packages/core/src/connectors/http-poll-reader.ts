/**
 * The reader of the `http_poll` source: polls on a schedule, pages through each poll one page per
 * read (so the pipeline's pace is the API's), and keeps in its position everything a restart
 * needs — the validators, the incremental value, and the page being read with how many of its
 * records were returned.
 */

import type { DecodeFailure, Logger, SourceBatch, SourceReader } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import type { Row } from '../record.ts';
import type { Clock } from '../time.ts';
import { type RetryPolicy, requestedDelay, retry, sleep } from './backoff.ts';
import { type CronSchedule, nextCronTime } from './cron.ts';
import { HttpFailure, networkReason, retryAfterOf, snippetOf } from './http-client.ts';
import { DEFAULT_PAGE_PARAM, DEFAULT_PAGE_START, type HttpPollConfig } from './http-poll-config.ts';
import { at, boundedText, decodePage, describeTarget, type Page } from './http-poll-page.ts';

/** How long a read waits for the next poll before it returns an empty batch (time moves on). */
const IDLE_MS = 500;

/** Redirects followed for one request (within the URL's origin). */
const MAX_REDIRECTS = 5;

/** A value the incremental field can hold. */
type Mark = string | number;

/** The poll in progress: the page to read next (or being read) and what it has read of it. */
interface PollState {
  /** URL of the page, without credentials. */
  href: string;
  /** Records (and decode failures) of that page already returned. */
  skip: number;
  /** Pages of this poll before it. */
  page: number;
  /** Validators of the poll's first response, kept for the next poll once this one completes. */
  etag?: string;
  lastModified?: string;
}

/** The reader's position: JSON, what a restart resumes from. */
export interface HttpPollPosition {
  /** Greatest incremental value read so far. */
  max?: Mark;
  /** Validators of the last completed poll, sent with the next poll's first request. */
  etag?: string;
  lastModified?: string;
  /** The poll in progress; absent between polls. */
  poll?: PollState;
}

/** Everything the reader needs besides its position. */
export interface HttpPollOptions {
  readonly config: HttpPollConfig;
  /** The URL without credentials. */
  readonly url: URL;
  readonly headers: Headers;
  readonly schedule: { readonly everyMs: number } | { readonly cron: CronSchedule };
  readonly timeoutMs: number;
  /** Largest response body read, in bytes. */
  readonly maxBody: number;
  readonly retry: RetryPolicy;
  readonly clock: Clock;
  readonly log: Logger;
  readonly step: string;
  /** The job's stop signal: it ends a wait for the next poll, as the read's own signal does. */
  readonly signal: AbortSignal;
}

/** Whether mark `a` comes after `b`: numbers by value, anything else as text (ISO timestamps). */
function after(a: Mark, b: Mark): boolean {
  return typeof a === 'number' && typeof b === 'number' ? a > b : String(a) > String(b);
}

/** The `http_poll` reader (one partition, `poll`). */
export class HttpPollReader implements SourceReader {
  readonly partition = 'poll';
  readonly #o: HttpPollOptions;
  #state: HttpPollPosition;
  /** The page being returned, while `#state.poll.skip` is inside it. */
  #page: Page | undefined;
  /** When the next poll starts (clock time); a poll resumed from a checkpoint starts at once. */
  #nextAt: number;
  #pollStarted = 0;
  readonly #closing = new AbortController();

  constructor(options: HttpPollOptions, restored: unknown) {
    this.#o = options;
    this.#state = restoredPosition(restored, options.url);
    const now = options.clock.now();
    this.#nextAt = 'cron' in options.schedule ? this.#cronAfter(now) : now;
    this.#pollStarted = now;
  }

  position(): HttpPollPosition {
    const { poll, ...rest } = this.#state;
    return poll
      ? { ...rest, poll: { ...poll, href: withoutConfiguredQuery(poll.href, this.#o.url) } }
      : { ...rest };
  }

  async read(max: number, signal: AbortSignal): Promise<SourceBatch | null> {
    const both = AbortSignal.any([signal, this.#o.signal, this.#closing.signal]);
    for (;;) {
      both.throwIfAborted();
      const poll = this.#state.poll;
      if (poll === undefined) {
        const now = this.#o.clock.now();
        if (now < this.#nextAt) {
          await sleep(Math.min(this.#nextAt - now, IDLE_MS), both);
          return { records: [] };
        }
        this.#startPoll(now);
        continue;
      }
      if (this.#page === undefined) {
        const page = await this.#fetch(poll, both);
        if (page === undefined) {
          this.#endPoll();
          continue;
        }
        this.#page = page;
      }
      const batch = this.#take(this.#page, poll, max);
      if (poll.skip >= this.#page.entries.length) this.#advance(this.#page, poll);
      if (batch.records.length > 0 || (batch.failures?.length ?? 0) > 0) return batch;
    }
  }

  async close(): Promise<void> {
    this.#closing.abort(new SluiceError('SOURCE_UNAVAILABLE', 'the source was closed'));
  }

  #cronAfter(now: number): number {
    const schedule = this.#o.schedule as { cron: CronSchedule };
    const next = nextCronTime(schedule.cron, now);
    if (next === undefined) {
      throw new SluiceError('CONFIG_INVALID', `cron '${this.#o.config.cron}' never fires`, {
        step: this.#o.step,
        path: 'cron',
      });
    }
    return next;
  }

  #startPoll(now: number): void {
    const url = new URL(this.#o.url.href);
    const { incremental, pagination } = this.#o.config;
    if (incremental && this.#state.max !== undefined)
      url.searchParams.set(incremental.param, String(this.#state.max));
    if (pagination?.type === 'page') {
      url.searchParams.set(
        pagination.param ?? DEFAULT_PAGE_PARAM,
        String(pagination.start ?? DEFAULT_PAGE_START),
      );
      if (pagination.size_param && pagination.size !== undefined)
        url.searchParams.set(pagination.size_param, String(pagination.size));
    }
    this.#pollStarted = now;
    this.#state = { ...this.#state, poll: { href: url.href, skip: 0, page: 0 } };
  }

  /** The poll has read its last page: its validators and incremental value hold from now on. */
  #endPoll(): void {
    const poll = this.#state.poll;
    const { max } = this.#state;
    this.#state = {};
    if (max !== undefined) this.#state.max = max;
    if (poll?.etag !== undefined) this.#state.etag = poll.etag;
    if (poll?.lastModified !== undefined) this.#state.lastModified = poll.lastModified;
    this.#page = undefined;
    const now = this.#o.clock.now();
    this.#nextAt =
      'cron' in this.#o.schedule
        ? this.#cronAfter(now)
        : Math.max(now, this.#pollStarted + this.#o.schedule.everyMs);
  }

  /** Every entry of the page is returned: go on to its next page, or end the poll. */
  #advance(page: Page, poll: PollState): void {
    this.#page = undefined;
    if (page.next === undefined) {
      this.#endPoll();
      return;
    }
    if (poll.page + 1 >= this.#o.config.max_pages) {
      this.#o.log.warn(
        'the poll read max_pages pages; it ends here, the next poll starts at the first page',
        {
          url: describeTarget(poll.href),
          max_pages: this.#o.config.max_pages,
        },
      );
      this.#endPoll();
      return;
    }
    this.#state.poll = { ...poll, href: page.next, skip: 0, page: poll.page + 1 };
  }

  /** Up to `max` entries of `page` after `poll.skip`; moves `skip` and the incremental value on. */
  #take(page: Page, poll: PollState, max: number): SourceBatch {
    const records: Row[] = [];
    const failures: DecodeFailure[] = [];
    const field = this.#o.config.incremental?.field;
    let taken = 0;
    while (poll.skip < page.entries.length && taken < max) {
      const entry = page.entries[poll.skip] as Page['entries'][number];
      poll.skip++;
      taken++;
      if ('failure' in entry) {
        failures.push(entry.failure);
        continue;
      }
      records.push(entry.record);
      if (field !== undefined) {
        const mark = at(entry.record, field);
        if ((typeof mark === 'number' && Number.isFinite(mark)) || typeof mark === 'string') {
          if (this.#state.max === undefined || after(mark, this.#state.max)) this.#state.max = mark;
        }
      }
    }
    return failures.length > 0 ? { records, failures } : { records };
  }

  /** Fetches and decodes the page `poll` is on; undefined for a 304 (nothing changed). */
  async #fetch(poll: PollState, signal: AbortSignal): Promise<Page | undefined> {
    const { config } = this.#o;
    const href = poll.href;
    const target = `${config.method} ${describeTarget(href)}`;
    const first = poll.page === 0 && poll.skip === 0;
    const headers = new Headers(this.#o.headers);
    if (first && this.#state.etag !== undefined) headers.set('if-none-match', this.#state.etag);
    if (first && this.#state.lastModified !== undefined)
      headers.set('if-modified-since', this.#state.lastModified);
    const policy: RetryPolicy = {
      ...this.#o.retry,
      retryAfter: requestedDelay,
      onRetry: (err, attempt, delay) =>
        this.#o.log.warn('poll request failed; retrying', {
          url: describeTarget(href),
          attempt,
          delay_ms: delay,
          reason: err instanceof Error ? err.message : String(err),
        }),
    };
    const response = await retry(
      async () => {
        const timeout = AbortSignal.timeout(this.#o.timeoutMs);
        let res: Response;
        let url = href;
        let method: string = config.method;
        for (let hops = 0; ; hops++) {
          try {
            res = await fetch(url, {
              method,
              headers,
              body: method === 'POST' && config.body !== undefined ? JSON.stringify(config.body) : undefined,
              signal: AbortSignal.any([signal, timeout]),
              // Redirects are followed here, within the origin: the headers are secrets.
              redirect: 'manual',
            });
          } catch (err) {
            if (signal.aborted) throw err;
            const why = timeout.aborted ? `no response within ${config.timeout}` : networkReason(err);
            throw new SluiceError('SOURCE_UNAVAILABLE', `${target} failed: ${why}`, {
              step: this.#o.step,
              cause: err,
            });
          }
          const location = res.headers.get('location');
          if (res.status < 300 || res.status >= 400 || res.status === 304 || location === null) break;
          await res.body?.cancel().catch(() => {});
          const next = new URL(location, url);
          if (next.origin !== this.#o.url.origin || hops >= MAX_REDIRECTS) {
            const why =
              hops >= MAX_REDIRECTS
                ? `more than ${MAX_REDIRECTS} redirects`
                : `a redirect to another origin (${next.origin}), where the headers are not sent`;
            throw new SluiceError('SOURCE_REFUSED', `${target}: ${why}`, { step: this.#o.step, path: 'url' });
          }
          url = next.href;
          if (res.status === 303) method = 'GET';
        }
        if (res.status === 304) {
          await res.body?.cancel().catch(() => {});
          return { res, text: undefined };
        }
        if (!res.ok) {
          const failure = new HttpFailure(
            res.status,
            await snippetOf(res),
            retryAfterOf(res.headers.get('retry-after'), Date.now()),
          );
          const fix =
            res.status === 401 || res.status === 403 ? ' (check the credentials in headers or the url)' : '';
          throw new SluiceError(
            failure.transient ? 'SOURCE_UNAVAILABLE' : 'SOURCE_REFUSED',
            `${target}: ${failure.message}${fix}`,
            {
              step: this.#o.step,
              cause: failure,
            },
          );
        }
        let text: string | undefined;
        try {
          text = await boundedText(res, this.#o.maxBody);
        } catch (err) {
          if (signal.aborted) throw err;
          const why = timeout.aborted ? `no full response within ${config.timeout}` : networkReason(err);
          throw new SluiceError('SOURCE_UNAVAILABLE', `${target}: the response broke off: ${why}`, {
            step: this.#o.step,
            cause: err,
          });
        }
        if (text === undefined) {
          throw new SluiceError(
            'SOURCE_REFUSED',
            `${target}: the response is larger than max_body (${config.max_body}); raise it, or ask for smaller pages`,
            { step: this.#o.step, path: 'max_body' },
          );
        }
        return { res, text };
      },
      policy,
      signal,
    );
    if (response.text === undefined) {
      // Not modified: the validators sent still hold.
      if (this.#state.etag !== undefined) poll.etag = this.#state.etag;
      if (this.#state.lastModified !== undefined) poll.lastModified = this.#state.lastModified;
      return undefined;
    }
    if (first) {
      const etag = response.res.headers.get('etag');
      const lastModified = response.res.headers.get('last-modified');
      if (etag !== null) poll.etag = etag;
      if (lastModified !== null) poll.lastModified = lastModified;
    }
    return decodePage(
      { config: this.#o.config, origin: this.#o.url.origin, step: this.#o.step },
      response.text,
      response.res,
      poll,
      target,
    );
  }
}

/**
 * A page URL as the checkpoint keeps it: without the query parameters it shares, name and value,
 * with the configured `url`. Those often carry secrets (`?api_key=${KEY}`), and a checkpoint is a
 * file anyone with the folder can read; the configuration gives them back on restore.
 */
export function withoutConfiguredQuery(href: string, configured: URL): string {
  const page = new URL(href);
  for (const [name, value] of configured.searchParams) {
    if (page.searchParams.getAll(name).includes(value)) page.searchParams.delete(name, value);
  }
  return page.href;
}

/**
 * The page URL a checkpoint's `href` stood for: the configured `url`'s query parameters added back
 * where the name is absent. (A parameter the page link dropped comes back too: APIs take the
 * parameters of the first request on later pages, so this is the safe side.)
 */
export function withConfiguredQuery(href: string, configured: URL): string {
  const page = new URL(href);
  for (const [name, value] of configured.searchParams) {
    if (!page.searchParams.has(name)) page.searchParams.append(name, value);
  }
  return page.href;
}

/** A checkpointed position, checked; a fresh start for anything else. */
function restoredPosition(restored: unknown, url: URL): HttpPollPosition {
  if (typeof restored !== 'object' || restored === null) return {};
  const r = restored as { [k: string]: unknown };
  const out: HttpPollPosition = {};
  if (typeof r.max === 'string' || typeof r.max === 'number') out.max = r.max;
  if (typeof r.etag === 'string') out.etag = r.etag;
  if (typeof r.lastModified === 'string') out.lastModified = r.lastModified;
  const p = r.poll as { [k: string]: unknown } | undefined;
  if (
    typeof p === 'object' &&
    p !== null &&
    typeof p.href === 'string' &&
    URL.canParse(p.href) &&
    new URL(p.href).origin === url.origin &&
    Number.isInteger(p.skip) &&
    Number.isInteger(p.page)
  ) {
    const href = withConfiguredQuery(p.href, url);
    const poll: PollState = { href, skip: p.skip as number, page: p.page as number };
    if (typeof p.etag === 'string') poll.etag = p.etag;
    if (typeof p.lastModified === 'string') poll.lastModified = p.lastModified;
    out.poll = poll;
  }
  return out;
}
