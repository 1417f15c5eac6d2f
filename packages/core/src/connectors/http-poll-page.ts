/**
 * One page of the `http_poll` source: its body read within a bound, decoded into records and
 * decode failures, and the URL of the page after it (a `Link` header, a cursor in the body, the
 * next page number).
 */

import type { DecodeFailure } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import type { Row } from '../record.ts';
import {
  DEFAULT_CURSOR_PARAM,
  DEFAULT_PAGE_PARAM,
  DEFAULT_PAGE_START,
  type HttpPollConfig,
} from './http-poll-config.ts';
import { DEFAULT_MAX_DEPTH, type JsonOutcome, parseJsonText } from './input-guards.ts';

/** One fetched page, decoded: its entries (records and failures) in order, and the next page. */
export interface Page {
  entries: ({ record: Row } | { failure: DecodeFailure })[];
  next: string | undefined;
}

/** What decoding a page needs of the source. */
export interface PageContext {
  readonly config: HttpPollConfig;
  /** The URL's origin: a next page must stay on it (the headers are secrets). */
  readonly origin: string;
  readonly step: string;
}

/** The request a page answers: its URL and its number in the poll (0 for the first). */
export interface PageRequest {
  readonly href: string;
  readonly page: number;
}

/** The URL for messages and logs: origin and path, never the query (it may hold an API key). */
export function describeTarget(href: string): string {
  const url = new URL(href);
  return `${url.origin}${url.pathname}`;
}

/** The value at dotted `path` of `value`, or undefined. */
export function at(value: unknown, path: string): unknown {
  let here = value;
  for (const key of path.split('.')) {
    if (typeof here !== 'object' || here === null || Array.isArray(here)) return undefined;
    here = (here as { [k: string]: unknown })[key];
  }
  return here;
}

/**
 * The URL of the `rel="next"` link of an RFC 8288 `Link` header, resolved against `base`;
 * undefined when there is none.
 */
export function nextLink(header: string | null, base: string): string | undefined {
  if (!header) return undefined;
  for (const m of header.matchAll(/<([^>]*)>((?:\s*;\s*[^;,"]*(?:"[^"]*"[^;,"]*)*)*)/g)) {
    const params = m[2] ?? '';
    for (const p of params.matchAll(/;\s*rel\s*=\s*(?:"([^"]*)"|([^;,\s]+))/gi)) {
      const rels = (p[1] ?? p[2] ?? '').toLowerCase().split(/\s+/);
      if (rels.includes('next')) return new URL(m[1] ?? '', base).href;
    }
  }
  return undefined;
}

/** The body of `res` as UTF-8 text; undefined (the rest discarded) when it passes `limit` bytes. */
export async function boundedText(res: Response, limit: number): Promise<string | undefined> {
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  if (declared > limit) {
    await res.body?.cancel().catch(() => {});
    return undefined;
  }
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Decodes one response of the `http_poll` source into its records and decode failures, and finds
 * the next page of the poll in it.
 */
export function decodePage(
  o: PageContext,
  text: string,
  res: Response,
  poll: PageRequest,
  target: string,
): Page {
  const { config } = o;
  const entries: Page['entries'] = [];
  const offset = (i: number) => `page ${poll.page} record ${i}`;
  const push = (value: unknown, raw: string | undefined, i: number, problem?: string) => {
    if (problem === undefined && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      entries.push({ record: value as Row });
      return;
    }
    const kind = Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`;
    entries.push({
      failure: {
        payload: raw ?? JSON.stringify(value),
        message: problem ?? `the record is ${kind}, not a JSON object`,
        offset: offset(i),
      },
    });
  };
  let body: unknown;
  if (config.format === 'jsonl') {
    let i = 0;
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      const outcome: JsonOutcome = { value: undefined, error: undefined };
      parseJsonText(line, DEFAULT_MAX_DEPTH, outcome);
      push(outcome.value, line, i++, outcome.error);
    }
  } else {
    const outcome: JsonOutcome = { value: undefined, error: undefined };
    parseJsonText(text, DEFAULT_MAX_DEPTH, outcome);
    if (outcome.error !== undefined) {
      throw new SluiceError(
        'SOURCE_REFUSED',
        `${target}: the response is not JSON (${outcome.error}): ${text.slice(0, 200)}`,
        {
          step: o.step,
          path: 'format',
        },
      );
    }
    body = outcome.value;
    let list: unknown;
    if (config.records !== undefined) {
      list = at(body, config.records);
      if (!Array.isArray(list)) {
        throw new SluiceError(
          'SOURCE_REFUSED',
          `${target}: the response has no array at '${config.records}'`,
          {
            step: o.step,
            path: 'records',
          },
        );
      }
    } else {
      list = Array.isArray(body) ? body : [body];
    }
    for (const [i, value] of (list as unknown[]).entries()) push(value, undefined, i);
  }
  return { entries, next: nextPageOf(o, body, res, poll, entries.length, target) };
}

/** The URL of the page after `poll`'s, from the response; undefined when it is the last. */
function nextPageOf(
  o: PageContext,
  body: unknown,
  res: Response,
  poll: PageRequest,
  count: number,
  target: string,
): string | undefined {
  const pagination = o.config.pagination;
  if (pagination === undefined) return undefined;
  if (pagination.type === 'link') {
    const next = nextLink(res.headers.get('link'), poll.href);
    if (next === undefined) return undefined;
    if (new URL(next).origin !== o.origin) {
      throw new SluiceError(
        'SOURCE_REFUSED',
        `${target}: the next page is on another origin (${new URL(next).origin}); its credentials are not sent there`,
        {
          step: o.step,
          path: 'pagination',
        },
      );
    }
    return next;
  }
  if (pagination.type === 'cursor') {
    const cursor = at(body, pagination.cursor_path);
    if (cursor === undefined || cursor === null || cursor === '') return undefined;
    if (typeof cursor !== 'string' && typeof cursor !== 'number') {
      throw new SluiceError(
        'SOURCE_REFUSED',
        `${target}: the cursor at '${pagination.cursor_path}' is no string or number`,
        {
          step: o.step,
          path: 'pagination.cursor_path',
        },
      );
    }
    const url = new URL(poll.href);
    url.searchParams.set(pagination.param ?? DEFAULT_CURSOR_PARAM, String(cursor));
    return url.href;
  }
  if (count === 0 || (pagination.size !== undefined && count < pagination.size)) return undefined;
  const url = new URL(poll.href);
  const param = pagination.param ?? DEFAULT_PAGE_PARAM;
  const current = Number(url.searchParams.get(param) ?? pagination.start ?? DEFAULT_PAGE_START);
  url.searchParams.set(param, String(current + 1));
  return url.href;
}
