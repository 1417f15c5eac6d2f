/**
 * The `websocket` source against a real `ws` server on loopback (`PushServer`): the subscribe
 * message on every connection, the upgrade headers, reconnects after dropped connections and a
 * server restart with the resume message carrying the last position (nothing lost, nothing
 * repeated), a restart from a checkpointed position, backpressure, and config checks.
 */

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
  type Row,
  SluiceError,
  type SourceReader,
  silentLogger,
  systemClock,
  validateConfig,
} from '@sluice/core';
import { websocketSource } from './source.ts';
import { type WebsocketSourceConfig, websocketSourceConfig } from './source-config.ts';
import type { WebsocketReader } from './source-reader.ts';
import { PushServer, RESUME, SUBSCRIBE } from './test-support.ts';

const servers: PushServer[] = [];
after(async () => {
  for (const s of servers) await s.stop();
});

async function server(): Promise<PushServer> {
  const s = new PushServer();
  servers.push(s);
  await s.start();
  return s;
}

function config(options: { [k: string]: unknown }): WebsocketSourceConfig {
  const checked = validateConfig<WebsocketSourceConfig>(websocketSourceConfig, options);
  if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
  return checked.value;
}

async function open(options: { [k: string]: unknown }, restored?: unknown): Promise<WebsocketReader> {
  const readers = await websocketSource.create(config(options)).open({
    id: 'in',
    restored: restored === undefined ? {} : { stream: restored },
    clock: systemClock,
    baseDir: process.cwd(),
    signal: new AbortController().signal,
    log: silentLogger,
  });
  return readers[0] as WebsocketReader;
}

/** Reads until `n` records came (or throws after 10 s). */
async function readN(reader: SourceReader, n: number, into: Row[] = []): Promise<Row[]> {
  const deadline = Date.now() + 10_000;
  const signal = new AbortController().signal;
  while (into.length < n) {
    assert.ok(Date.now() < deadline, `timed out with ${into.length} of ${n} records`);
    const batch = await reader.read(100, signal);
    for (const r of batch?.records ?? []) into.push(r);
  }
  return into;
}

const numbered = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => ({ id: from + i, name: `r${from + i}` }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const resuming = (s: PushServer) => ({
  url: s.url,
  headers: { authorization: 'Bearer t0ken' },
  subscribe_message: SUBSCRIBE,
  resume: 'message',
  resume_message: RESUME,
  position_field: 'seq',
  initial_backoff: '20ms',
  max_backoff: '100ms',
});

test('dropped connections and a server restart: reconnects, resumes after the last record, loses and repeats nothing', async () => {
  const s = await server();
  s.write(numbered(0, 20));
  const reader = await open(resuming(s));
  try {
    const got = await readN(reader, 20);
    assert.deepEqual(s.requests, [SUBSCRIBE], 'the first connection subscribes');
    assert.equal(s.headers[0]?.authorization, 'Bearer t0ken');

    s.dropConnections();
    s.write(numbered(20, 30)); // pushed while the source is disconnected
    await readN(reader, 30, got);
    assert.equal(s.requests.at(-1), '{"op":"resume","after":20}');

    await s.stop();
    await sleep(150); // a few reconnect attempts fail meanwhile
    s.write(numbered(30, 45));
    await s.start();
    await readN(reader, 45, got);
    assert.equal(s.requests.at(-1), '{"op":"resume","after":30}');
    await sleep(100);
    assert.deepEqual(
      got.map((r) => r.id),
      numbered(0, 45).map((r) => r.id),
      'every record once, in order',
    );
    assert.ok(reader.connections >= 3, `${reader.connections} connections`);
    assert.deepEqual(reader.position(), { position: 45 });
  } finally {
    await reader.close();
  }
});

test('a restart from a checkpointed position sends the resume message with it at once', async () => {
  const s = await server();
  s.write(numbered(0, 12));
  const reader = await open(resuming(s), { position: 7 });
  try {
    const got = await readN(reader, 5);
    assert.deepEqual(
      got.map((r) => r.id),
      [7, 8, 9, 10, 11],
    );
    assert.deepEqual(s.requests, ['{"op":"resume","after":7}']);
  } finally {
    await reader.close();
  }
});

test('without resume, every connection sends the subscribe message again', async () => {
  const s = await server();
  const reader = await open({ url: s.url, subscribe_message: SUBSCRIBE, initial_backoff: '20ms' });
  try {
    s.write(numbered(0, 3));
    await readN(reader, 3);
    s.dropConnections();
    const deadline = Date.now() + 10_000;
    while (s.requests.length < 2) {
      assert.ok(Date.now() < deadline, 'reconnects');
      await sleep(20);
    }
    assert.deepEqual(s.requests, [SUBSCRIBE, SUBSCRIBE]);
    assert.deepEqual(reader.position(), { position: null });
  } finally {
    await reader.close();
  }
});

test('backpressure: with max_buffered waiting, the source stops reading the socket until it is read', async () => {
  const s = await server();
  const total = 20_000;
  const reader = await open({ ...resuming(s), max_buffered: 50 });
  try {
    // Subscribed, then a burst far larger than the buffer and the socket's receive window.
    const deadline = Date.now() + 10_000;
    while (s.requests.length === 0) {
      assert.ok(Date.now() < deadline, 'subscribed');
      await sleep(10);
    }
    s.write(Array.from({ length: total }, (_, i) => ({ id: i, pad: 'x'.repeat(200) })));
    await sleep(500);
    assert.ok(reader.buffered >= 50, `${reader.buffered} buffered`);
    assert.ok(reader.buffered < total / 2, `${reader.buffered} of ${total} buffered: the socket was paused`);
    const got = await readN(reader, total);
    assert.deepEqual(
      got.map((r) => r.id),
      Array.from({ length: total }, (_, i) => i),
    );
  } finally {
    await reader.close();
  }
});

test('config: a URL that is not ws(s), and resume without its message or field, are refused', () => {
  const refused = (options: { [k: string]: unknown }, path: string) =>
    assert.throws(
      () => websocketSource.create(config(options)),
      (err: unknown) => err instanceof SluiceError && err.code === 'CONFIG_INVALID' && err.path === path,
    );
  refused({ url: 'http://127.0.0.1/feed' }, 'url');
  refused({ url: 'not a url' }, 'url');
  refused({ url: 'ws://127.0.0.1/feed', resume: 'message', position_field: 'seq' }, 'resume_message');
  refused({ url: 'ws://127.0.0.1/feed', resume: 'message', resume_message: RESUME }, 'position_field');
});
