/**
 * A view's changes as Server-Sent Events: `id:` is the change's offset, so a client that
 * reconnects with `Last-Event-ID` continues after the last change it saw, without a gap.
 *
 * A client whose position has left the view's ring (it fell behind, or resumes from before the
 * checkpoint a restarted pipeline restored the ring from) gets `event: reset` with `id:` the
 * view's offset and the whole view as data (`resetJson`), then the changes after it: never a
 * silent gap. A view of more than `maxResetRows` rows ends the stream with `VIEW_CHANGES_GONE`
 * instead (read the view by pages, then resume from its offset + 1).
 *
 * `SUBSCRIBER_TOO_SLOW` ends the stream when more than `maxLagBytes` of changes wait in its
 * connection's buffer (a reset's own bytes are not counted until they have drained) — it is
 * disconnected rather than buffered without bound, and may reconnect with `Last-Event-ID`.
 */

import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { changeJson, resetJson, type ViewTable } from './view-table.ts';

export interface ChangeStreamOptions {
  /** The first offset to send. */
  from: number;
  /** Headers already set on the reply (CORS). */
  headers: OutgoingHttpHeaders;
  maxLagBytes: number;
  /** The largest view sent whole as a `reset`. */
  maxResetRows: number;
  heartbeatMs: number;
  /** Called once when the stream ends, whoever ends it. */
  onClose: () => void;
}

/** Streams `table`'s changes from `options.from` on; returns a function that ends the stream. */
export function streamChanges(
  table: ViewTable,
  req: IncomingMessage,
  res: ServerResponse,
  options: ChangeStreamOptions,
): () => void {
  let next = options.from;
  let ended = false;
  /** Bytes of a reset not yet drained, which the lag check leaves out. */
  let allowance = 0;
  res.writeHead(200, {
    ...options.headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write(`retry: 1000\n: view ${table.name} at offset ${table.offset}\n\n`);

  const end = (error?: { code: string; message: string }) => {
    if (ended) return;
    ended = true;
    unsubscribe();
    clearInterval(heartbeat);
    options.onClose();
    if (error) res.write(`event: error\ndata: ${JSON.stringify(error)}\n\n`);
    res.end();
    // A client that does not read would hold the socket forever: give it time to take the reason.
    setTimeout(() => res.destroy(), 5_000).unref();
  };

  const pump = () => {
    if (ended) return;
    const changes = table.changesFrom(next);
    if (changes === undefined) {
      if (table.size > options.maxResetRows) {
        end({
          code: 'VIEW_CHANGES_GONE',
          message: `changes from offset ${next} are no longer kept (the oldest kept is ${table.oldestKept}) and the view has more than ${options.maxResetRows} rows to send instead; read the view again (GET /api/views/${table.name}) and subscribe from its offset + 1`,
        });
        return;
      }
      next = table.offset + 1;
      res.write(`id: ${table.offset}\nevent: reset\ndata: ${resetJson(table)}\n\n`);
      allowance = res.writableLength;
      if (allowance > 0) res.once('drain', () => (allowance = 0));
      return;
    }
    if (changes.length === 0) return;
    let text = '';
    for (const c of changes) text += `id: ${c.offset}\nevent: change\ndata: ${changeJson(c)}\n\n`;
    next = changes[changes.length - 1].offset + 1;
    res.write(text);
    if (res.writableLength > options.maxLagBytes + allowance) {
      end({
        code: 'SUBSCRIBER_TOO_SLOW',
        message: `more than ${options.maxLagBytes} bytes of changes waited for this client; reconnect with Last-Event-ID ${next - 1} to resume`,
      });
    }
  };

  const unsubscribe = table.subscribe(pump);
  const heartbeat = setInterval(() => {
    if (!ended) res.write(': ping\n\n');
  }, options.heartbeatMs);
  heartbeat.unref();
  req.on('close', () => {
    if (!ended) {
      ended = true;
      unsubscribe();
      clearInterval(heartbeat);
      options.onClose();
    }
  });
  pump();
  return () => end();
}
