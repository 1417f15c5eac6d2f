/**
 * Helpers for the `nats` package's tests against the machine's NATS server with JetStream: a
 * reachability check that skips (or, under CI, fails), unique names, streams made and removed,
 * publishing as a producer would, and the source conformance suite. Not a public API.
 */

import { fileURLToPath } from 'node:url';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers as makeHeaders, type NatsConnection } from '@nats-io/transport-node';
import { type Logger, type Row, type Sink, silentLogger, systemClock, validateConfig } from '@sluice/core';
import { serviceAvailable, sourceConformance } from '@sluice/core/testing';
import { natsSink } from './sink.ts';
import type { NatsSinkConfig } from './sink-config.ts';
import { natsSource } from './source.ts';
import type { NatsSourceConfig } from './source-config.ts';
import type { NatsReader } from './source-reader.ts';

export const NATS_HOST = '127.0.0.1:4222';
export const NATS_URL = `nats://${NATS_HOST}`;
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/**
 * Whether the NATS server accepts connections. When it does not: prints "skipped: …" and returns
 * false, or under CI (`CI=true`) throws, so the test file fails instead of skipping.
 */
export function natsAvailable(): Promise<boolean> {
  return serviceAvailable('nats', NATS_HOST, 'bash scripts/services.sh status nats');
}

let counter = 0;

/**
 * A name no other test (of this or another process) uses, valid as a stream, consumer or subject
 * token: letters, digits, `_` and `-`.
 */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${counter++}`;
}

/** Runs `use` with a connection of its own to the test server. */
export async function withNats<T>(use: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: NATS_URL });
  try {
    return await use(nc);
  } finally {
    await nc.drain();
  }
}

/** Creates stream `name` on `subjects` (memory storage: tests keep nothing on disk). */
export async function createStream(
  name: string,
  subjects: string[],
  extra: { duplicate_window?: number; max_msg_size?: number } = {},
): Promise<void> {
  await withNats(async (nc) => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name, subjects, storage: 'memory', ...extra });
  });
}

/** Deletes stream `name` and its consumers; a stream that is gone already is fine. */
export async function deleteStream(name: string): Promise<void> {
  await withNats(async (nc) => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(name).catch(() => false);
  });
}

/** Publishes each payload to `subject` through JetStream, waiting for the stream's acks. */
export async function publish(
  subject: string,
  payloads: readonly (string | Uint8Array)[],
  headerValues?: { [name: string]: string },
): Promise<void> {
  await withNats(async (nc) => {
    const js = jetstream(nc);
    let h: ReturnType<typeof makeHeaders> | undefined;
    if (headerValues !== undefined) {
      h = makeHeaders();
      for (const [k, v] of Object.entries(headerValues)) h.set(k, v);
    }
    const acks = payloads.map((p) => js.publish(subject, p, h === undefined ? undefined : { headers: h }));
    await Promise.all(acks);
  });
}

/** The messages a stream holds, in order, as text (read with an ordered consumer). */
export async function streamMessages(
  stream: string,
): Promise<{ subject: string; data: string; headers: { [name: string]: string } }[]> {
  return withNats(async (nc) => {
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const total = (await jsm.streams.info(stream)).state.messages;
    const out: { subject: string; data: string; headers: { [name: string]: string } }[] = [];
    if (total === 0) return out;
    const consumer = await js.consumers.get(stream);
    const messages = await consumer.fetch({ max_messages: total, expires: 5000 });
    for await (const m of messages) {
      const headers: { [name: string]: string } = {};
      for (const k of m.headers?.keys() ?? []) headers[k] = m.headers?.last(k) ?? '';
      out.push({ subject: m.subject, data: m.string(), headers });
      if (out.length >= total) break;
    }
    return out;
  });
}

/**
 * Opens the `nats` source's reader outside a job with `options` (defaults applied; `servers` is
 * the test server), resuming from `restored` when given.
 */
export async function openNatsReader(
  options: { [k: string]: unknown },
  extra: { restored?: unknown; log?: Logger; requestCheckpoint?: () => void; id?: string } = {},
): Promise<NatsReader> {
  const checked = validateConfig<NatsSourceConfig>(natsSource.config, { servers: [NATS_URL], ...options });
  if (!checked.ok) throw new Error(`invalid nats config: ${JSON.stringify(checked.issues)}`);
  const restored: { [partition: string]: unknown } = {};
  if (extra.restored !== undefined) restored.nats = extra.restored;
  const readers = await natsSource.create(checked.value).open({
    id: extra.id ?? 'in',
    restored,
    clock: systemClock,
    baseDir: process.cwd(),
    signal: new AbortController().signal,
    log: extra.log ?? silentLogger,
    requestCheckpoint: extra.requestCheckpoint,
  });
  return readers[0] as NatsReader;
}

/** Reads from `reader` until `count` records (and failures) came or `timeoutMs` passed. */
export async function readRecords(
  reader: NatsReader,
  count: number,
  timeoutMs = 10_000,
): Promise<{ records: Row[]; failures: { payload: string; message: string }[] }> {
  const signal = new AbortController().signal;
  const records: Row[] = [];
  const failures: { payload: string; message: string }[] = [];
  const deadline = Date.now() + timeoutMs;
  while (records.length + failures.length < count && Date.now() < deadline) {
    const batch = await reader.read(64, signal);
    if (batch === null) break;
    records.push(...batch.records);
    failures.push(...(batch.failures ?? []));
  }
  return { records, failures };
}

/**
 * Registers the source conformance suite against a fresh stream per input. One call per test
 * file: the suite names its memory stores by source type and a counter of its own.
 */
export function natsSourceConformance(skip: string | false): void {
  sourceConformance({
    spec: natsSource,
    label: 'nats',
    skip,
    baseDir: REPO_ROOT,
    // The durable consumer keeps what was acknowledged: a reader opened without a restored
    // position gets what no commit acknowledged, and nothing a commit did.
    upstreamPositions: true,
    timeoutMs: 10_000,
    server: NATS_HOST,
    plugin: '@sluice/nats',
    // A durable pull consumer: the workers of one pipeline pull from the same consumer.
    sharedWork: {},
    async input(through) {
      const stream = uniqueName('conformance');
      const subject = `${stream}.in`;
      await createStream(stream, [`${stream}.>`]);
      const publishRecords = (records: readonly Row[]) =>
        publish(
          subject,
          records.map((r) => JSON.stringify(r)),
        );
      return {
        options: {
          servers: [through?.address === undefined ? NATS_URL : `nats://${through.address}`],
          stream,
          durable: 'sluice',
          subjects: [`${stream}.>`],
          create: true,
          ack_wait: '3s',
        },
        write: publishRecords,
        async writeMalformed(count: number) {
          await publish(
            subject,
            Array.from({ length: count }, (_, i) => `{"id": ${i}, not json`),
          );
        },
        dispose: () => deleteStream(stream),
      };
    },
  });
}

/** Opens the `nats` sink outside a job with `options` (defaults applied; `servers` the test server). */
export async function openNatsSink(
  options: { [k: string]: unknown },
  log: Logger = silentLogger,
): Promise<Sink> {
  const checked = validateConfig<NatsSinkConfig>(natsSink.config, { servers: [NATS_URL], ...options });
  if (!checked.ok) throw new Error(`invalid nats config: ${JSON.stringify(checked.issues)}`);
  const sink = natsSink.create(checked.value);
  await sink.open({
    id: 'out',
    restored: undefined,
    clock: systemClock,
    baseDir: process.cwd(),
    signal: new AbortController().signal,
    log,
  });
  return sink;
}
