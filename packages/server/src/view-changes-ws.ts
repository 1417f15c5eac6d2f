/**
 * A view's changes over WebSocket, `GET /api/views/:name/ws?from=<offset>`: one text message per
 * change, the same JSON object the Server-Sent Events carry (`{ offset, op, key, row? }`). A
 * client resumes without a gap by reconnecting with `from=<last offset seen + 1>`; without `from`
 * it starts after the current offset.
 *
 * A client whose position left the view's ring gets one message `{ op: "reset", offset, rows }`
 * (`resetJson`: the whole view at `offset`) and then the changes after it, as over SSE.
 *
 * Ends other than the client's, each a close frame whose reason is the code (and, before it, a
 * text message `{ "error": code, "message" }` saying what to do):
 * - 4410 `VIEW_CHANGES_GONE` — the changes asked for left the view's ring and the view has more
 *   than `maxResetRows` rows to send instead: read the view again.
 * - 1013 `SUBSCRIBER_TOO_SLOW` — more than `maxLagBytes` waited in the connection's buffer: it
 *   is closed rather than buffered without bound; reconnect with `from`.
 * - 1001 `SERVER_CLOSING` — the server is shutting down.
 * A ping every `heartbeatMs` keeps proxies from closing an idle connection.
 */

import type { WebSocket } from 'ws';
import { changeJson, resetJson, type ViewTable } from './view-table.ts';

export interface WsChangeOptions {
  from: number;
  maxLagBytes: number;
  /** The largest view sent whole as a `reset`. */
  maxResetRows: number;
  heartbeatMs: number;
  /** Called once when the connection ends, whoever ends it. */
  onClose: () => void;
}

/** Sends `table`'s changes from `options.from` on to `socket`; returns a function that ends it. */
export function streamChangesWs(table: ViewTable, socket: WebSocket, options: WsChangeOptions): () => void {
  let next = options.from;
  let ended = false;
  /** `bufferedAmount` right after a reset was sent: the lag check leaves it out. */
  let allowance = 0;

  const finish = () => {
    if (ended) return false;
    ended = true;
    unsubscribe();
    clearInterval(heartbeat);
    options.onClose();
    return true;
  };
  const end = (code: number, error: string, message: string) => {
    if (!finish()) return;
    socket.send(JSON.stringify({ error, message }));
    socket.close(code, error);
    // A client that does not read would hold the socket forever: give it time to take the reason.
    setTimeout(() => socket.terminate(), 5_000).unref();
  };

  const pump = () => {
    if (ended) return;
    const changes = table.changesFrom(next);
    if (changes === undefined) {
      if (table.size > options.maxResetRows) {
        end(
          4410,
          'VIEW_CHANGES_GONE',
          `changes from offset ${next} are no longer kept (the oldest kept is ${table.oldestKept}) and the view has more than ${options.maxResetRows} rows to send instead; read the view again (GET /api/views/${table.name}) and subscribe from its offset + 1`,
        );
        return;
      }
      next = table.offset + 1;
      socket.send(resetJson(table));
      allowance = socket.bufferedAmount;
      return;
    }
    if (allowance > 0 && socket.bufferedAmount < allowance) allowance = socket.bufferedAmount;
    for (const c of changes) {
      socket.send(changeJson(c));
      next = c.offset + 1;
      if (socket.bufferedAmount > options.maxLagBytes + allowance) {
        end(
          1013,
          'SUBSCRIBER_TOO_SLOW',
          `more than ${options.maxLagBytes} bytes of changes waited for this client; reconnect with from=${next} to resume`,
        );
        return;
      }
    }
  };

  const unsubscribe = table.subscribe(pump);
  const heartbeat = setInterval(() => {
    if (!ended) socket.ping();
  }, options.heartbeatMs);
  heartbeat.unref();
  socket.on('close', finish);
  socket.on('error', finish);
  pump();
  return () => end(1001, 'SERVER_CLOSING', 'the server is shutting down; reconnect with from to resume');
}
