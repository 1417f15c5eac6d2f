/**
 * Options of the `http_server` source, and their checks and parsed form.
 */

import Type, { type Static } from 'typebox';
import { byteSizePattern, parseByteSize } from '../byte-size.ts';
import { SluiceError } from '../errors.ts';
import { parseDuration } from '../time.ts';
import { inputLimitFields } from './format-options.ts';
import type { InputLimits } from './input-guards.ts';

const size = (options: { default: string; description: string; examples: string[] }) =>
  Type.String({ pattern: byteSizePattern, ...options });

/** Config schema of the `http_server` source. */
export const httpServerConfig = Type.Object(
  {
    host: Type.String({
      default: '127.0.0.1',
      description: 'Address to listen on; `0.0.0.0` or `::` for all interfaces.',
      examples: ['0.0.0.0'],
    }),
    port: Type.Integer({
      minimum: 0,
      maximum: 65535,
      default: 8080,
      description: 'TCP port; 0 picks a free one (the `http_server listening` log line gives the URL).',
      examples: [9000],
    }),
    path: Type.String({
      pattern: '^/',
      default: '/ingest',
      description: 'Path that accepts POSTed records. `/health` is reserved for the health check.',
      examples: ['/webhooks/orders'],
    }),
    ack: Type.Enum(['wal', 'checkpoint', 'memory'], {
      default: 'wal',
      description:
        'When a request is answered 202. `wal`: once its body is in the write-ahead log on local disk ' +
        '(fsynced, one fsync for all requests that arrive meanwhile); a crash loses nothing acknowledged. ' +
        '`checkpoint` (synchronous): once a checkpoint covering its records has completed, i.e. they went ' +
        'through the steps and the sinks committed them; the job checkpoints as soon as such a request ' +
        'waits. `memory`: once queued in memory, fastest, but records not yet covered by a checkpoint are ' +
        'lost if the process crashes.',
      examples: ['checkpoint'],
    }),
    wal_dir: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          'Folder of the write-ahead log (`ack: wal`), relative to the pipeline file. Default: ' +
          '`<checkpoint dir>/<pipeline>/sources/<source id>`.',
        examples: ['/var/lib/sluice/ingest-wal'],
      }),
    ),
    wal_segment_size: size({
      default: '16mb',
      description:
        'Size past which the write-ahead log starts a new segment file; whole segments are deleted once ' +
        'checkpoints cover them.',
      examples: ['64mb'],
    }),
    max_body: size({
      default: '1mb',
      description: 'Largest request body (e.g. `512kb`, `1mb`); a larger one is answered 413.',
      examples: ['10mb'],
    }),
    queue_records: Type.Integer({
      minimum: 1,
      default: 10_000,
      description:
        'Most records held between acceptance and the pipeline; a request that would pass it gets 429.',
      examples: [50_000],
    }),
    queue_bytes: size({
      default: '16mb',
      description:
        'Most bytes of request bodies held between acceptance and the pipeline, bodies still being received ' +
        'included; a request that would pass it gets 429. At least `max_body`.',
      examples: ['64mb'],
    }),
    token: Type.Optional(
      Type.String({
        minLength: 1,
        secret: true,
        description:
          'Bearer token clients must send as `Authorization: Bearer <token>` (the scheme in any case). ' +
          'Absent: no auth.',
        examples: ['change-me'],
      }),
    ),
    format: Type.Enum(['auto', 'json', 'ndjson'], {
      default: 'auto',
      description:
        '`json` (an object or an array of objects), `ndjson` (one object per line), or `auto`: NDJSON ' +
        'when the Content-Type is `application/x-ndjson`, `application/jsonl` or alike, else JSON.',
      examples: ['ndjson'],
    }),
    ...inputLimitFields,
    header_timeout: Type.String({
      default: '10s',
      description:
        'Longest time to receive the request headers; a slower client gets 408 and is disconnected.',
      examples: ['5s'],
    }),
    request_timeout: Type.String({
      default: '30s',
      description:
        'Longest time to receive a whole request, body included (not the wait for its answer); then 408.',
      examples: ['2m'],
    }),
    max_connections: Type.Integer({
      minimum: 1,
      default: 1024,
      description: 'Most open client connections; further connections are closed at once.',
      examples: [256],
    }),
  },
  { additionalProperties: false },
);

/** Options of the `http_server` source, defaults applied. */
export type HttpServerConfig = Static<typeof httpServerConfig>;

/** The options in the units the source works in (bytes, milliseconds). */
export interface HttpServerSettings {
  readonly config: HttpServerConfig;
  readonly maxBody: number;
  readonly queueBytes: number;
  readonly segmentBytes: number;
  readonly headerTimeout: number;
  readonly requestTimeout: number;
  /** What a decoded record may hold (depth, bytes that are not UTF-8). */
  readonly limits: InputLimits;
}

/** Checks what the schema cannot and converts sizes and durations; throws CONFIG_INVALID. */
export function httpServerSettings(config: HttpServerConfig): HttpServerSettings {
  if (config.path === '/health') {
    throw new SluiceError(
      'CONFIG_INVALID',
      '`/health` is reserved for the health check; choose another path',
      {
        path: 'path',
      },
    );
  }
  const maxBody = parseByteSize(config.max_body, 'max_body');
  const queueBytes = parseByteSize(config.queue_bytes, 'queue_bytes');
  if (maxBody > queueBytes) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `max_body (${config.max_body}) is larger than queue_bytes (${config.queue_bytes}), so a request of max_body could never be taken; raise queue_bytes or lower max_body`,
      { path: 'queue_bytes' },
    );
  }
  const headerTimeout = parseDuration(config.header_timeout, 'header_timeout');
  const requestTimeout = parseDuration(config.request_timeout, 'request_timeout');
  if (headerTimeout <= 0 || requestTimeout < headerTimeout) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `header_timeout (${config.header_timeout}) must be above 0 and at most request_timeout (${config.request_timeout})`,
      { path: 'header_timeout' },
    );
  }
  return {
    config,
    maxBody,
    queueBytes,
    segmentBytes: parseByteSize(config.wal_segment_size, 'wal_segment_size'),
    headerTimeout,
    requestTimeout,
    limits: { maxDepth: config.max_depth, invalidUtf8: config.invalid_utf8 },
  };
}
