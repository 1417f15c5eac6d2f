/**
 * @sluice/server: HTTP delivery for a running job — the operations API, Prometheus metrics, and
 * views (the latest row per key of a stream) with live changes over Server-Sent Events.
 *
 * ```ts
 * const registry = new Registry([builtins, server]);   // for `type: view` sinks
 * const job = await Job.create(plan, { registry });
 * const http = await serve(job, { port: 8080 });
 * try { await job.run(); } finally { await http.close(); }
 * ```
 *
 * The `sluice` CLI does this with `sluice run --serve [host:]port`.
 */

import { type Plugin, sinkOf } from '@sluice/core';
import { viewSink } from './view-sink.ts';

export { type RouteGroup, type ServerTokens, sameSecret } from './auth.ts';
export { type ServeOptions, type SluiceServer, serve } from './serve.ts';
export { type ViewSinkConfig, viewSink } from './view-sink.ts';
export type { ViewChange, ViewRow, ViewTable } from './view-table.ts';
export { viewTable } from './views.ts';

/** The server plugin: the `view` sink. */
export const server: Plugin = { name: 'server', components: [viewSink] };

/** TypeScript API helper: `.to('totals', view({ key: ['region'] }))`. */
export const view = sinkOf(viewSink);
