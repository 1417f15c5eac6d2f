/**
 * Helpers for the server's tests: a pipeline fed over a real `http_server` ingest endpoint, run
 * as a job with `serve` attached on a free loopback port, and a Server-Sent Events reader over
 * `fetch`.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtins, Job, type JobResult, type Logger, parsePipelineYaml, Registry } from '@sluice/core';
import { server as serverPlugin } from './index.ts';
import { type ServeOptions, type SluiceServer, serve } from './serve.ts';

/** A served job and the ways into it. */
export interface Served {
  job: Job;
  server: SluiceServer;
  /** The ingest endpoint of the pipeline's `http_server` source named `in`, when it has one. */
  ingest: string | undefined;
  /** `job.run()`, started. */
  running: Promise<JobResult>;
  dir: string;
  /** Stops the job, closes the server, removes the folder. */
  stop(): Promise<JobResult>;
}

/**
 * Runs the pipeline `yaml` (its `{{dir}}` replaced by a fresh temporary folder, for checkpoints)
 * with a server over it. `dir` reuses a folder (a restart); `log` also gets the job's log lines.
 */
export async function startServed(
  yaml: string,
  options: ServeOptions = {},
  more: { dir?: string; keepDir?: boolean; log?: Logger } = {},
): Promise<Served> {
  const dir = more.dir ?? (await mkdtemp(join(tmpdir(), 'sluice-server-')));
  const registry = new Registry([builtins, serverPlugin]);
  const plan = parsePipelineYaml(
    yaml.replaceAll('{{dir}}', JSON.stringify(dir)),
    join(dir, 'pipeline.yaml'),
    {
      registry,
    },
  );
  let ingest: string | undefined;
  const log: Logger = {
    debug: (message, fields) => more.log?.debug(message, fields),
    info(message, fields) {
      if (message === 'http_server listening') ingest = String(fields?.url);
      more.log?.info(message, fields);
    },
    warn: (message, fields) => more.log?.warn(message, fields),
    error: (message, fields) => more.log?.error(message, fields),
  };
  const job = await Job.create(plan, { registry, log });
  const server = await serve(job, options);
  const running = job.run();
  running.catch(() => {});
  let stopped: Promise<JobResult> | undefined;
  return {
    job,
    server,
    ingest,
    running,
    dir,
    stop() {
      stopped ??= (async () => {
        job.stop();
        try {
          return await running;
        } finally {
          await server.close();
          if (!more.keepDir) await rm(dir, { recursive: true, force: true });
        }
      })();
      return stopped;
    },
  };
}

/** POSTs records to an ingest endpoint as NDJSON; throws unless accepted. */
export async function post(url: string, records: readonly unknown[]): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: records.map((r) => JSON.stringify(r)).join('\n'),
  });
  if (res.status >= 300) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
  await res.arrayBuffer();
}

/** Polls `check` every 20 ms until it returns a value other than undefined (at most `ms`). */
export async function waitFor<T>(
  check: () => Promise<T | undefined> | T | undefined,
  ms = 10_000,
): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** One Server-Sent Event. */
export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

/**
 * Reads a Server-Sent Events response as the EventSource algorithm does: lines up to a blank
 * line make an event; `id:`, `event:` and `data:` fields; comments (`:`) skipped.
 */
export class SseReader {
  readonly response: Response;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #buffer = '';
  readonly #events: SseEvent[] = [];
  #done = false;

  constructor(response: Response) {
    if (!response.body) throw new Error('no body');
    this.response = response;
    this.#reader = response.body.getReader();
  }

  /** Opens `url` as an event stream. */
  static async open(url: string, headers: { [k: string]: string } = {}): Promise<SseReader> {
    const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers } });
    return new SseReader(res);
  }

  /** The next event, or undefined at the end of the stream. */
  async next(): Promise<SseEvent | undefined> {
    while (this.#events.length === 0) {
      if (this.#done) return undefined;
      const { value, done } = await this.#reader.read();
      if (done) {
        this.#done = true;
        this.#parse(true);
      } else {
        this.#buffer += this.#decoder.decode(value, { stream: true });
        this.#parse(false);
      }
    }
    return this.#events.shift();
  }

  /** The next `n` events (fewer if the stream ends). */
  async take(n: number): Promise<SseEvent[]> {
    const out: SseEvent[] = [];
    while (out.length < n) {
      const e = await this.next();
      if (!e) break;
      out.push(e);
    }
    return out;
  }

  #parse(final: boolean): void {
    for (;;) {
      const at = this.#buffer.indexOf('\n\n');
      if (at < 0) break;
      const block = this.#buffer.slice(0, at);
      this.#buffer = this.#buffer.slice(at + 2);
      let id: string | undefined;
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line === '' || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') id = value;
        else if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length > 0)
        this.#events.push({ ...(id !== undefined ? { id } : {}), event, data: data.join('\n') });
    }
    if (final) this.#buffer = '';
  }

  /** Stops reading and closes the connection. */
  async close(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}
