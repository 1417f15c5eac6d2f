/**
 * A real `node:http` API for the `http_poll` tests, on a loopback port chosen by the system: each
 * request is kept, and answered by the test's handler.
 */

import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request the API received. */
export interface ApiRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** How the API answers: a body that is not a string is sent as JSON. */
export interface ApiReply {
  readonly status?: number;
  readonly headers?: { readonly [name: string]: string };
  readonly body?: unknown;
  /** Close the connection without an answer (a crashed server, a reset). */
  readonly drop?: boolean;
}

export interface TestApi {
  /** Base URL, `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly requests: ApiRequest[];
  close(): Promise<void>;
}

/** Starts an API answering every request with `handle`. */
export async function startApi(handle: (req: ApiRequest) => ApiReply | Promise<ApiReply>): Promise<TestApi> {
  const requests: ApiRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const request: ApiRequest = {
        method: req.method ?? 'GET',
        url: new URL(req.url ?? '/', 'http://127.0.0.1'),
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(request);
      try {
        const reply = await handle(request);
        if (reply.drop) {
          req.socket.destroy();
          return;
        }
        const body =
          reply.body === undefined
            ? ''
            : typeof reply.body === 'string'
              ? reply.body
              : JSON.stringify(reply.body);
        res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers });
        res.end(body);
      } catch (err) {
        res.writeHead(500);
        res.end(String(err));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A list the API serves in numbered pages (`page`, from 1; `per_page`, default 10), holding only
 * entries whose `seq` is greater than the `since` parameter: what `http_poll` with page pagination
 * and `incremental: { field: seq, param: since }` reads. Object entries are served with their
 * `seq`; others (malformed records) as they are.
 */
export class PagedList {
  readonly entries: { seq: number; value: unknown }[] = [];
  #seq = 0;

  add(values: readonly unknown[]): void {
    for (const value of values) this.entries.push({ seq: ++this.#seq, value });
  }

  reply(req: ApiRequest): ApiReply {
    const since = Number(req.url.searchParams.get('since') ?? 0);
    const page = Number(req.url.searchParams.get('page') ?? 1);
    const size = Number(req.url.searchParams.get('per_page') ?? 10);
    const kept = this.entries.filter((e) => e.seq > since);
    const body = kept
      .slice((page - 1) * size, page * size)
      .map((e) =>
        typeof e.value === 'object' && e.value !== null && !Array.isArray(e.value)
          ? { ...e.value, seq: e.seq }
          : e.value,
      );
    return { body };
  }
}
