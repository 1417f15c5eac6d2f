/**
 * The `http_server` source: an ingest endpoint that takes JSON or NDJSON records by POST and
 * acknowledges them once they are durable (a write-ahead log), delivered (a checkpoint), or
 * queued, as `ack` says.
 */

import { resolve } from 'node:path';
import type { SourceContext, SourceReader } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import { defineSource } from '../spec.ts';
import { isWalPosition } from './http-server-chunks.ts';
import { type HttpServerConfig, httpServerConfig, httpServerSettings } from './http-server-config.ts';
import { HttpServerReader } from './http-server-reader.ts';
import { comparePositions, hasFrames, WriteAheadLog } from './write-ahead-log.ts';

export type { HttpWalPosition } from './http-server-chunks.ts';
export { type HttpServerConfig, httpServerConfig } from './http-server-config.ts';
export { HttpServerReader } from './http-server-reader.ts';

/** The folder of the write-ahead log: `wal_dir`, else the job's state folder of the source. */
function walDir(config: HttpServerConfig, ctx: SourceContext): string | undefined {
  if (config.wal_dir !== undefined) return resolve(ctx.baseDir, config.wal_dir);
  return ctx.stateDir;
}

async function openReader(config: HttpServerConfig, ctx: SourceContext): Promise<HttpServerReader> {
  const settings = httpServerSettings(config);
  const dir = walDir(config, ctx);
  const restored = ctx.restored.http;
  let reader: HttpServerReader;
  if (config.ack === 'wal') {
    if (dir === undefined) {
      throw new SluiceError(
        'CONFIG_INVALID',
        'ack: wal needs a folder for the write-ahead log: set wal_dir (the job gives one of its own)',
        { step: ctx.id, path: 'wal_dir' },
      );
    }
    const wal = await WriteAheadLog.open(dir, {
      segmentBytes: settings.segmentBytes,
      step: ctx.id,
      onTorn: (bytes, file) =>
        ctx.log.warn(
          'http_server: cut an unfinished frame off the write-ahead log (it was never acknowledged)',
          {
            file,
            bytes,
          },
        ),
    });
    if (restored !== undefined && !isWalPosition(restored)) {
      ctx.log.info('http_server: the checkpoint has no write-ahead log position; replaying the whole log', {
        source: ctx.id,
      });
    }
    let start = isWalPosition(restored) ? restored : { ...wal.start, record: 0 };
    if (comparePositions(start, wal.end) > 0) {
      ctx.log.warn(
        'http_server: the checkpoint points past the end of the write-ahead log (was it replaced?); replaying the whole log',
        {
          source: ctx.id,
          position: start,
          end: wal.end,
        },
      );
      start = { ...wal.start, record: 0 };
    }
    reader = new HttpServerReader(settings, ctx, wal, start);
  } else {
    if (dir !== undefined && (await hasFrames(dir))) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `the write-ahead log in ${dir} still holds records acknowledged with ack: wal; run with ack: wal ` +
          'until a checkpoint has delivered them, or delete the folder to drop them',
        { step: ctx.id, path: 'ack' },
      );
    }
    const handed = typeof restored === 'number' && Number.isSafeInteger(restored) ? restored : 0;
    reader = new HttpServerReader(settings, ctx, undefined, handed);
  }
  try {
    await reader.listen();
  } catch (err) {
    await reader.close();
    throw err;
  }
  return reader;
}

/** The `http_server` source spec. */
export const httpServerSource = defineSource({
  type: 'http_server',
  delivery: {
    option: 'ack',
    values: { wal: 'at-least-once', checkpoint: 'at-least-once', memory: 'at-most-once' },
  },
  // The position is a place in the write-ahead log (or a record count without one): the log's
  // place and whether there is one decide what it means; the address, limits and token may change.
  identity: ['ack', 'wal_dir'],
  summary: 'Receives records POSTed as JSON or NDJSON to an HTTP ingest endpoint.',
  description: [
    'Listens on `host:port` and accepts `POST <path>` with a body of one JSON object, a JSON array',
    'of objects, or NDJSON (one object per line; see `format`).',
    '',
    'Answers:',
    '- **202** `{"accepted": n, "failed": m}` once the records are acknowledged (see below). Each',
    '  NDJSON line (or array element) that is not a JSON object does not fail the request: it goes',
    '  to the dead-letter output (counted in `failed`) and the other records are accepted.',
    '- **400** when a JSON body does not parse, is not UTF-8 (with `invalid_utf8: dead_letter`) or is',
    '  not an object or array; nothing is accepted. A record nested deeper than `max_depth`, holding',
    '  a number beyond a double (`1e400`), or an NDJSON line that is not UTF-8 goes to the',
    '  dead-letter output like a line that is not an object.',
    '- **401** when `token` is set and the request lacks `Authorization: Bearer <token>` (the scheme',
    '  in any case; the token compared in constant time).',
    '- **408** (and the connection closed) when the headers take longer than `header_timeout` or the',
    '  whole request longer than `request_timeout`.',
    '- **413** when the body is larger than `max_body`, or holds more records than `queue_records`.',
    '- **429** with `Retry-After: 1` when the records would not fit in the queue (`queue_records`,',
    '  `queue_bytes`); nothing of that request is accepted, so the client can resend it whole.',
    '- **503** with `Retry-After: 1` while the pipeline stops, or (`ack: checkpoint`) when it stopped',
    '  before a checkpoint covered the request.',
    '',
    '`GET /health` answers `{"status": "ok"}` (503 `stopping` during a stop); only a request that',
    'bears the token also gets the queue figures. A client that hangs up mid-request is logged at',
    'debug level only. Beyond `max_connections` open connections, new ones are closed at once.',
    '',
    '**Acknowledgement** (`ack`). `wal` (default): the body is appended to a write-ahead log on',
    'local disk and the 202 is sent after the fsync that covers it; requests that arrive while an',
    'fsync runs share the next one (group commit). The log lives in `wal_dir`, by default in the',
    "job's checkpoint folder (`<checkpoint dir>/<pipeline>/sources/<source id>`). After a crash the",
    'job replays the log from the position in its checkpoint, so every acknowledged record reaches',
    'the pipeline; segments are deleted once the checkpoints the job keeps have passed them. With',
    '`checkpoint` (synchronous) the 202 waits until a checkpoint covering the records has completed',
    '— they went through the steps and the sinks committed them — and the source asks the job for',
    'a checkpoint as soon as such records are in; a request left waiting when the job stops gets',
    '503. With `memory` the 202 is sent once the records are queued: fastest, but records not',
    'covered by a checkpoint are lost in a crash. In every mode a graceful stop (SIGINT, SIGTERM)',
    'answers new requests 503 and delivers everything already accepted before its final',
    'checkpoint. Delivery is at-least-once: after a crash, records accepted after the last',
    "checkpoint are replayed (`wal`) or resent by clients that got no 202, and a replayed record's",
    'output may appear twice in a sink that is not exactly-once.',
    '',
    'One partition, `http`. Its position is, with `wal`, the log frame being read and the records',
    'of it handed (dead-letter offsets are `<segment>:<byte>#<record>`); otherwise the number of',
    'records handed. Batch times are the time each request was accepted (kept in the log).',
    '`queue_bytes` counts body bytes, a few times less than the records take in memory.',
  ].join('\n'),
  example: [
    'type: http_server',
    'host: 0.0.0.0',
    'port: 9000',
    'path: /ingest',
    'token: change-me',
    'ack: wal',
    'queue_records: 50000',
    'queue_bytes: 64mb',
  ].join('\n'),
  config: httpServerConfig,
  bounded: () => false,
  create(config) {
    httpServerSettings(config);
    return {
      async open(ctx: SourceContext): Promise<SourceReader[]> {
        return [await openReader(config, ctx)];
      },
    };
  },
});
