/**
 * A real `node:http` API for the `http_poll` tests, on a loopback port chosen by the system: each
 * request is kept, and answered by the test's handler; and opening and reading the source as the
 * tests do.
 */

import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import type { DecodeFailure, SourceReader } from '../connector.ts';
import type { Row } from '../record.ts';
import { configOf, keptLogger } from '../testing/conformance-support.ts';
import { ManualClock } from '../time.ts';
import { type HttpPollConfig, httpPollConfig } from './http-poll-config.ts';
import { httpPollSource } from './http-poll-source.ts';

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

const apis: TestApi[] = [];

/** Closes every API `api()` started (in `afterEach`). */
export async function closeApis(): Promise<void> {
  for (const api of apis.splice(0)) await api.close();
}

/** Starts an API that `closeApis()` closes. */
export async function api(handle: (req: ApiRequest) => ApiReply | Promise<ApiReply>): Promise<TestApi> {
  const a = await startApi(handle);
  apis.push(a);
  return a;
}

/** Opens the source with `options`, a manual clock (polls happen when the test moves it) and a kept log. */
export async function open(
  options: { [k: string]: unknown },
  restored?: unknown,
  clock = new ManualClock(Date.UTC(2026, 11, 7)),
) {
  const config = configOf<HttpPollConfig>(httpPollConfig, options);
  const log = keptLogger();
  const [reader] = await httpPollSource.create(config).open({
    id: 'in',
    restored: restored === undefined ? {} : { poll: restored },
    clock,
    baseDir: tmpdir(),
    signal: new AbortController().signal,
    log,
  });
  return { reader: reader as SourceReader, clock, log };
}

/** A signal that never aborts, for reads. */
export const signal = new AbortController().signal;

/** Reads until a read returns an empty batch (the poll is over and the next is not due). */
export async function readPoll(
  reader: SourceReader,
  max = 64,
): Promise<{ records: Row[]; failures: DecodeFailure[] }> {
  const records: Row[] = [];
  const failures: DecodeFailure[] = [];
  for (;;) {
    const batch = await reader.read(max, signal);
    assert.ok(batch !== null, 'the source never ends');
    if (batch.records.length === 0 && (batch.failures?.length ?? 0) === 0) return { records, failures };
    records.push(...batch.records);
    failures.push(...(batch.failures ?? []));
  }
}

/** Records `{ id }` from `from` to `to` - 1. */
export const rows = (from: number, to: number): Row[] =>
  Array.from({ length: to - from }, (_, i) => ({ id: from + i }));
export const ids = (records: Row[]) => records.map((r) => r.id);
export const range = (from: number, to: number) => rows(from, to).map((r) => r.id);
