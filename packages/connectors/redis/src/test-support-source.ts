/**
 * Helpers for the `redis` source's tests: opening a stream reader outside a job, adding entries
 * as a producer would, reading until enough arrived, and the source conformance suite's input.
 * Not a public API.
 */

import {
  type Logger,
  type Row,
  type SourceBatch,
  type SourceReader,
  silentLogger,
  systemClock,
  validateConfig,
} from '@sluice/core';
import { sourceConformance } from '@sluice/core/testing';
import { redisSource } from './source.ts';
import type { RedisSourceConfig } from './source-config.ts';
import { REDIS_HOST, REDIS_URL, REPO_ROOT, type TestClient, uniqueName } from './test-support.ts';

/**
 * Opens the `redis` source outside a job with `options` (defaults applied; `url` the test
 * server's), resuming from `restored` (the stream reader's position) when given.
 */
export async function openSource(
  options: { [option: string]: unknown },
  extra: { restored?: unknown; log?: Logger; requestCheckpoint?: () => void } = {},
): Promise<SourceReader> {
  const checked = validateConfig<RedisSourceConfig>(redisSource.config, { url: REDIS_URL, ...options });
  if (!checked.ok) throw new Error(`invalid redis source config: ${JSON.stringify(checked.issues)}`);
  const restored: { [partition: string]: unknown } = {};
  if (extra.restored !== undefined && typeof options.stream === 'string')
    restored[options.stream] = extra.restored;
  const readers = await redisSource.create(checked.value).open({
    id: 'in',
    pipeline: 'test',
    restored,
    clock: systemClock,
    baseDir: REPO_ROOT,
    signal: new AbortController().signal,
    log: extra.log ?? silentLogger,
    requestCheckpoint: extra.requestCheckpoint,
  });
  return readers[0] as SourceReader;
}

/** Adds one entry per record, its fields as text (`format: fields`) or as JSON in `data`. */
export async function addEntries(
  client: TestClient,
  stream: string,
  records: readonly Row[],
  json = false,
): Promise<void> {
  for (const r of records) {
    const fields: { [k: string]: string } = json
      ? { data: JSON.stringify(r) }
      : Object.fromEntries(Object.entries(r).map(([k, v]) => [k, String(v)]));
    await client.xAdd(stream, '*', fields);
  }
}

/** Reads until `count` records and failures arrived or `timeoutMs` passed. */
export async function readAtLeast(
  reader: SourceReader,
  count: number,
  timeoutMs = 5000,
): Promise<{ records: Row[]; failures: NonNullable<SourceBatch['failures']> }> {
  const records: Row[] = [];
  const failures: NonNullable<SourceBatch['failures']> = [];
  const signal = new AbortController().signal;
  const deadline = Date.now() + timeoutMs;
  while (records.length + failures.length < count && Date.now() < deadline) {
    const batch = await reader.read(64, signal);
    if (batch === null) break;
    records.push(...batch.records);
    failures.push(...(batch.failures ?? []));
  }
  return { records, failures };
}

/** Registers the source conformance suite for `mode: stream` with JSON entries. */
export function redisStreamConformance(client: TestClient | undefined): void {
  sourceConformance({
    spec: redisSource,
    label: 'redis stream',
    skip: client === undefined ? 'Redis is not reachable at 127.0.0.1:6379' : false,
    baseDir: REPO_ROOT,
    // The group keeps the acknowledged position: a reader opened without a restored position
    // reads its own pending entries again, and nothing a commit acknowledged.
    upstreamPositions: true,
    timeoutMs: 10_000,
    server: REDIS_HOST,
    plugin: '@sluice/redis',
    // Workers of one group, each with a consumer name of its own.
    sharedWork: { options: (options, worker) => ({ ...options, consumer: `worker-${worker}` }) },
    async input(through) {
      const r = client as TestClient;
      const stream = uniqueName('conformance-stream');
      return {
        options: {
          url: through?.address === undefined ? REDIS_URL : `redis://${through.address}`,
          stream,
          group: 'conformance',
          consumer: 'worker-1',
          start: '0',
          format: 'json',
        },
        write: (records: readonly Row[]) => addEntries(r, stream, records, true),
        async writeMalformed(count: number) {
          for (let i = 0; i < count; i++) await r.xAdd(stream, '*', { data: `{"id": ${i}, not json` });
        },
        async dispose() {
          await r.del(stream);
        },
      };
    },
  });
}
