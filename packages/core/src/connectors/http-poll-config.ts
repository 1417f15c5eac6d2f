/**
 * The options of the `http_poll` source: what to request, when, how to page through a response
 * and how to ask only for what changed.
 */

import Type, { type Static } from 'typebox';
import { byteSizePattern } from '../byte-size.ts';
import { retryConfig } from './backoff.ts';

// Validation applies these (the defaults of the pagination branch that matched); the types keep
// them optional, so the reader falls back to the same constants.
/** Query parameter of a cursor when `pagination.param` is absent. */
export const DEFAULT_CURSOR_PARAM = 'cursor';
/** Query parameter of a page number when `pagination.param` is absent. */
export const DEFAULT_PAGE_PARAM = 'page';
/** Number of the first page when `pagination.start` is absent. */
export const DEFAULT_PAGE_START = 1;

const linkPagination = Type.Object(
  {
    type: Type.Literal('link', {
      description:
        'The kind of pagination. `link`: follow the `Link: <…>; rel="next"` response header (RFC 8288); `cursor`: send the cursor the body names; `page`: count pages.',
    }),
  },
  { additionalProperties: false, description: 'Pages linked by the `Link` header.' },
);

const cursorPagination = Type.Object(
  {
    type: Type.Literal('cursor', { description: 'The response body names the next page’s cursor.' }),
    cursor_path: Type.String({
      minLength: 1,
      description: 'Dotted path of the next cursor in the JSON body; null, absent or `""` ends the poll.',
      examples: ['meta.next_cursor'],
    }),
    param: Type.Optional(
      Type.String({
        minLength: 1,
        default: DEFAULT_CURSOR_PARAM,
        description: 'Query parameter the cursor is sent in.',
        examples: ['after'],
      }),
    ),
  },
  { additionalProperties: false, description: 'Pages named by a cursor in the body.' },
);

const pagePagination = Type.Object(
  {
    type: Type.Literal('page', { description: 'Numbered pages.' }),
    param: Type.Optional(
      Type.String({
        minLength: 1,
        default: DEFAULT_PAGE_PARAM,
        description: 'Query parameter of the page number.',
        examples: ['p'],
      }),
    ),
    start: Type.Optional(
      Type.Integer({
        default: DEFAULT_PAGE_START,
        description: 'Number of the first page.',
        examples: [0],
      }),
    ),
    size_param: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'Query parameter of the page size; absent: none is sent.',
        examples: ['per_page'],
      }),
    ),
    size: Type.Optional(
      Type.Integer({
        minimum: 1,
        description:
          'Page size sent in `size_param`; a page with fewer records is the last. Absent: only an empty page ends the poll.',
        examples: [100],
      }),
    ),
  },
  { additionalProperties: false, description: 'Numbered pages; an empty or short page is the last.' },
);

/** Config schema of the `http_poll` source. */
export const httpPollConfig = Type.Object(
  {
    url: Type.String({
      pattern: '^https?://',
      description:
        'The URL polled. Credentials in it (`https://user:password@host/…`) are sent as Basic authentication; messages show only its origin and path (the query may hold an API key).',
      examples: ['https://api.example.com/v1/orders?status=open'],
    }),
    method: Type.Enum(['GET', 'POST'], {
      default: 'GET',
      description:
        'Request method; a `POST` sends `body` as JSON. Pagination and incremental parameters go in the query either way.',
      examples: ['POST'],
    }),
    body: Type.Optional(
      Type.Unknown({ description: 'JSON body of a `POST`.', examples: [{ query: 'status:open' }] }),
    ),
    headers: Type.Record(
      Type.String(),
      Type.String({ secret: true, description: 'Header value (treated as a secret: never logged).' }),
      {
        default: {},
        description:
          // biome-ignore lint/suspicious/noTemplateCurlyInString: a pipeline file's ${VAR} reference, shown as such
          'Request headers, e.g. `Authorization` (write `${API_TOKEN}` to take it from the environment); all values are secret.',
        examples: [{ authorization: 'Bearer change-me' }],
      },
    ),
    interval: Type.Optional(
      Type.String({
        description:
          'Time from the start of one poll to the start of the next (at once when a poll takes longer). Used when `cron` is not set; absent too: `1m`.',
        examples: ['30s'],
      }),
    ),
    cron: Type.Optional(
      Type.String({
        description:
          'When to poll instead of `interval`: a 5-field cron expression (minute hour day-of-month month day-of-week, in UTC; `*`, lists, ranges, `/` steps, month and weekday names).',
        examples: ['*/15 * * * *'],
      }),
    ),
    format: Type.Enum(['json', 'jsonl'], {
      default: 'json',
      description:
        '`json`: the body is one JSON document holding the records. `jsonl`: one JSON record per line.',
      examples: ['jsonl'],
    }),
    records: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Dotted path of the array of records in a `json` body. Absent: the body itself when it is an array, else the body is one record.',
        examples: ['data.items'],
      }),
    ),
    pagination: Type.Optional(
      Type.Union([linkPagination, cursorPagination, pagePagination], {
        description: 'How one poll pages through the response. Absent: one request per poll.',
        examples: [{ type: 'cursor', cursor_path: 'meta.next_cursor', param: 'cursor' }],
      }),
    ),
    max_pages: Type.Integer({
      minimum: 1,
      default: 100,
      description:
        'Most pages one poll reads; then the poll ends with a warning (the next poll starts again at the first page).',
      examples: [1000],
    }),
    incremental: Type.Optional(
      Type.Object(
        {
          field: Type.String({
            minLength: 1,
            description: 'Dotted path of a field of each record that grows (a number or an ISO timestamp).',
            examples: ['updated_at'],
          }),
          param: Type.String({
            minLength: 1,
            description: 'Query parameter the greatest value seen is sent in.',
            examples: ['since'],
          }),
        },
        {
          additionalProperties: false,
          description:
            'Ask only for records newer than those seen: the greatest `field` read in one poll is sent as `param` in every request of the next.',
          examples: [{ field: 'updated_at', param: 'since' }],
        },
      ),
    ),
    max_body: Type.String({
      pattern: byteSizePattern,
      default: '64mb',
      description:
        'Largest response body read (e.g. `512kb`, `64mb`): a page is held in memory while its records are read; a larger one fails the job (SOURCE_REFUSED).',
      examples: ['256mb'],
    }),
    timeout: Type.String({
      default: '30s',
      description: 'Limit on each request, the body included; a timeout is retried.',
      examples: ['10s'],
    }),
    retry: retryConfig,
  },
  { additionalProperties: false },
);

/** Options of the `http_poll` source, defaults applied. */
export type HttpPollConfig = Static<typeof httpPollConfig>;
