/**
 * The `http_server` source: an ingest endpoint that takes JSON or NDJSON records by POST into a
 * bounded queue the pipeline reads from.
 */

import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Type, { type Static } from 'typebox';
import { parseByteSize } from '../byte-size.ts';
import type { DecodeFailure, Logger, SourceBatch, SourceContext, SourceReader } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import type { Offset, Row } from '../record.ts';
import { defineSource } from '../spec.ts';
import type { Clock } from '../time.ts';
import { decodeBody, formatOfContentType, readBody } from './http-body.ts';

/** A read with nothing queued returns an empty batch after this long. */
const IDLE_MS = 200;

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
    max_body: Type.String({
      default: '1mb',
      description: 'Largest request body (e.g. `512kb`, `1mb`); a larger one is answered 413.',
      examples: ['10mb'],
    }),
    token: Type.Optional(
      Type.String({
        minLength: 1,
        secret: true,
        description: 'Bearer token clients must send as `Authorization: Bearer <token>`. Absent: no auth.',
        examples: ['change-me'],
      }),
    ),
    queue_records: Type.Integer({
      minimum: 1,
      default: 10_000,
      description: 'Most records held between acceptance and the pipeline; beyond it requests get 429.',
      examples: [50_000],
    }),
    format: Type.Enum(['auto', 'json', 'ndjson'], {
      default: 'auto',
      description:
        '`json` (an object or an array of objects), `ndjson` (one object per line), or `auto`: NDJSON ' +
        'when the Content-Type is `application/x-ndjson`, `application/jsonl` or alike, else JSON.',
      examples: ['ndjson'],
    }),
  },
  { additionalProperties: false },
);

/** Options of the `http_server` source, defaults applied. */
export type HttpServerConfig = Static<typeof httpServerConfig>;

interface Chunk {
  records: Row[];
  failures: DecodeFailure[];
  receivedAt: number;
  /** Index of the first record of `records` not yet read. */
  next: number;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

function sendJson(res: ServerResponse, status: number, body: unknown, headers: { [k: string]: string } = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * The one partition (`http`) of an `http_server` source: the server and its queue. Its position
 * is the number of records (and decode failures) handed to the runtime.
 */
export class HttpServerReader implements SourceReader {
  readonly partition = 'http';
  /** The ingest URL, with the port actually bound (useful with `port: 0`). */
  readonly url: string;
  /** The TCP port actually bound. */
  readonly port: number;
  readonly #server: Server;
  readonly #config: HttpServerConfig;
  readonly #maxBody: number;
  readonly #token: Buffer | undefined;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #chunks: Chunk[] = [];
  #queued = 0;
  #handed: number;
  #wake: (() => void) | undefined;
  #closing = false;

  private constructor(server: Server, config: HttpServerConfig, handed: number, ctx: SourceContext) {
    this.#server = server;
    this.#config = config;
    this.#maxBody = parseByteSize(config.max_body, 'max_body');
    this.#token = config.token === undefined ? undefined : digest(config.token);
    this.#handed = handed;
    this.#clock = ctx.clock;
    this.#log = ctx.log;
    const { port } = server.address() as AddressInfo;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    this.port = port;
    this.url = `http://${host}:${port}${config.path}`;
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.#handle(req, res).catch((err: unknown) => {
        this.#log.error('http_server request failed', { error: String(err) });
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
        else res.destroy();
      });
    });
  }

  /** Starts listening; rejects with SOURCE_UNAVAILABLE when the address cannot be bound. */
  static async start(config: HttpServerConfig, ctx: SourceContext): Promise<HttpServerReader> {
    const restored = ctx.restored.http;
    const handed = typeof restored === 'number' && Number.isSafeInteger(restored) ? restored : 0;
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: config.host, port: config.port }, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((err: unknown) => {
      throw new SluiceError(
        'SOURCE_UNAVAILABLE',
        `cannot listen on ${config.host}:${config.port} (${err instanceof Error ? err.message : err}); ` +
          'choose a free port or stop the process using it',
        { step: ctx.id, path: 'port', cause: err },
      );
    });
    const reader = new HttpServerReader(server, config, handed, ctx);
    ctx.log.info('http_server listening', { url: reader.url });
    return reader;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (pathname === '/health' && (req.method === 'GET' || req.method === 'HEAD')) {
      return sendJson(res, 200, { status: 'ok', queued: this.#queued });
    }
    if (pathname !== this.#config.path) return sendJson(res, 404, { error: `no endpoint at ${pathname}` });
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'use POST' }, { allow: 'POST' });
    if (this.#closing) return this.#refuse(req, res, 503, 'the pipeline is shutting down');
    if (!this.#authorized(req)) {
      return this.#refuse(req, res, 401, 'missing or wrong bearer token', { 'www-authenticate': 'Bearer' });
    }
    if (Number(req.headers['content-length'] ?? 0) > this.#maxBody) return this.#tooLarge(req, res);
    if (this.#queued >= this.#config.queue_records) return this.#busy(req, res);

    const body = await readBody(req, this.#maxBody);
    if (body === undefined) return this.#tooLarge(req, res);
    const format =
      this.#config.format === 'auto' ? formatOfContentType(req.headers['content-type']) : this.#config.format;
    let decoded: ReturnType<typeof decodeBody>;
    try {
      decoded = decodeBody(body.toString('utf8'), format);
    } catch (err) {
      return sendJson(res, 400, { error: err instanceof Error ? err.message : String(err) });
    }
    const { records, failures } = decoded;
    const n = records.length + failures.length;
    if (n > this.#config.queue_records) {
      return sendJson(res, 413, {
        error: `the request holds ${n} records, more than queue_records (${this.#config.queue_records}); split it`,
      });
    }
    if (this.#closing)
      return sendJson(res, 503, { error: 'the pipeline is shutting down' }, { 'retry-after': '1' });
    if (this.#queued + n > this.#config.queue_records) return this.#busy(req, res);
    if (n > 0) {
      this.#chunks.push({ records, failures, receivedAt: this.#clock.now(), next: 0 });
      this.#queued += n;
      this.#wake?.();
    }
    sendJson(res, 202, { accepted: records.length, failed: failures.length });
  }

  #authorized(req: IncomingMessage): boolean {
    if (this.#token === undefined) return true;
    const header = req.headers.authorization ?? '';
    const given = header.startsWith('Bearer ') ? header.slice(7) : '';
    return timingSafeEqual(digest(given), this.#token);
  }

  /** Answers without reading the body; the connection closes so the unread body is not parsed. */
  #refuse(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    error: string,
    headers: { [k: string]: string } = {},
  ) {
    if (!req.complete) {
      headers.connection = 'close';
      req.resume();
    }
    if (status === 503) headers['retry-after'] = '1';
    sendJson(res, status, { error }, headers);
  }

  #tooLarge(req: IncomingMessage, res: ServerResponse) {
    this.#refuse(req, res, 413, `body larger than max_body (${this.#config.max_body})`);
  }

  #busy(req: IncomingMessage, res: ServerResponse) {
    this.#refuse(req, res, 429, `queue full (${this.#config.queue_records} records); retry later`, {
      'retry-after': '1',
    });
  }

  async read(max: number, signal: AbortSignal): Promise<SourceBatch> {
    if (this.#queued === 0 && !this.#closing && !signal.aborted) await this.#idle(signal);
    return this.#take(max);
  }

  /** Resolves when records arrive, after IDLE_MS, or on abort. */
  #idle(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, IDLE_MS);
      signal.addEventListener('abort', done, { once: true });
      this.#wake = done;
    });
  }

  #take(max: number): SourceBatch {
    const records: Row[] = [];
    const offsets: Offset[] = [];
    const times: number[] = [];
    const failures: DecodeFailure[] = [];
    while (this.#chunks.length > 0 && records.length < max) {
      const chunk = this.#chunks[0];
      for (const failure of chunk.failures) {
        failure.offset = this.#handed++;
        failures.push(failure);
      }
      this.#queued -= chunk.failures.length;
      chunk.failures = [];
      const end = Math.min(chunk.records.length, chunk.next + max - records.length);
      for (let i = chunk.next; i < end; i++) {
        records.push(chunk.records[i]);
        offsets.push(this.#handed++);
        times.push(chunk.receivedAt);
      }
      this.#queued -= end - chunk.next;
      chunk.next = end;
      if (end === chunk.records.length) this.#chunks.shift();
    }
    return failures.length > 0 ? { records, offsets, times, failures } : { records, offsets, times };
  }

  position(): number {
    return this.#handed;
  }

  /** Stops the server; records still queued are dropped (and logged). */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#wake?.();
    if (this.#queued > 0) {
      this.#log.warn('http_server closed with records not yet read; they are lost', {
        records: this.#queued,
      });
    }
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}

/** The `http_server` source spec. */
export const httpServerSource = defineSource({
  type: 'http_server',
  summary: 'Receives records POSTed as JSON or NDJSON to an HTTP ingest endpoint.',
  description: [
    'Listens on `host:port` and accepts `POST <path>` with a body of one JSON object, a JSON array',
    'of objects, or NDJSON (one object per line; see `format`). `GET /health` answers 200.',
    '',
    'Answers:',
    '- **202** `{"accepted": n, "failed": m}` once the records are in the queue. Each NDJSON line (or',
    '  array element) that is not a JSON object does not fail the request: it goes to the',
    '  dead-letter output (counted in `failed`) and the other records are accepted.',
    '- **400** when a JSON body does not parse or is not an object or array; nothing is accepted.',
    '- **401** when `token` is set and the request lacks `Authorization: Bearer <token>` (compared in',
    '  constant time).',
    '- **413** when the body is larger than `max_body`, or holds more records than `queue_records`.',
    '- **429** with `Retry-After: 1` when the records would not fit in the queue (`queue_records`);',
    '  nothing of that request is accepted, so the client can resend it whole. **503** while closing.',
    '',
    'One partition, `http`; its position is the number of records handed to the pipeline. The',
    'source cannot replay: **202 means "in this process\'s memory queue", not "durable"**. Records',
    'accepted but not yet covered by a completed checkpoint — queued, in flight through the steps,',
    'or buffered by a sink — are lost if the process crashes or is killed, and the client, having',
    'seen 202, will not resend them; records still queued when the pipeline stops are dropped too',
    '(with a warning). Across restarts delivery is therefore at-most-once for the client unless it',
    'keeps its own retention and re-sends (ideally with an id the pipeline deduplicates on). Batch',
    'times are the time each request was accepted.',
  ].join('\n'),
  example: [
    'type: http_server',
    'host: 0.0.0.0',
    'port: 9000',
    'path: /ingest',
    'token: change-me',
    'queue_records: 50000',
  ].join('\n'),
  config: httpServerConfig,
  bounded: () => false,
  create(config) {
    parseByteSize(config.max_body, 'max_body');
    if (config.path === '/health') {
      throw new SluiceError(
        'CONFIG_INVALID',
        '`/health` is reserved for the health check; choose another path',
        {
          path: 'path',
        },
      );
    }
    return {
      async open(ctx: SourceContext): Promise<SourceReader[]> {
        return [await HttpServerReader.start(config, ctx)];
      },
    };
  },
});
