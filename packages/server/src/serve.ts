/**
 * `serve(job, options)`: an HTTP server attached to a running job — the operations API, the
 * Prometheus endpoint and the job's views (see README.md for the routes).
 */

import type { RequestListener, Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import websocket from '@fastify/websocket';
import { type Job, SluiceError } from '@sluice/core';
import Fastify, { type FastifyRequest } from 'fastify';
import { denied, type RouteGroup, type ServerTokens } from './auth.ts';
import { dashboardRoutes } from './dashboard.ts';
import { jobRegistry } from './metrics.ts';
import { openApiDocument } from './openapi.ts';
import { checkpoints, deadLetters, jobInfo, RateSampler, stepGraph } from './operations.ts';
import { type RateLimit, RateLimiter } from './rate-limit.ts';
import { badRequest, parseLimit } from './replies.ts';
import { viewRoutes, WS_ROUTE } from './view-routes.ts';
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
  /**
   * A change subscriber whose position left the view's change ring gets the whole view as a
   * `reset` when it has at most this many rows; above, the stream ends with VIEW_CHANGES_GONE.
   * Default 10,000.
   */
  maxResetRows?: number;
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
  app.get('/api/steps', read, async () => stepGraph(job, rates, now(), metrics.sinkTimings));
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

  viewRoutes(app, {
    job,
    tokens,
    viewNames,
    streams,
    maxLagBytes: options.maxSubscriberLagBytes ?? 1024 ** 2,
    maxResetRows: options.maxResetRows ?? 10_000,
    heartbeatMs: options.heartbeatMs ?? 15_000,
  });

  try {
    await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
  } catch (err) {
    rates.stop();
    metrics.close();
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
        metrics.close();
        for (const stream of [...streams]) stream.end();
        await app.close();
        forgetViews(pipeline, viewNames);
      })();
      return closing;
    },
  };
}

/** The ids of a replay request's body, or undefined when it is not `{ ids: [integers] }`. */
function replayIds(body: unknown): number[] | undefined {
  if (typeof body !== 'object' || body === null || !('ids' in body)) return undefined;
  const { ids } = body;
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > 1000) return undefined;
  return ids.every((id) => Number.isSafeInteger(id) && id > 0) ? (ids as number[]) : undefined;
}
