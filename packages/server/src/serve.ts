/**
 * `serve(job, options)`: an HTTP server attached to a running job — the operations API, the
 * Prometheus endpoint and the job's views (see README.md for the routes).
 */

import type { OutgoingHttpHeaders, RequestListener, Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import websocket from '@fastify/websocket';
import { compilePredicate, type Job, type Row, SluiceError } from '@sluice/core';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { denied, type RouteGroup, type ServerTokens } from './auth.ts';
import { dashboardRoutes } from './dashboard.ts';
import { jobRegistry } from './metrics.ts';
import { openApiDocument } from './openapi.ts';
import { checkpoints, deadLetters, jobInfo, RateSampler, stepGraph } from './operations.ts';
import { type RateLimit, RateLimiter } from './rate-limit.ts';
import { streamChanges } from './view-changes.ts';
import { streamChangesWs } from './view-changes-ws.ts';
import { rowJson } from './view-table.ts';
import { forgetViews, viewTable } from './views.ts';

/** How `serve` listens and what it allows. */
export interface ServeOptions {
  /** Interface to listen on. Default `127.0.0.1`: loopback only. */
  host?: string;
  /** Port; 0 (the default) picks a free one (see `SluiceServer.port`). */
  port?: number;
  /** Bearer tokens per route group (see `auth.ts`); default none: read routes open, admin routes off. */
  tokens?: ServerTokens;
  /** Largest request body accepted, in bytes (413 above). Default 64 KiB. */
  bodyLimit?: number;
  /** Origins allowed to call the API from a browser. Default none: no CORS headers at all. */
  corsOrigins?: readonly string[];
  /** A change subscriber further behind than this many bytes is disconnected. Default 1 MiB. */
  maxSubscriberLagBytes?: number;
  /** Milliseconds between the samples rates are computed from. Default 1000. */
  rateIntervalMs?: number;
  /** Milliseconds between keep-alive comments on change streams. Default 15000. */
  heartbeatMs?: number;
  /** Requests per client address (429 with `Retry-After` beyond it). Default: no limit. */
  rateLimit?: RateLimit;
  /** Serve HTTPS with this certificate and key (PEM). Default: plain HTTP (loopback). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Wall clock, for uptime and watermark lag. */
  now?: () => number;
}

/** A running server; `close()` it when the job ends. */
export interface SluiceServer {
  readonly host: string;
  readonly port: number;
  /** `http://host:port` (`https://` with `tls`) */
  readonly url: string;
  /** Ends change streams and stops listening; resolves when every connection is closed. */
  close(): Promise<void>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    group?: RouteGroup;
  }
}

const JSON_LIMIT_MAX = 1000;
/** Rows a filtered scan looks at per page, at most: a filter matching few rows costs a bounded amount. */
const MAX_EXAMINED = 10_000;

/** The query of a view scan (see README.md). */
type ScanQuery = {
  prefix?: string;
  start?: string;
  end?: string;
  after?: string;
  limit?: string;
  where?: string;
};
/** The WebSocket change feed (it checks its token itself: see the route). */
const WS_ROUTE = '/api/views/:name/ws';

/** Starts an HTTP server over `job` (created, running or ended); see `ServeOptions` for defaults. */
export async function serve(job: Job, options: ServeOptions = {}): Promise<SluiceServer> {
  const now = options.now ?? Date.now;
  const startedAt = now();
  const tokens = options.tokens ?? {};
  const cors = new Set(options.corsOrigins ?? []);
  const rates = new RateSampler(job, now, options.rateIntervalMs ?? 1000);
  const metrics = jobRegistry(job, now);
  const pipeline = job.plan.name;
  const viewNames = job.plan.sinks
    .filter((s) => s.type === 'view')
    .map((s) => (s.config as { name?: string }).name ?? s.id);
  const streams = new Set<{ end: () => void }>();

  const limiter = options.rateLimit && new RateLimiter(options.rateLimit);
  const tls = options.tls;
  const app = Fastify({
    ...(tls
      ? { serverFactory: (handler: RequestListener) => createHttpsServer(tls, handler) as unknown as Server }
      : {}),
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    logger: false,
    forceCloseConnections: true,
    // Keys in lookup paths may be long (several key fields as a JSON array).
    routerOptions: { maxParamLength: 4096 },
  });

  // Clients send nothing but control frames: a small message limit.
  await app.register(websocket, { options: { maxPayload: 4096 } });

  app.addHook('onRequest', async (req, reply) => {
    if (limiter) {
      const wait = limiter.take(req.ip, Date.now());
      if (wait > 0)
        return reply
          .code(429)
          .header('retry-after', String(wait))
          .send({ error: 'RATE_LIMITED', message: `too many requests from ${req.ip}; retry in ${wait} s` });
    }
    const origin = req.headers.origin;
    if (origin !== undefined && (cors.has(origin) || cors.has('*'))) {
      reply.header('access-control-allow-origin', cors.has('*') ? '*' : origin);
      reply.header('vary', 'Origin');
      reply.header(
        'access-control-allow-headers',
        'authorization, content-type, last-event-id, if-none-match',
      );
      reply.header('access-control-allow-methods', 'GET, POST, OPTIONS');
      reply.header('access-control-expose-headers', 'etag');
      if (req.method === 'OPTIONS') return reply.code(204).send();
    }
    const group = req.routeOptions.config?.group;
    if (group === undefined || (req.ws && req.routeOptions.url === WS_ROUTE)) return;
    const no = denied(tokens, group, req.headers.authorization);
    if (no) {
      if (no.status === 401) reply.header('www-authenticate', 'Bearer');
      return reply
        .code(no.status)
        .send({ error: no.status === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN', message: no.message });
    }
  });

  const read = { config: { group: 'read' as const } };
  const admin = { config: { group: 'admin' as const } };

  const views = job.plan.sinks
    .filter((s) => s.type === 'view')
    .map((s) => {
      const name = (s.config as { name?: string }).name ?? s.id;
      return { name, input: s.input, key: viewTable(pipeline, name)?.keyFields };
    });
  app.get('/api/openapi.json', read, async () => openApiDocument(job, views, tokens.read !== undefined));
  app.get('/api/job', read, async () => jobInfo(job, startedAt, now()));
  app.get('/api/steps', read, async () => stepGraph(job, rates, now()));
  app.get('/api/checkpoints', read, async () => checkpoints(job));
  app.get(
    '/api/dead-letters',
    read,
    async (req: FastifyRequest<{ Querystring: { limit?: string } }>, reply) => {
      const limit = parseLimit(req.query.limit, 100);
      if (limit === undefined) return badRequest(reply, 'limit must be an integer from 1 to 1000');
      return deadLetters(job, limit);
    },
  );
  app.get('/metrics', read, async (_req, reply) => {
    metrics.observeCheckpoints();
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
  app.post('/api/job/stop', admin, async (_req, reply) => {
    job.stop();
    return reply.code(202).send({ status: job.status });
  });
  app.post('/api/dead-letters/replay', admin, async (req: FastifyRequest<{ Body: unknown }>, reply) => {
    const ids = replayIds(req.body);
    if (ids === undefined)
      return badRequest(
        reply,
        'the body must be { "ids": [<dead letter id>, ...] } with 1 to 1000 integer ids',
      );
    if (job.status !== 'running')
      return reply.code(409).send({ error: 'JOB_NOT_RUNNING', message: `the job is ${job.status}` });
    try {
      return job.replayDeadLetters(ids);
    } catch (err) {
      if (err instanceof SluiceError && err.code === 'JOB_NOT_RUNNING')
        return reply.header('retry-after', '1').code(409).send({ error: err.code, message: err.message });
      throw err;
    }
  });
  app.post('/api/checkpoints', admin, async (_req, reply) => {
    if (job.status !== 'running')
      return reply.code(409).send({ error: 'NOT_RUNNING', message: `the job is ${job.status}` });
    await job.checkpoint();
    return { checkpoint: job.checkpointHistory().at(-1) ?? null };
  });

  dashboardRoutes(app);

  type ViewParams = { Params: { name: string; key?: string } };
  const tableOf = (req: FastifyRequest<ViewParams>, reply: FastifyReply) => {
    const { name } = req.params;
    const table = viewNames.includes(name) ? viewTable(pipeline, name) : undefined;
    if (!table)
      reply.code(404).send({
        error: 'VIEW_NOT_FOUND',
        message: `no view '${name}' in pipeline '${pipeline}'; views: ${viewNames.join(', ') || 'none'}`,
      });
    return table;
  };

  app.get('/api/views', read, async () => ({
    views: viewNames.map((name) => {
      const t = viewTable(pipeline, name);
      return { name, key: t?.keyFields ?? null, rows: t?.size ?? 0, offset: t?.offset ?? 0 };
    }),
  }));
  app.get(
    '/api/views/:name',
    read,
    async (req: FastifyRequest<ViewParams & { Querystring: ScanQuery }>, reply) => {
      const table = tableOf(req, reply);
      if (!table) return reply;
      const { prefix, start, end, after, where } = req.query;
      const limit = parseLimit(req.query.limit, 100);
      if (limit === undefined)
        return badRequest(reply, `limit must be an integer from 1 to ${JSON_LIMIT_MAX}`);
      const match = where === undefined ? undefined : rowFilter(where);
      if (typeof match === 'string') return badRequest(reply, match);
      const etag = `W/"${table.offset}"`;
      if (notModified(req, etag)) return reply.code(304).header('etag', etag).send();
      let page: ReturnType<typeof table.scan>;
      try {
        page = table.scan({ prefix, start, end, after, limit, match, maxExamined: MAX_EXAMINED });
      } catch (err) {
        if (err instanceof SluiceError) return badRequest(reply, `where: ${err.message}`);
        throw err;
      }
      const next = page.next === undefined ? '' : `,"next":${JSON.stringify(page.next)}`;
      return reply
        .header('etag', etag)
        .type('application/json; charset=utf-8')
        .send(
          `{"view":${JSON.stringify(table.name)},"offset":${table.offset},"rows":[${page.rows.map(rowJson).join(',')}]${next}}`,
        );
    },
  );
  app.get(
    '/api/views/:name/changes',
    read,
    async (req: FastifyRequest<ViewParams & { Querystring: { from?: string } }>, reply) => {
      const table = tableOf(req, reply);
      if (!table) return reply;
      const lastId = req.headers['last-event-id'];
      const start =
        typeof lastId === 'string' && lastId !== ''
          ? parseOffset(lastId, 1)
          : req.query.from !== undefined
            ? parseOffset(req.query.from, 0)
            : table.offset + 1;
      if (start === undefined)
        return badRequest(reply, 'Last-Event-ID and from must be non-negative integer offsets');
      reply.hijack();
      // Registered first: the stream may end (and unregister) before streamChanges returns.
      const stream = { end: () => {} };
      streams.add(stream);
      stream.end = streamChanges(table, req.raw, reply.raw, {
        from: start,
        headers: reply.getHeaders() as OutgoingHttpHeaders,
        maxLagBytes: options.maxSubscriberLagBytes ?? 1024 ** 2,
        heartbeatMs: options.heartbeatMs ?? 15_000,
        onClose: () => streams.delete(stream),
      });
    },
  );
  // Checked after the upgrade, answered with a close frame: on Node 24 an HTTP answer to an
  // upgrade request (from a hook or a route) never reaches the client (@fastify/websocket 11).
  app.get(
    WS_ROUTE,
    { ...read, websocket: true },
    (socket, req: FastifyRequest<ViewParams & { Querystring: { from?: string } }>) => {
      const refuse = (code: number, error: string, message: string) => {
        socket.send(JSON.stringify({ error, message }));
        socket.close(code, error);
      };
      const no = denied(tokens, 'read', req.headers.authorization);
      if (no) return refuse(4000 + no.status, no.status === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN', no.message);
      const { name } = req.params;
      const table = viewNames.includes(name) ? viewTable(pipeline, name) : undefined;
      if (!table)
        return refuse(4404, 'VIEW_NOT_FOUND', `no view '${name}'; views: ${viewNames.join(', ') || 'none'}`);
      const from = req.query.from === undefined ? table.offset + 1 : parseOffset(req.query.from, 0);
      if (from === undefined)
        return refuse(4400, 'BAD_REQUEST', 'from must be a non-negative integer offset');
      const stream = { end: () => {} };
      streams.add(stream);
      stream.end = streamChangesWs(table, socket, {
        from,
        maxLagBytes: options.maxSubscriberLagBytes ?? 1024 ** 2,
        heartbeatMs: options.heartbeatMs ?? 15_000,
        onClose: () => streams.delete(stream),
      });
    },
  );
  app.get('/api/views/:name/:key', read, async (req: FastifyRequest<ViewParams>, reply) => {
    const table = tableOf(req, reply);
    if (!table) return reply;
    const row = table.get(req.params.key ?? '');
    if (!row)
      return reply
        .code(404)
        .send({ error: 'KEY_NOT_FOUND', message: `view '${table.name}' has no row '${req.params.key}'` });
    const etag = `"${row.offset}"`;
    if (notModified(req, etag)) return reply.code(304).header('etag', etag).send();
    return reply.header('etag', etag).type('application/json; charset=utf-8').send(rowJson(row));
  });

  try {
    await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
  } catch (err) {
    rates.stop();
    await app.close().catch(() => {});
    throw err;
  }
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('the server has no TCP address');
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    host: address.address,
    port: address.port,
    url: `${tls ? 'https' : 'http'}://${host}:${address.port}`,
    close() {
      closing ??= (async () => {
        rates.stop();
        for (const stream of [...streams]) stream.end();
        await app.close();
        forgetViews(pipeline, viewNames);
      })();
      return closing;
    },
  };
}

/**
 * A scan's `where`: a condition in the pipelines' expression language over a row's fields (a
 * missing field is NULL), compiled once per request; its compile error as text.
 */
function rowFilter(where: string): ((json: string) => boolean) | string {
  if (where.length > 4096) return 'where: the condition is longer than 4096 characters';
  let predicate: (row: Row) => boolean;
  try {
    predicate = compilePredicate(where, { missingAsNull: true, path: 'where' });
  } catch (err) {
    if (err instanceof SluiceError) return `where: ${err.message}`;
    throw err;
  }
  return (json) => {
    const row: unknown = JSON.parse(json);
    return typeof row === 'object' && row !== null && !Array.isArray(row) && predicate(row as Row);
  };
}

/** The ids of a replay request's body, or undefined when it is not `{ ids: [integers] }`. */
function replayIds(body: unknown): number[] | undefined {
  if (typeof body !== 'object' || body === null || !('ids' in body)) return undefined;
  const { ids } = body;
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > 1000) return undefined;
  return ids.every((id) => Number.isSafeInteger(id) && id > 0) ? (ids as number[]) : undefined;
}

function badRequest(reply: FastifyReply, message: string) {
  return reply.code(400).send({ error: 'BAD_REQUEST', message });
}

function parseLimit(text: string | undefined, fallback: number): number | undefined {
  if (text === undefined) return fallback;
  const n = Number(text);
  return Number.isInteger(n) && n >= 1 && n <= JSON_LIMIT_MAX ? n : undefined;
}

/** An offset from text; `plus` is added (a Last-Event-ID names the last change seen, not the next). */
function parseOffset(text: string, plus: number): number | undefined {
  if (!/^\d{1,15}$/.test(text)) return undefined;
  return Number(text) + plus;
}

/** Whether `If-None-Match` names `etag` (weakly compared, as RFC 9110 says for GET). */
function notModified(req: FastifyRequest, etag: string): boolean {
  const header = req.headers['if-none-match'];
  if (header === undefined) return false;
  const bare = etag.replace(/^W\//, '');
  return header === '*' || header.split(',').some((t) => t.trim().replace(/^W\//, '') === bare);
}
