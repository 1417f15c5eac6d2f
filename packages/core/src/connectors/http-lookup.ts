/**
 * The `http` lookup: one GET per key, the key in the URL (`https://crm.example.com/customers/{key}`),
 * the JSON object in the response body the row; 404 a miss.
 */

import Type, { type Static } from 'typebox';
import { SluiceError } from '../errors.ts';
import type { Lookup, LookupAnswer, LookupKey } from '../lookup.ts';
import { defineLookup } from '../spec.ts';
import { HttpFailure, networkReason, requestHeaders, retryAfterOf, snippetOf } from './http-client.ts';
import { DEFAULT_MAX_DEPTH, type JsonOutcome, parseJsonText } from './input-guards.ts';

const config = Type.Object(
  {
    url: Type.String({
      pattern: '^https?://',
      description:
        'The URL of a key’s row, with `{key}` where the key goes (percent-encoded), or `{key1}`, `{key2}`, … for the values of a key of several, each used at least once; in the path or the query. Credentials in it (`https://user:password@host/…`) are sent as Basic authentication and shown as `***` in logs and errors.',
      examples: [
        'https://crm.example.com/customers/{key}',
        'https://api.example.com/prices?region={key1}&sku={key2}',
      ],
    }),
    headers: Type.Record(
      Type.String(),
      Type.String({ secret: true, description: 'Header value (treated as a secret: never logged).' }),
      {
        default: {},
        description: 'Request headers, e.g. `Authorization`; all values are secret.',
        examples: [{ authorization: 'Bearer change-me' }],
      },
    ),
  },
  { additionalProperties: false },
);

type HttpLookupConfig = Static<typeof config>;

/** Statuses that mean "try again later". */

/** `{key}` / `{key2}` as written in a query, and as the URL parser escapes it in a path. */
const PLACEHOLDER = /\{key(\d*)\}|%7Bkey(\d*)%7D/gi;

class HttpLookup implements Lookup {
  readonly maxKeys = 1;
  /** The URL without credentials, placeholders in place. */
  readonly #template: string;
  readonly #headers: Headers;

  constructor(cfg: HttpLookupConfig, keyLength: number) {
    let url: URL;
    try {
      url = new URL(cfg.url);
    } catch (err) {
      throw new SluiceError('CONFIG_INVALID', 'url is not a valid URL', { path: 'url', cause: err });
    }
    this.#headers = requestHeaders(url, cfg.headers, { accept: 'application/json' });
    this.#template = url.href;
    const used = new Set<number>();
    for (const m of this.#template.matchAll(PLACEHOLDER)) {
      const digits = m[1] ?? m[2] ?? '';
      const n = digits === '' ? 0 : Number(digits);
      if ((n === 0 && keyLength !== 1) || n > keyLength || (digits !== '' && n < 1)) {
        throw new SluiceError(
          'CONFIG_INVALID',
          keyLength === 1
            ? `the key has one value: write {key} (not {key${digits}})`
            : `the key has ${keyLength} values: write {key1} … {key${keyLength}} (not {key${digits}})`,
          { path: 'url' },
        );
      }
      used.add(n === 0 ? 1 : n);
    }
    for (let n = 1; n <= keyLength; n++) {
      if (!used.has(n)) {
        throw new SluiceError(
          'CONFIG_INVALID',
          keyLength === 1
            ? 'the url has no {key}: write where the key goes, e.g. https://crm.example.com/customers/{key}'
            : `the url has no {key${n}}: each value of the key must be in it, or different keys would get the same row`,
          { path: 'url' },
        );
      }
    }
  }

  async get(keys: readonly LookupKey[], signal: AbortSignal): Promise<LookupAnswer[]> {
    return Promise.all(keys.map((key) => this.#one(key, signal)));
  }

  async #one(key: LookupKey, signal: AbortSignal): Promise<LookupAnswer> {
    const href = this.#template.replace(PLACEHOLDER, (_m, a: string | undefined, b: string | undefined) => {
      const digits = a ?? b ?? '';
      const value = key[digits === '' ? 0 : Number(digits) - 1];
      return encodeURIComponent(typeof value === 'string' ? value : JSON.stringify(value));
    });
    const target = describeTarget(href);
    let res: Response;
    try {
      res = await fetch(href, { headers: this.#headers, signal });
    } catch (err) {
      if (signal.aborted) throw err;
      return new SluiceError('LOOKUP_UNAVAILABLE', `GET ${target} failed: ${networkReason(err)}`, {
        cause: err,
      });
    }
    if (res.status === 404) {
      await res.body?.cancel().catch(() => {});
      return null;
    }
    if (!res.ok) {
      const reason = await snippetOf(res);
      const failure = new HttpFailure(
        res.status,
        reason,
        retryAfterOf(res.headers.get('retry-after'), Date.now()),
      );
      const message = `GET ${target}: ${failure.message}`;
      // The failure as cause carries its Retry-After to the step's retries.
      return new SluiceError(failure.transient ? 'LOOKUP_UNAVAILABLE' : 'LOOKUP_FAILED', message, {
        cause: failure,
      });
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      if (signal.aborted) throw err;
      return new SluiceError(
        'LOOKUP_UNAVAILABLE',
        `GET ${target}: the response broke off: ${networkReason(err)}`,
        {
          cause: err,
        },
      );
    }
    const outcome: JsonOutcome = { value: undefined, error: undefined };
    parseJsonText(text, DEFAULT_MAX_DEPTH, outcome);
    const row = outcome.value;
    if (outcome.error !== undefined || typeof row !== 'object' || row === null || Array.isArray(row)) {
      const why = outcome.error ?? 'it is no JSON object';
      return new SluiceError('LOOKUP_FAILED', `GET ${target}: the response cannot be a row: ${why}`);
    }
    return { ...row };
  }
}

/** The URL for messages: origin and path, without the query (it may hold an API key). */
function describeTarget(href: string): string {
  const url = new URL(href);
  return `${url.origin}${url.pathname}`;
}

export const httpLookup = defineLookup({
  type: 'http',
  summary: 'Asks an HTTP API for each key’s row: one GET per key, 404 a miss.',
  description: [
    'Each key is one GET of `url` with the key put in (percent-encoded; a value that is not a string as its JSON text). The response decides:',
    '',
    '- **2xx** — the body, a JSON object, is the row (anything else is LOOKUP_FAILED).',
    '- **404** — the API has no row for the key: a miss, which the step’s `on_miss` decides about (and which its cache keeps for `miss_ttl`).',
    '- **408, 429, 5xx, and no response** (connection refused or reset, the step’s `timeout`) — transient (LOOKUP_UNAVAILABLE): the step asks again, up to its `retries`, after a capped, jittered backoff — or, when the response has a `Retry-After`, at least as long as it asks.',
    '- **Any other 4xx** (400, 401, 403, 422, …) — the API refuses the key for good (LOOKUP_FAILED): the records with that key go to the dead letters with the status and the first 500 bytes of the body.',
    '',
    'Each request is one call of the step: its `concurrency` bounds the requests at once, its `timeout` each request. Header values and credentials in the URL are secrets: messages show the URL’s origin and path only.',
  ].join('\n'),
  example: [
    'type: http',
    'url: https://crm.example.com/customers/{key}',
    'headers:',
    '  authorization: Bearer change-me',
  ].join('\n'),
  config,
  create: (cfg, info) => new HttpLookup(cfg, info.keyLength),
});
