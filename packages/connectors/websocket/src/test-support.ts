/**
 * A push API for the tests, on a real `ws` server over loopback: it keeps a log of messages,
 * each JSON record given a sequence number `seq` (a text that is not JSON keeps its place in the
 * sequence too); a client that sends `{"op":"subscribe"}` gets the whole log and then every new
 * message, one that sends `{"op":"resume","after":N}` the messages after sequence N.
 */

import type { AddressInfo } from 'node:net';
import type { Row } from '@sluice/core';
import { type WebSocket, WebSocketServer } from 'ws';

export const SUBSCRIBE = '{"op":"subscribe"}';
export const RESUME = '{"op":"resume","after":{{position}}}';

export class PushServer {
  readonly #log: string[] = [];
  readonly #live = new Set<{ socket: WebSocket; after: number }>();
  #server: WebSocketServer | undefined;
  #port = 0;
  /** Every message clients sent, in order. */
  readonly requests: string[] = [];
  /** Upgrade requests' headers, in order. */
  readonly headers: { [name: string]: string | string[] | undefined }[] = [];
  connections = 0;

  get url(): string {
    return `ws://127.0.0.1:${this.#port}/feed`;
  }

  /** Starts listening (again, on the same port after `stop`). */
  async start(): Promise<void> {
    const server = new WebSocketServer({ host: '127.0.0.1', port: this.#port });
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
    server.on('connection', (socket, request) => {
      this.connections++;
      this.headers.push(request.headers);
      socket.on('message', (data) => {
        const text = String(data);
        this.requests.push(text);
        let req: { op?: unknown; after?: unknown };
        try {
          req = JSON.parse(text) as typeof req;
        } catch {
          socket.close(1003, 'not JSON');
          return;
        }
        const after = req.op === 'resume' && typeof req.after === 'number' ? req.after : 0;
        const client = { socket, after };
        for (let seq = after + 1; seq <= this.#log.length; seq++) socket.send(this.#log[seq - 1] as string);
        client.after = this.#log.length;
        this.#live.add(client);
        socket.on('close', () => this.#live.delete(client));
      });
    });
  }

  /** Appends records (each with its `seq`) and pushes them to the clients subscribed. */
  write(records: readonly Row[]): void {
    for (const r of records) this.#append(JSON.stringify({ ...r, seq: this.#log.length + 1 }));
  }

  /** Appends texts as they are (malformed input). */
  writeRaw(texts: readonly string[]): void {
    for (const t of texts) this.#append(t);
  }

  #append(text: string): void {
    this.#log.push(text);
    for (const c of this.#live) {
      c.socket.send(text);
      c.after = this.#log.length;
    }
  }

  /** Drops every connection at once, as a network failure would (the server keeps listening). */
  dropConnections(): void {
    for (const c of this.#live) c.socket.terminate();
    for (const s of this.#server?.clients ?? []) s.terminate();
  }

  /** Stops listening and drops every connection. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    for (const s of server.clients) s.terminate();
    this.#live.clear();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
