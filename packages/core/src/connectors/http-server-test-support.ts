/**
 * Helpers for the `http_server` tests: a reader opened on a free port with a temporary
 * write-ahead log folder, captured logs, requests, and raw connections.
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { Value } from 'typebox/value';
import type { Logger, SourceContext } from '../connector.ts';
import { systemClock } from '../time.ts';
import { type HttpServerConfig, HttpServerReader, httpServerSource } from './http-server-source.ts';

const opened: HttpServerReader[] = [];
const dirs: string[] = [];
after(async () => {
  await Promise.all(opened.map((reader) => reader.close()));
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A signal that never aborts. */
export const never = new AbortController().signal;

/** A fresh temporary folder, removed after the tests of the file. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-http-'));
  dirs.push(dir);
  return dir;
}

/** Log lines as [level, message, fields]. */
export type LogLines = [string, string, unknown][];

/** What `start` opened. */
export interface Started {
  reader: HttpServerReader;
  logs: LogLines;
  /** The folder of the write-ahead log (`ack: wal`). */
  walDir: string;
}

/**
 * Opens an `http_server` source on a free port (options over the defaults) and returns its
 * reader. With `ack: wal` the log goes to `walDir` (a fresh folder unless given).
 */
export async function start(
  options: Partial<HttpServerConfig> = {},
  more: Partial<Pick<SourceContext, 'restored' | 'requestCheckpoint' | 'keepCheckpoints'>> & {
    walDir?: string;
  } = {},
): Promise<Started> {
  const walDir = more.walDir ?? join(await tempDir(), 'wal');
  const config = Value.Default(httpServerSource.config, { port: 0, wal_dir: walDir, ...options });
  assert.ok(Value.Check(httpServerSource.config, config));
  const logs: LogLines = [];
  const log: Logger = {
    debug: (message, fields) => logs.push(['debug', message, fields]),
    info: (message, fields) => logs.push(['info', message, fields]),
    warn: (message, fields) => logs.push(['warn', message, fields]),
    error: (message, fields) => logs.push(['error', message, fields]),
  };
  const ctx: SourceContext = {
    id: 'ingest',
    restored: more.restored ?? {},
    clock: systemClock,
    baseDir: '.',
    signal: never,
    log,
    ...(more.requestCheckpoint ? { requestCheckpoint: more.requestCheckpoint } : {}),
    ...(more.keepCheckpoints ? { keepCheckpoints: more.keepCheckpoints } : {}),
  };
  const [reader] = await httpServerSource.create(config as HttpServerConfig).open(ctx);
  assert.ok(reader instanceof HttpServerReader);
  opened.push(reader);
  return { reader, logs, walDir };
}

/** POSTs `body` (JSON by default). */
export function post(url: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
}

/** Opens a raw TCP connection to the server. */
export function socketTo(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves with everything the server sent once it closed the connection (bounded by `limitMs`). */
export function closedBy(socket: Socket, limitMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open for ${limitMs} ms`));
    }, limitMs);
    socket.setEncoding('utf8').on('data', (d: string) => {
      got += d;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    socket.on('error', () => {});
  });
}
