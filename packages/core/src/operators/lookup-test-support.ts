/**
 * A customer API for the lookup tests: a real `node:http` server on loopback that answers
 * `GET /customers/<id>` as a lookup table's HTTP API would, and counts the requests per id.
 * Not part of the public surface.
 */

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the server does for an id: a row, a status, a delay, or never an answer. */
export type Behaviour =
  | { readonly row: { readonly [field: string]: unknown }; readonly delay?: number }
  | { readonly status: number; readonly body?: string }
  /** Fails with `status` (and a `Retry-After` of `retryAfter` seconds) for the first `times` requests, then answers `row`. */
  | {
      readonly status: number;
      readonly times: number;
      readonly row: { readonly [field: string]: unknown };
      readonly retryAfter?: number;
    }
  | { readonly hang: true };

export class CustomerApi {
  readonly #server: Server;
  readonly #behaviours = new Map<string, Behaviour>();
  /** Requests per id, in all. */
  readonly requests = new Map<string, number>();
  /** Called as each request arrives (before it is answered). */
  onRequest: ((id: string) => void) | undefined;
  /** Every request's headers, for checking that secrets are sent. */
  readonly headers: { [name: string]: string | string[] | undefined }[] = [];
  #port = 0;
  /** Delay before every answer, in ms. */
  delay = 0;

  constructor() {
    this.#server = createServer((req, res) => {
      const match = /^\/customers\/([^/?]+)/.exec(req.url ?? '');
      if (!match) {
        res.writeHead(400).end('no such route');
        return;
      }
      const id = decodeURIComponent(match[1]);
      const n = (this.requests.get(id) ?? 0) + 1;
      this.requests.set(id, n);
      this.headers.push(req.headers);
      this.onRequest?.(id);
      const b = this.#behaviours.get(id);
      const answer = () => {
        if (b === undefined) res.writeHead(404).end('no such customer');
        else if ('hang' in b) return;
        else if ('times' in b && n <= b.times)
          res
            .writeHead(b.status, b.retryAfter === undefined ? {} : { 'retry-after': String(b.retryAfter) })
            .end('try later');
        else if ('row' in b) {
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(b.row));
        } else res.writeHead(b.status).end(b.body ?? '');
      };
      const delay = this.delay + (b !== undefined && 'delay' in b ? (b.delay ?? 0) : 0);
      if (delay > 0) setTimeout(answer, delay);
      else answer();
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.#port = (this.#server.address() as AddressInfo).port;
    return this;
  }

  /** The URL template of the table: `http://127.0.0.1:<port>/customers/{key}`. */
  get url(): string {
    return `http://127.0.0.1:${this.#port}/customers/{key}`;
  }

  set(id: string, behaviour: Behaviour): this {
    this.#behaviours.set(id, behaviour);
    return this;
  }

  /** Requests in all. */
  get total(): number {
    let n = 0;
    for (const c of this.requests.values()) n += c;
    return n;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
