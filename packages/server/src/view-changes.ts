/**
 * A view's changes as Server-Sent Events: `id:` is the change's offset, so a client that
 * reconnects with `Last-Event-ID` continues after the last change it saw, without a gap.
 *
 * Two ends other than the client's: `VIEW_CHANGES_GONE` when the changes it asks for have left
 * the view's ring (it must read the view again and resume from the offset it reports), and
 * `SUBSCRIBER_TOO_SLOW` when more than `maxLagBytes` wait in its connection's buffer — it is
 * disconnected rather than buffered without bound, and may reconnect with `Last-Event-ID`.
 */

import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { changeJson, type ViewTable } from './view-table.ts';

export interface ChangeStreamOptions {
  /** The first offset to send. */
  from: number;
  /** Headers already set on the reply (CORS). */
  headers: OutgoingHttpHeaders;
  maxLagBytes: number;
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
      end({
        code: 'VIEW_CHANGES_GONE',
        message: `changes from offset ${next} are no longer kept (the oldest kept is ${table.oldestKept}); read the view again (GET /api/views/${table.name}) and subscribe from its offset + 1`,
      });
      return;
    }
    if (changes.length === 0) return;
    let text = '';
    for (const c of changes) text += `id: ${c.offset}\nevent: change\ndata: ${changeJson(c)}\n\n`;
    next = changes[changes.length - 1].offset + 1;
    res.write(text);
    if (res.writableLength > options.maxLagBytes) {
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
