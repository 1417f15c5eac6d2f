/**
 * The HTTP side of the `http_server` source: the listening server (timeouts, connection cap),
 * routing, bearer authentication, the health check, reading and decoding bodies within the
 * queue's byte budget, and the answers. What is accepted goes to an `IngestQueue`.
 */

import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import { type BodyFormat, type DecodedBody, decodeBody, formatOfContentType, readBody } from './http-body.ts';
import type { HttpServerSettings } from './http-server-config.ts';

/** A request decoded and within the limits, handed to the queue. */
export interface IngestRequest {
  readonly body: Buffer;
  readonly format: BodyFormat;
  readonly decoded: DecodedBody;
  /** Records plus decode failures. */
  readonly count: number;
}

/** Why the queue did not take a request: the status and message to answer with. */
export class IngestRefusal extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** Where accepted requests go: the source's queue. */
export interface IngestQueue {
  /** True once the source stops taking requests (the job is stopping): they get 503. */
  readonly closed: boolean;
  /** Reserves room for `bytes` more bytes of bodies being received; false when there is none. */
  reserveBytes(bytes: number): boolean;
  /** Gives back bytes reserved for a body that is not taken. */
  releaseBytes(bytes: number): void;
  /** Whether `records` more records fit. */
  hasRoomFor(records: number): boolean;
  /**
   * Takes a request whose body bytes are reserved. Resolves when it may be answered 202 (what
   * that means depends on `ack`); rejects with an `IngestRefusal` when it cannot be taken.
   */
  accept(request: IngestRequest): Promise<void>;
  /** Queue figures for a /health request that bears the token. */
  stats(): { [name: string]: unknown };
}

/** How long closing waits for the answers of requests being handled. */
const CLOSE_GRACE_MS = 2000;

const digest = (text: string) => createHash('sha256').update(text).digest();

/** `Authorization: Bearer <token>`: the scheme in any case (RFC 7235), one or more spaces. */
const bearer = /^bearer +(\S+) *$/i;

function sendJson(res: ServerResponse, status: number, body: unknown, headers: { [k: string]: string } = {}) {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** The listening ingest server of one `http_server` source. */
export class IngestEndpoint {
  /** The ingest URL, with the port actually bound (useful with `port: 0`). */
  readonly url: string;
  /** The TCP port actually bound. */
  readonly port: number;
  readonly #server: Server;
  readonly #settings: HttpServerSettings;
  readonly #queue: IngestQueue;
  readonly #token: Buffer | undefined;
  readonly #log: Logger;
  /** Requests being handled, and who waits for there to be none. */
  #active = 0;
  #idle: (() => void) | undefined;

  private constructor(server: Server, settings: HttpServerSettings, queue: IngestQueue, log: Logger) {
    const { config } = settings;
    this.#server = server;
    this.#settings = settings;
    this.#queue = queue;
    this.#token = config.token === undefined ? undefined : digest(config.token);
    this.#log = log;
    const { port } = server.address() as AddressInfo;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    this.port = port;
    this.url = `http://${host}:${port}${config.path}`;
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.#active++;
      this.#handle(req, res)
        .catch((err: unknown) => {
          this.#log.error('http_server request failed', { error: String(err) });
          if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
          else res.destroy();
        })
        .finally(() => {
          this.#active--;
          if (this.#active === 0) this.#idle?.();
        });
    });
  }

  /** Starts listening; rejects with SOURCE_UNAVAILABLE when the address cannot be bound. */
  static async listen(
    settings: HttpServerSettings,
    queue: IngestQueue,
    ctx: { id: string; log: Logger },
  ): Promise<IngestEndpoint> {
    const { config, headerTimeout, requestTimeout } = settings;
    const server = createServer({
      headersTimeout: headerTimeout,
      requestTimeout,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headerTimeout / 4))),
    });
    server.maxConnections = config.max_connections;
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
    server.on('error', (err) => ctx.log.error('http_server failed', { error: String(err) }));
    return new IngestEndpoint(server, settings, queue, ctx.log);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { config, maxBody } = this.#settings;
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (pathname === '/health' && (req.method === 'GET' || req.method === 'HEAD'))
      return this.#health(req, res);
    if (pathname !== config.path) return this.#refuse(req, res, 404, `no endpoint at ${pathname}`);
    if (req.method !== 'POST') return this.#refuse(req, res, 405, 'use POST', { allow: 'POST' });
    if (this.#queue.closed) return this.#refuse(req, res, 503, 'the pipeline is shutting down');
    if (!this.#authorized(req)) {
      return this.#refuse(req, res, 401, 'missing or wrong bearer token', { 'www-authenticate': 'Bearer' });
    }
    const declared = Number(req.headers['content-length'] ?? Number.NaN);
    if (declared > maxBody) return this.#tooLarge(req, res);
    // A full queue refuses before the body is read and decoded: overload costs little.
    if (!this.#queue.hasRoomFor(1)) return this.#busy(req, res, 'records');

    // Bytes are reserved before they are read, so bodies being received count against
    // queue_bytes too: a declared length at once, a chunked body piece by piece.
    let reserved = 0;
    const release = () => {
      this.#queue.releaseBytes(reserved);
      reserved = 0;
    };
    if (declared > 0) {
      if (!this.#queue.reserveBytes(declared)) return this.#busy(req, res, 'bytes');
      reserved = declared;
    }
    let received = 0;
    const read = await readBody(req, maxBody, (n) => {
      received += n;
      const more = received - reserved;
      if (more <= 0) return true;
      if (!this.#queue.reserveBytes(more)) return false;
      reserved += more;
      return true;
    });
    if (read.status !== 'ok') {
      release();
      if (read.status === 'aborted') {
        this.#log.debug('http_server client went away before its body ended', { path: pathname });
        return;
      }
      return read.status === 'too-large' ? this.#tooLarge(req, res) : this.#busy(req, res, 'bytes');
    }
    const { body } = read;
    if (reserved > body.length) {
      this.#queue.releaseBytes(reserved - body.length);
      reserved = body.length;
    }
    const format =
      config.format === 'auto' ? formatOfContentType(req.headers['content-type']) : config.format;
    let decoded: DecodedBody;
    try {
      decoded = decodeBody(body, format, this.#settings.limits);
    } catch (err) {
      release();
      return sendJson(res, 400, { error: err instanceof Error ? err.message : String(err) });
    }
    const count = decoded.records.length + decoded.failures.length;
    if (count > config.queue_records) {
      release();
      return sendJson(res, 413, {
        error: `the request holds ${count} records, more than queue_records (${config.queue_records}); split it`,
      });
    }
    if (this.#queue.closed) {
      release();
      return sendJson(res, 503, { error: 'the pipeline is shutting down' }, { 'retry-after': '1' });
    }
    if (!this.#queue.hasRoomFor(count)) {
      release();
      return this.#busy(req, res, 'records');
    }
    reserved = 0;
    try {
      await this.#queue.accept({ body, format, decoded, count });
    } catch (err) {
      if (!(err instanceof IngestRefusal)) throw err;
      const headers: { [k: string]: string } = err.status === 503 ? { 'retry-after': '1' } : {};
      return sendJson(res, err.status, { error: err.message }, headers);
    }
    sendJson(res, 202, { accepted: decoded.records.length, failed: decoded.failures.length });
  }

  /** 200 with the status; the queue's figures only to a request bearing the token. */
  #health(req: IncomingMessage, res: ServerResponse): void {
    const status = this.#queue.closed ? 'stopping' : 'ok';
    const body =
      this.#token !== undefined && this.#authorized(req) ? { status, ...this.#queue.stats() } : { status };
    sendJson(res, this.#queue.closed ? 503 : 200, body);
  }

  #authorized(req: IncomingMessage): boolean {
    if (this.#token === undefined) return true;
    const given = bearer.exec(req.headers.authorization ?? '')?.[1] ?? '';
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
    // An unread body is not parsed: the connection closes, except after a 429 for a body declared
    // within max_body, which is read and dropped so the client keeps its connection for the retry.
    if (!req.complete) {
      const bounded = Number(req.headers['content-length']) <= this.#settings.maxBody;
      if (status !== 429 || !bounded) headers.connection = 'close';
      req.resume();
    }
    if (status === 503 || status === 429) headers['retry-after'] = '1';
    sendJson(res, status, { error }, headers);
  }

  #tooLarge(req: IncomingMessage, res: ServerResponse) {
    this.#refuse(req, res, 413, `body larger than max_body (${this.#settings.config.max_body})`);
  }

  #busy(req: IncomingMessage, res: ServerResponse, full: 'records' | 'bytes') {
    const { config } = this.#settings;
    const bound =
      full === 'records' ? `${config.queue_records} records` : `queue_bytes ${config.queue_bytes}`;
    this.#refuse(req, res, 429, `queue full (${bound}); retry later`);
  }

  /**
   * Stops listening, lets the requests being handled finish their answers (for at most
   * `CLOSE_GRACE_MS`), then closes every connection.
   */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    if (this.#active > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, CLOSE_GRACE_MS);
        this.#idle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.#server.closeAllConnections();
    await closed;
  }
}
