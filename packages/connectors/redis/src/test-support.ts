/**
 * Helpers for the `redis` package's tests against the machine's Redis: a reachability check that
 * skips (or, under CI, fails), unique key names, and a client to prepare and read keys. Not a
 * public API.
 */

import { fileURLToPath } from 'node:url';
import {
  type Logger,
  type Row,
  type RowKind,
  type SinkBatch,
  silentLogger,
  systemClock,
  validateConfig,
} from '@sluice/core';
import { serviceAvailable } from '@sluice/core/testing';
import { createClient } from 'redis';
import { RedisSink } from './sink.ts';
import type { RedisSinkConfig } from './sink-config.ts';
import { redisSink } from './sink-spec.ts';

export const REDIS_HOST = '127.0.0.1:6379';
export const REDIS_URL = `redis://${REDIS_HOST}`;
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/**
 * Whether Redis accepts connections. When it does not: prints "skipped: …" and returns false, or
 * under CI (`CI=true`) throws, so the test file fails instead of skipping.
 */
export function redisAvailable(): Promise<boolean> {
  return serviceAvailable(
    'redis',
    REDIS_HOST,
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no',
  );
}

let counter = 0;

/** A key prefix no other test (of this or another process) uses. */
export function uniqueName(prefix: string): string {
  return `sluice-test:${prefix}:${process.pid}-${Date.now().toString(36)}-${counter++}`;
}

export type TestClient = ReturnType<typeof createClient>;

/** A plain client on the test server, for preparing keys and reading what a sink wrote. */
export async function testClient(): Promise<TestClient> {
  const client = createClient({ url: REDIS_URL });
  client.on('error', () => {});
  await client.connect();
  return client as TestClient;
}

/** Every key that starts with `prefix`, sorted (SCAN, not KEYS). */
export async function keysOf(client: TestClient, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) out.push(...keys);
  return out.sort();
}

/** Deletes every key that starts with `prefix`. */
export async function dropKeys(client: TestClient, prefix: string): Promise<void> {
  const keys = await keysOf(client, prefix);
  if (keys.length > 0) await client.del(keys);
}

/** Opens the `redis` sink outside a job with `options` (defaults applied; `url` the test server's). */
export async function openSink(
  options: { [option: string]: unknown },
  log: Logger = silentLogger,
): Promise<RedisSink> {
  const checked = validateConfig<RedisSinkConfig>(redisSink.config, { url: REDIS_URL, ...options });
  if (!checked.ok) throw new Error(`invalid redis sink config: ${JSON.stringify(checked.issues)}`);
  const sink = new RedisSink(checked.value, 'out');
  await sink.open({
    id: 'out',
    pipeline: 'test',
    restored: undefined,
    clock: systemClock,
    baseDir: REPO_ROOT,
    signal: new AbortController().signal,
    log,
  });
  return sink;
}

/** A batch of `records` with row kinds when given (a changelog). */
export function batch(records: Row[], kinds?: RowKind[]): SinkBatch {
  return { records, times: records.map(() => 0), ...(kinds ? { kinds } : {}) };
}

/** A logger that keeps its lines, for tests that look at what was logged. */
export function keptLog(): Logger & { lines: { level: string; message: string; fields?: unknown }[] } {
  const lines: { level: string; message: string; fields?: unknown }[] = [];
  const at = (level: string) => (message: string, fields?: unknown) => lines.push({ level, message, fields });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
