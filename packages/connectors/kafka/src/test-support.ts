/**
 * Helpers for tests against the real Kafka broker (`scripts/services.sh up kafka`): the
 * reachability check that skips (or, under CI, fails), unique names, topic admin, and producing
 * and consuming through Kafka's own console tools as the independent client.
 *
 * Not part of the package's public surface.
 */

import { execFile, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Admin, Producer } from '@platformatic/kafka';
import {
  type DecodeFailure,
  type Logger,
  type Row,
  type SourceBatch,
  type SourceReader,
  silentLogger,
  systemClock,
  validateConfig,
} from '@sluice/core';
import { kafkaSource } from './source.ts';
import type { KafkaSourceConfig } from './source-config.ts';
import { READER_ID } from './source-reader.ts';

export const KAFKA_HOST = '127.0.0.1';
export const KAFKA_PORT = 9092;
export const KAFKA_BROKER = `${KAFKA_HOST}:${KAFKA_PORT}`;

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

let reachable: Promise<boolean> | undefined;

/**
 * Whether the broker answers on 127.0.0.1:9092. When it does not, prints
 * "skipped: kafka not reachable at 127.0.0.1:9092" and returns false — except under CI
 * (`CI=true`), where it throws so the test file fails instead of skipping.
 */
export async function kafkaAvailable(): Promise<boolean> {
  reachable ??= new Promise((resolve) => {
    const socket = connect({ host: KAFKA_HOST, port: KAFKA_PORT });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
  const ok = await reachable;
  if (!ok) {
    const message = `kafka not reachable at ${KAFKA_BROKER}`;
    if (process.env.CI === 'true') throw new Error(`${message} (CI=true: a missing service is a failure)`);
    console.log(`skipped: ${message}`);
  }
  return ok;
}

let counter = 0;

/** A topic (or group) name no other test or run uses. */
export function uniqueName(label: string): string {
  return `sluice-test-${label}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
}

async function withAdmin<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = new Admin({ clientId: 'sluice-test-admin', bootstrapBrokers: [KAFKA_BROKER] });
  try {
    return await fn(admin);
  } finally {
    await admin.close();
  }
}

/** Creates a topic through the admin API and waits until its partitions have leaders. */
export async function createTopic(name: string, partitions = 3): Promise<void> {
  await withAdmin(async (admin) => {
    await admin.createTopics({ topics: [name], partitions, replicas: 1 });
    for (let i = 0; i < 50; i++) {
      const md = await admin.metadata({ topics: [name], forceUpdate: true }).catch(() => undefined);
      const t = md?.topics.get(name);
      if (t && t.partitions.length === partitions && t.partitions.every((p) => p.leader >= 0)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`topic ${name} has no leaders after 5 s`);
  });
}

/** Deletes topics (missing ones are ignored). */
export async function deleteTopics(...names: string[]): Promise<void> {
  await withAdmin((admin) => admin.deleteTopics({ topics: names })).catch(() => {});
}

/** Offsets a group has committed for a topic, by partition (absent: none). */
export async function committedOffsets(group: string, topic: string): Promise<Map<number, number>> {
  return withAdmin(async (admin) => {
    const result = await admin.listConsumerGroupOffsets({ groups: [group] });
    const out = new Map<number, number>();
    for (const g of result) {
      for (const t of g.topics) {
        if (t.name !== topic) continue;
        for (const p of t.partitions)
          if (p.committedOffset >= 0n) out.set(p.partitionIndex, Number(p.committedOffset));
      }
    }
    return out;
  });
}

/** Sets a (stopped) group's committed offsets, by partition — as an operator would reset them. */
export async function setCommittedOffsets(
  group: string,
  topic: string,
  offsets: Map<number, number>,
): Promise<void> {
  await withAdmin((admin) =>
    admin.alterConsumerGroupOffsets({
      groupId: group,
      topics: [
        {
          name: topic,
          partitionOffsets: [...offsets].map(([partition, offset]) => ({
            partition,
            offset: BigInt(offset),
          })),
        },
      ],
    }),
  );
}

/**
 * Runs `scripts/services.sh` with `args` (`down kafka`, `up kafka`: the tests that stop and
 * restart the shared broker) and rejects with its output when it fails. Asynchronous, so the
 * clients under test keep retrying meanwhile.
 */
export function services(...args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      ['scripts/services.sh', ...args],
      { cwd: ROOT, timeout: 120_000 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`services.sh ${args.join(' ')} failed: ${stdout}${stderr}`)) : resolve(),
    );
  });
}

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs one of Kafka's own tools (`scripts/services.sh tool ...`), feeding `input` to stdin. */
export function kafkaTool(
  tool: string,
  args: readonly string[],
  input?: string,
  timeoutMs = 30_000,
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['scripts/services.sh', 'tool', tool, ...args], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

/** A record for the console producer: no tabs or newlines in any part. */
export interface ConsoleRecord {
  key: string;
  value: string;
  /** Header names and values (no `,` or `:`); give every record headers, or none. */
  headers?: { [name: string]: string };
}

/**
 * Produces records with Kafka's console producer (the independent client), keyed so the
 * default partitioner spreads them over the partitions. Records keep their order per key.
 */
export async function produceWithConsoleProducer(
  topic: string,
  records: readonly ConsoleRecord[],
): Promise<void> {
  const withHeaders = records.filter((r) => r.headers && Object.keys(r.headers).length > 0).length;
  if (withHeaders !== 0 && withHeaders !== records.length) {
    throw new Error('console producer: give every record headers, or none');
  }
  const lines = records.map((r) => {
    for (const part of [r.key, r.value])
      if (/[\t\n]/.test(part)) throw new Error(`tab or newline in ${part}`);
    const headers = r.headers
      ? Object.entries(r.headers)
          .map(([k, v]) => `${k}:${v}`)
          .join(',')
      : '';
    return withHeaders ? `${headers}\t${r.key}\t${r.value}` : `${r.key}\t${r.value}`;
  });
  const args = ['--bootstrap-server', KAFKA_BROKER, '--topic', topic, '--reader-property', 'parse.key=true'];
  if (withHeaders) args.push('--reader-property', 'parse.headers=true');
  const result = await kafkaTool('console-producer', args, `${lines.join('\n')}\n`);
  if (result.code !== 0 || /Exception/.test(result.stderr)) {
    throw new Error(`console producer failed (${result.code}): ${result.stderr.slice(0, 2000)}`);
  }
}

/** A record as the console consumer prints it. */
export interface ConsumedRecord {
  partition: number;
  offset: number;
  key: string;
  value: string;
}

/**
 * Reads `count` records from the beginning of a topic with Kafka's console consumer (giving up
 * after `timeoutMs` without a record). `read_committed` shows only committed transactions.
 */
export async function consumeWithConsoleConsumer(
  topic: string,
  count: number,
  options: { timeoutMs?: number; isolation?: 'read_committed' | 'read_uncommitted' } = {},
): Promise<ConsumedRecord[]> {
  const args = [
    '--bootstrap-server',
    KAFKA_BROKER,
    '--topic',
    topic,
    '--from-beginning',
    '--max-messages',
    String(count),
    '--timeout-ms',
    String(options.timeoutMs ?? 10_000),
    '--isolation-level',
    options.isolation ?? 'read_uncommitted',
    '--formatter-property',
    'print.partition=true',
    '--formatter-property',
    'print.offset=true',
    '--formatter-property',
    'print.key=true',
  ];
  const result = await kafkaTool('console-consumer', args, undefined, (options.timeoutMs ?? 10_000) + 30_000);
  const out: ConsumedRecord[] = [];
  for (const line of result.stdout.split('\n')) {
    const m = /^Partition:(\d+)\tOffset:(\d+)\t([^\t]*)\t(.*)$/.exec(line);
    if (m) out.push({ partition: Number(m[1]), offset: Number(m[2]), key: m[3], value: m[4] });
  }
  return out;
}

/** A record produced by `produce`. */
export interface ProducedRecord {
  partition: number;
  /** Text (as UTF-8) or raw bytes. */
  value: string | Buffer;
  key?: string;
  timestamp?: number;
}

/**
 * Produces records quickly through the client library (for bulk and timing-sensitive tests
 * where the console producer's JVM start would dominate); `partition` is explicit.
 */
export async function produce(topic: string, records: readonly ProducedRecord[]): Promise<void> {
  const producer = new Producer({
    clientId: 'sluice-test-producer',
    bootstrapBrokers: [KAFKA_BROKER],
    idempotent: true,
    acks: -1,
  });
  try {
    for (let i = 0; i < records.length; i += 5_000) {
      await producer.send({
        messages: records.slice(i, i + 5_000).map((r) => {
          const m: { topic: string; partition: number; value: Buffer; key?: Buffer; timestamp?: bigint } = {
            topic,
            partition: r.partition,
            value: typeof r.value === 'string' ? Buffer.from(r.value) : r.value,
          };
          if (r.key !== undefined) m.key = Buffer.from(r.key);
          if (r.timestamp !== undefined) m.timestamp = BigInt(r.timestamp);
          return m;
        }),
      });
    }
  } finally {
    await producer.close();
  }
}

/** A logger that keeps every line, to check what was (and was not) logged. */
export interface CapturingLogger extends Logger {
  readonly lines: { level: string; message: string; fields?: { [k: string]: unknown } }[];
}

export function capturingLogger(): CapturingLogger {
  const lines: CapturingLogger['lines'] = [];
  const at =
    (level: string) =>
    (message: string, fields?: { [k: string]: unknown }): void => {
      lines.push({ level, message, fields });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Opens the reader of a `kafka` source from a raw config (defaults applied as a pipeline would). */
export async function openKafkaReader(
  config: { [k: string]: unknown },
  options: { restored?: unknown; log?: Logger; id?: string } = {},
): Promise<SourceReader> {
  const checked = validateConfig<KafkaSourceConfig>(kafkaSource.config, {
    brokers: [KAFKA_BROKER],
    ...config,
  });
  if (!checked.ok) throw new Error(`invalid kafka config: ${JSON.stringify(checked.issues)}`);
  const restored: { [partition: string]: unknown } = {};
  if (options.restored !== undefined) restored[READER_ID] = options.restored;
  const readers = await kafkaSource.create(checked.value).open({
    id: options.id ?? 'in',
    restored,
    clock: systemClock,
    baseDir: process.cwd(),
    signal: new AbortController().signal,
    log: options.log ?? silentLogger,
  });
  return readers[0];
}

/** What `readUntil` collected: records and failures with their partitions, and every batch. */
export interface Collected {
  records: Row[];
  failures: (DecodeFailure & { partition: string })[];
  batches: SourceBatch[];
}

/**
 * Reads until `done(collected)` holds, or throws after `timeoutMs` (a bounded loop: every read
 * returns within ~200 ms when there is nothing to read).
 */
export async function readUntil(
  reader: SourceReader,
  done: (c: Collected) => boolean,
  timeoutMs = 15_000,
  into: Collected = { records: [], failures: [], batches: [] },
): Promise<Collected> {
  const deadline = Date.now() + timeoutMs;
  const signal = new AbortController().signal;
  while (!done(into)) {
    if (Date.now() > deadline) {
      throw new Error(`readUntil: timed out after ${timeoutMs} ms with ${into.records.length} records`);
    }
    const batch = await reader.read(1024, signal);
    if (batch === null) break;
    into.batches.push(batch);
    for (const r of batch.records) into.records.push(r);
    for (const f of batch.failures ?? []) into.failures.push({ ...f, partition: batch.partition ?? '' });
  }
  return into;
}
