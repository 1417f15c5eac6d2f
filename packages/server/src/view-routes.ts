/**
 * The routes of a job's views: listing, point lookups, scans, and the change feeds over
 * Server-Sent Events and WebSocket (see README.md).
 */

import type { OutgoingHttpHeaders } from 'node:http';
import { compilePredicate, type Job, type Row, SluiceError } from '@sluice/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { denied, type ServerTokens } from './auth.ts';
import { badRequest, JSON_LIMIT_MAX, parseLimit } from './replies.ts';
import { streamChanges } from './view-changes.ts';
import { streamChangesWs } from './view-changes-ws.ts';
import { rowJson } from './view-table.ts';
import { viewTable } from './views.ts';

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
export const WS_ROUTE = '/api/views/:name/ws';

/** What the view routes need from `serve`. */
export interface ViewRouteContext {
  readonly job: Job;
  readonly tokens: ServerTokens;
  readonly viewNames: readonly string[];
  /** The open change streams, ended when the server closes. */
  readonly streams: Set<{ end: () => void }>;
  readonly maxLagBytes: number;
  readonly maxResetRows: number;
  readonly heartbeatMs: number;
}

/** Adds the view routes to `app`. */
export function viewRoutes(app: FastifyInstance, ctx: ViewRouteContext): void {
  const { job, tokens, viewNames, streams } = ctx;
  const pipeline = job.plan.name;
  const read = { config: { group: 'read' as const } };
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
        maxLagBytes: ctx.maxLagBytes,
        maxResetRows: ctx.maxResetRows,
        heartbeatMs: ctx.heartbeatMs,
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
        maxLagBytes: ctx.maxLagBytes,
        maxResetRows: ctx.maxResetRows,
        heartbeatMs: ctx.heartbeatMs,
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
