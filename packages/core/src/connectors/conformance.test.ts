/**
 * The conformance suites (`testing/sink-conformance.ts`, `testing/source-conformance.ts`) run by
 * the built-in connectors: `file` (sink and source, on a temporary folder), `stdout` and `stdin`
 * (on in-process streams), `http` (against a node:http server on loopback) and the testing
 * `memory` sink and source.
 */

import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after } from 'node:test';
import type { Row } from '../record.ts';
import { INSERT, type RowKind } from '../record.ts';
import {
  foldChangelogRows,
  foldChanges,
  memoryChannel,
  memorySink,
  memorySinkStore,
  memorySource,
  sinkConformance,
  sourceConformance,
} from '../testing/index.ts';
import { fileSink } from './file-sink.ts';
import { fileSource } from './file-source.ts';
import { httpSink } from './http-sink.ts';
import { StreamSink, stdoutSink } from './stdio-sink.ts';
import { StreamSource, stdinSource } from './stdio-source.ts';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-conformance-'));
  dirs.push(dir);
  return dir;
}
let names = 0;
const unique = (label: string) => `${label}-${process.pid}-${names++}`;

/** JSON lines as records (blank lines skipped). */
const parseLines = (text: string): Row[] =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Row);

/** The changelog options of the line-based sinks, and how to fold what they wrote. */
const upsert = { changelog: 'upsert', key: ['id'] };
const fold = (changelog: boolean, rows: Row[]) =>
  changelog ? foldChangelogRows(rows, 'upsert', 'id') : rows;

/** A record JSON cannot write: the line-based sinks refuse it. */
const unwritable = { record: { id: 1000, big: 10n }, reason: /BigInt/ };

sinkConformance({
  spec: fileSink,
  baseDir: tmpdir(),
  changelog: true,
  // Without `roll` the one file is published when the sink closes.
  publishesAtCheckpoint: false,
  refused: unwritable,
  plugin: '@sluice/core',
  async target({ changelog }) {
    const dir = await tempDir();
    return {
      options: { path: join(dir, 'out.jsonl'), format: 'json', ...(changelog ? upsert : {}) },
      async read() {
        // Published parts only: in-progress parts are hidden (`.<name>.inprogress`).
        const files = (await readdir(dir)).filter((f) => !f.startsWith('.')).sort();
        const rows: Row[] = [];
        for (const f of files) rows.push(...parseLines(await readFile(join(dir, f), 'utf8')));
        return fold(changelog, rows);
      },
    };
  },
});

/** What the `stdout` sink of a target wrote: one stream shared by every sink of the target. */
const outputs = new Map<object, { stream: PassThrough; text: string }>();
sinkConformance({
  spec: stdoutSink,
  baseDir: tmpdir(),
  changelog: true,
  refused: unwritable,
  async target({ changelog }) {
    const options = { format: 'json', ...(changelog ? upsert : {}) };
    const output = { stream: new PassThrough(), text: '' };
    output.stream.on('data', (c: Buffer) => {
      output.text += c.toString();
    });
    outputs.set(options, output);
    return { options, read: async () => fold(changelog, parseLines(output.text)) };
  },
  create: (config, target) =>
    new StreamSink(config, outputs.get(target.options)?.stream ?? new PassThrough()),
});

/**
 * A collector on loopback: accepts JSON arrays of records, refusing (422, with the reason) a
 * request holding a record with `refuse: true`.
 */
async function collector(): Promise<{ server: Server; url: string; received: Row[] }> {
  const received: Row[] = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    const rows = JSON.parse(body) as Row[];
    if (rows.some((r) => r.refuse === true)) {
      res.writeHead(422, { 'content-type': 'text/plain' }).end('record refused: it asks to be refused');
      return;
    }
    received.push(...rows);
    res.writeHead(204).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/ingest`, received };
}

sinkConformance({
  spec: httpSink,
  baseDir: tmpdir(),
  changelog: true,
  refused: { record: { id: 1000, refuse: true }, reason: /422.*record refused/ },
  async target({ changelog }) {
    const { server, url, received } = await collector();
    return {
      options: { url, batch_size: 16, ...(changelog ? upsert : {}) },
      read: async () => fold(changelog, received),
      dispose: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  },
  async secret() {
    // Nothing listens on the port of a closed server: every request fails.
    const { server, url } = await collector();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const secret = `tok-${process.pid}-do-not-leak`;
    return {
      secret,
      options: {
        url,
        headers: { authorization: `Bearer ${secret}` },
        retry: { max_attempts: 2, initial_backoff: '1ms' },
      },
    };
  },
});

sinkConformance({
  spec: memorySink,
  baseDir: tmpdir(),
  changelog: true,
  async target({ changelog }) {
    const store = unique('conformance-memory');
    const s = memorySinkStore(store);
    return {
      options: { store, changelog },
      async read() {
        if (!changelog) return s.records;
        return foldChanges(
          s.written.map((w) => w.record),
          s.written.map((w): RowKind => w.kind ?? INSERT),
          'id',
        );
      },
    };
  },
});

sourceConformance({
  spec: fileSource,
  baseDir: tmpdir(),
  async input() {
    const path = join(await tempDir(), 'in.jsonl');
    await writeFile(path, '');
    return {
      options: { path, format: 'json', mode: 'once' },
      write: (records) => appendFile(path, records.map((r) => `${JSON.stringify(r)}\n`).join('')),
      writeMalformed: (count) => appendFile(path, 'not json\n'.repeat(count)),
    };
  },
});

/**
 * The text written to a `stdin` input: each source created reads it from the start, as a new
 * process given the same standard input would, and what is written later.
 */
class StdinInput {
  text = '';
  ended = false;
  readonly live: PassThrough[] = [];
  stream(): PassThrough {
    const s = new PassThrough();
    s.write(this.text);
    if (this.ended) s.end();
    else this.live.push(s);
    return s;
  }
  write(text: string): void {
    this.text += text;
    for (const s of this.live) s.write(text);
  }
  end(): void {
    this.ended = true;
    for (const s of this.live.splice(0)) s.end();
  }
}
const stdinInputs = new Map<object, StdinInput>();
sourceConformance({
  spec: stdinSource,
  baseDir: tmpdir(),
  noResume: 'stdin cannot resume: what a process read from it before a restart is gone (at-most-once)',
  async input() {
    const input = new StdinInput();
    const options = { format: 'json' };
    stdinInputs.set(options, input);
    return {
      options,
      write: async (records) => input.write(records.map((r) => `${JSON.stringify(r)}\n`).join('')),
      writeMalformed: async (count) => input.write('{"broken"\n'.repeat(count)),
      end: async () => input.end(),
    };
  },
  create: (config, input) =>
    new StreamSource(config, (stdinInputs.get(input.options) ?? new StdinInput()).stream()),
});

sourceConformance({
  spec: memorySource,
  baseDir: tmpdir(),
  async input() {
    const name = unique('conformance-channel');
    const channel = memoryChannel(name, ['p0', 'p1']);
    return {
      options: { channel: name },
      async write(records) {
        for (const r of records) channel.push(Number(r.id) % 2 === 0 ? 'p0' : 'p1', r);
      },
    };
  },
});
