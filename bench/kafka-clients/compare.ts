/**
 * Kafka client comparison: @platformatic/kafka vs @confluentinc/kafka-javascript (librdkafka),
 * with Kafka's own Java perf tools as a third reference, against the real broker.
 *
 *   node_modules/.bin/node bench/kafka-clients/compare.ts [options]
 *
 *   --records N        records per measurement (default 1,000,000; at most 2,000,000)
 *   --runs R           runs per cell, medians reported (default 3)
 *   --clients LIST     platformatic,platformatic-defaults,confluent,confluent-dr,java (default: all;
 *                      confluent-dr is the Confluent producer with a delivery report per record,
 *                      produce phases only; platformatic-defaults runs the consume phase only)
 *   --phases LIST      produce,consume,tx (default: all three)
 *   --tx-size N        records per transaction (default 10,000)
 *   --pl-batch N       @platformatic/kafka: messages per send() call (default 4,000; more than
 *                      ~12,000 makes a per-partition batch exceed the broker's 1 MB limit)
 *   --pl-inflight N    @platformatic/kafka: send() calls kept in flight (default 16)
 *   --pl-max-bytes N   @platformatic/kafka consumer: maxBytes (default 1 MiB; client
 *                      "platformatic-defaults" runs the library's default, 50 MB, for comparison)
 *   --json FILE        also write every raw measurement as JSON
 *   --no-install       do not build @confluentinc/kafka-javascript when it is missing
 *
 * Each measurement runs in its own child process (Node 24 for both Node clients, the JVM for the
 * Java tools), clients interleaved and their order rotated from run to run. A Node child reports
 * the wall time and process.cpuUsage() (user + system, every thread of the process: librdkafka's
 * threads included) of the measured window only: from the first send to the last acknowledgement
 * (produce), or from the first received record to the N-th (consume; the group join is reported
 * apart). The Java tools report their own rate; their CPU is the JVM's whole-process CPU (the
 * orchestrator's reaped-children CPU) minus the CPU of a 1-record run of the same tool, i.e. JVM
 * start, JIT warm-up and connection are taken out as well as they can be. The broker's CPU during
 * each measurement is read from /proc/<broker pid>/stat.
 *
 * Records: key = one of 1,000 short keys (murmur2-partitioned by each client), value = a ~200-byte
 * JSON object from a pool of 1,000 prebuilt Buffers (the benchmark measures the client, not
 * JSON.stringify). Topics have 3 partitions, replication factor 1. Produce: acks=all, idempotence.
 * Consume: every client reads the same fixture topic (written once per invocation by
 * @platformatic/kafka), each time in a fresh consumer group, from the earliest offset. Transactions:
 * a transactional producer commits every --tx-size records. Every topic this script creates is
 * deleted before it exits (also on failure).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Admin, Consumer, Producer } from '@platformatic/kafka';
import { median } from '../measure.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CACHE = path.join(ROOT, '.cache/kafka-clients');
const CONFLUENT_PKG = path.join(CACHE, 'pkg');
const BOOTSTRAP = '127.0.0.1:9092';
const PARTITIONS = 3;
const KEY_COUNT = 1000;
const VALUE_POOL = 1000;

type Client = 'platformatic' | 'platformatic-defaults' | 'confluent' | 'confluent-dr' | 'java';
type Phase = 'produce' | 'consume' | 'tx';

interface Job {
  client: Client;
  phase: Phase;
  topic: string;
  records: number;
  txSize: number;
  plBatch: number;
  plInflight: number;
  plMaxBytes: number;
  group?: string;
}

interface Measurement {
  client: Client;
  phase: Phase;
  run: number;
  records: number;
  wallMs: number; // measured window
  cpuMs: number; // user + system of the client process in the measured window
  setupMs?: number; // connect / group join before the window
  brokerCpuMs?: number; // broker JVM CPU while the child ran (whole child lifetime)
  machineBusyCores?: number; // all CPUs of the machine busy while the child ran (0..nproc), others' load included
  note?: string;
}

// ------------------------------------------------------------------------------------------------
// record pool (identical for every client)

function makeKeys(): Buffer[] {
  const keys: Buffer[] = [];
  for (let i = 0; i < KEY_COUNT; i++) keys.push(Buffer.from(`user-${i}`));
  return keys;
}

function makeValue(i: number): string {
  // A realistic ~200-byte event; padded to exactly 200 bytes.
  const base = JSON.stringify({
    id: 100_000_000 + i,
    ts: 1_767_225_600_000 + i * 17,
    user: `user-${i % KEY_COUNT}`,
    type: ['click', 'view', 'buy', 'cart'][i % 4],
    price: Math.round((i % 997) * 10.37) / 100,
    qty: 1 + (i % 5),
    url: `/p/${(i * 7919) % 100_000}`,
    tag: '',
  });
  const pad = 200 - Buffer.byteLength(base);
  return base.replace('"tag":""', `"tag":"${'x'.repeat(Math.max(0, pad))}"`);
}

function makeValues(): Buffer[] {
  const values: Buffer[] = [];
  for (let i = 0; i < VALUE_POOL; i++) values.push(Buffer.from(makeValue(i)));
  return values;
}

// ------------------------------------------------------------------------------------------------
// small helpers

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

/** utime + stime of a process, in ms (from /proc; 0 when unreadable). */
function procCpuMs(pid: number | 'self-children'): number {
  try {
    const file = pid === 'self-children' ? '/proc/self/stat' : `/proc/${pid}/stat`;
    const stat = readFileSync(file, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): utime = field 14, stime = 15, cutime = 16, cstime = 17.
    const tick = 1000 / 100; // USER_HZ is 100 on Linux x86-64
    if (pid === 'self-children') return (Number(fields[13]) + Number(fields[14])) * tick;
    return (Number(fields[11]) + Number(fields[12])) * tick;
  } catch {
    return 0;
  }
}

/** [busy, total] jiffies of the whole machine (first line of /proc/stat). */
function machineJiffies(): [number, number] {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return [total - f[3] - f[4], total];
  } catch {
    return [0, 0];
  }
}

function brokerPid(): number | undefined {
  try {
    const home =
      process.env.SLUICE_SERVICES_HOME ??
      path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'sluice');
    const pid = Number(readFileSync(path.join(home, 'kafka/broker.pid'), 'utf8').trim());
    return existsSync(`/proc/${pid}`) ? pid : undefined;
  } catch {
    return undefined;
  }
}

function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ------------------------------------------------------------------------------------------------
// workers (run in a child process: `compare.ts --worker JSON`)

const confluentRequire = () => createRequire(path.join(CONFLUENT_PKG, 'package.json'));

/** The parts of @confluentinc/kafka-javascript's node-rdkafka-style API used here. */
type Cb = (err: unknown) => void;
interface RdClient {
  once(event: string, listener: (arg: unknown) => void): void;
  connect(): void;
  disconnect(cb: () => void): void;
}
interface RdProducer extends RdClient {
  on(event: 'delivery-report', listener: (err: unknown) => void): void;
  setPollInBackground(on: boolean): void;
  getMetadata(options: { topic: string; timeout: number }, cb: Cb): void;
  initTransactions(timeoutMs: number, cb: Cb): void;
  beginTransaction(cb: Cb): void;
  commitTransaction(timeoutMs: number, cb: Cb): void;
  produce(topic: string, partition: null, value: Buffer, key: Buffer): void;
  flush(timeoutMs: number, cb: Cb): void;
}
interface RdConsumer extends RdClient {
  subscribe(topics: string[]): void;
  consume(count: number, cb: (err: unknown, messages: { value: Buffer }[]) => void): void;
}
interface ConfluentLib {
  Producer: new (conf: Record<string, unknown>) => RdProducer;
  KafkaConsumer: new (conf: Record<string, unknown>, topicConf: Record<string, unknown>) => RdConsumer;
}

function confluentLib(): ConfluentLib {
  return confluentRequire()('@confluentinc/kafka-javascript') as ConfluentLib;
}

async function platformaticProduce(job: Job, transactional: boolean): Promise<Partial<Measurement>> {
  const keys = makeKeys();
  const values = makeValues();
  const producer = new Producer({
    clientId: `bench-${process.pid}`,
    bootstrapBrokers: [BOOTSTRAP],
    idempotent: true,
    acks: -1,
    autocreateTopics: false,
    ...(transactional ? { transactionalId: `bench-tx-${job.topic}` } : {}),
  });
  const t00 = performance.now();
  await producer.metadata({ topics: [job.topic] });
  await producer.initIdempotentProducer({});
  const setupMs = performance.now() - t00;
  const topic = job.topic;
  const n = job.records;
  const batch = (from: number, count: number) => {
    const messages = new Array(count);
    for (let j = 0; j < count; j++) {
      const i = from + j;
      messages[j] = { topic, key: keys[i % KEY_COUNT], value: values[i % VALUE_POOL] };
    }
    return messages;
  };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  if (!transactional) {
    const inflight: Promise<unknown>[] = [];
    for (let sent = 0; sent < n; ) {
      const count = Math.min(job.plBatch, n - sent);
      inflight.push(producer.send({ messages: batch(sent, count) }));
      sent += count;
      if (inflight.length >= job.plInflight) await inflight.shift();
    }
    await Promise.all(inflight);
  } else {
    for (let sent = 0; sent < n; ) {
      const txEnd = Math.min(n, sent + job.txSize);
      const tx = await producer.beginTransaction();
      const inflight: Promise<unknown>[] = [];
      while (sent < txEnd) {
        const count = Math.min(job.plBatch, txEnd - sent);
        inflight.push(tx.send({ messages: batch(sent, count) }));
        sent += count;
        if (inflight.length >= job.plInflight) await inflight.shift();
      }
      await Promise.all(inflight);
      await tx.commit();
    }
  }
  const wallMs = performance.now() - t0;
  const cpuMs = cpuMsSince(cpu0);
  await producer.close();
  return { wallMs, cpuMs, setupMs, records: n };
}

/**
 * @platformatic/kafka's consume stream. `libraryDefaults` (client "platformatic-defaults") keeps
 * the library's fetch size (maxBytes 50 MB, and the per-partition limit defaults to maxBytes):
 * fetches then return tens of MB at once and the decode + GC cost per record triples. The tuned
 * run sets maxBytes (and so the per-partition limit) to `job.plMaxBytes` (1 MB by default,
 * librdkafka's max.partition.fetch.bytes).
 */
async function platformaticConsume(job: Job, libraryDefaults: boolean): Promise<Partial<Measurement>> {
  const consumer = new Consumer({
    clientId: `bench-${process.pid}`,
    groupId: job.group ?? `bench-${process.pid}`,
    bootstrapBrokers: [BOOTSTRAP],
    autocommit: false,
    isolationLevel: 0, // read_uncommitted, as the other clients' defaults
    ...(libraryDefaults ? {} : { maxBytes: job.plMaxBytes }),
  });
  const n = job.records;
  const t00 = performance.now();
  const stream = await consumer.consume({ topics: [job.topic], mode: 'earliest', autocommit: false });
  let count = 0;
  let bytes = 0;
  let cpu0 = process.cpuUsage();
  let t0 = 0;
  let setupMs = 0;
  const result = await new Promise<Partial<Measurement>>((resolve, reject) => {
    stream.on('error', reject);
    stream.on('data', (m: { value: Buffer }) => {
      if (count === 0) {
        setupMs = performance.now() - t00;
        cpu0 = process.cpuUsage();
        t0 = performance.now();
      }
      bytes += m.value.length;
      if (++count === n) {
        const wallMs = performance.now() - t0;
        resolve({ wallMs, cpuMs: cpuMsSince(cpu0), setupMs, records: n, note: `${bytes} value bytes` });
      }
    });
  });
  await stream.close();
  await consumer.close(true);
  return result;
}

/**
 * librdkafka producer. `drAll` false (client "confluent"): `delivery.report.only.error` — only
 * failed records come back to JS, and flush()/commitTransaction() confirm that everything else was
 * acknowledged (what a checkpointing sink needs). `drAll` true (client "confluent-dr"): a delivery
 * report per record reaches JS, counted until all N are in.
 */
async function confluentProduce(
  job: Job,
  transactional: boolean,
  drAll: boolean,
): Promise<Partial<Measurement>> {
  const { Producer: RdProducer } = confluentLib();
  const keys = makeKeys();
  const values = makeValues();
  const conf: Record<string, unknown> = {
    'bootstrap.servers': BOOTSTRAP,
    'client.id': `bench-${process.pid}`,
    'enable.idempotence': true,
    acks: 'all',
    dr_cb: true,
    'delivery.report.only.error': !drAll,
  };
  if (transactional) conf['transactional.id'] = `bench-tx-${job.topic}`;
  const p = new RdProducer(conf);
  const t00 = performance.now();
  await new Promise<void>((resolve, reject) => {
    p.once('ready', () => resolve());
    p.once('event.error', reject);
    p.connect();
  });
  p.setPollInBackground(true);
  await new Promise<void>((resolve, reject) =>
    p.getMetadata({ topic: job.topic, timeout: 10_000 }, (err: unknown) => (err ? reject(err) : resolve())),
  );
  if (transactional) {
    await new Promise<void>((resolve, reject) =>
      p.initTransactions(30_000, (err: unknown) => (err ? reject(err) : resolve())),
    );
  }
  const setupMs = performance.now() - t00;
  const n = job.records;
  const topic = job.topic;
  let delivered = 0;
  let failed = 0;
  let firstError: unknown;
  let onDelivered: (() => void) | undefined;
  let waitFor = 0; // resolve onDelivered when delivered + failed reaches this
  p.on('delivery-report', (err: unknown) => {
    if (err) {
      failed++;
      firstError ??= err;
    } else delivered++;
    if (onDelivered && delivered + failed >= waitFor) {
      const f = onDelivered;
      onDelivered = undefined;
      f();
    }
  });
  const until = (target: number) =>
    new Promise<void>((resolve) => {
      if (delivered + failed >= target) return resolve();
      waitFor = target;
      onDelivered = resolve;
    });
  const QUEUE_FULL = -184;
  /** Produces records [from, to); on a full local queue waits for some deliveries. */
  const produceRange = async (from: number, to: number) => {
    let i = from;
    while (i < to) {
      try {
        p.produce(topic, null, values[i % VALUE_POOL], keys[i % KEY_COUNT]);
        i++;
      } catch (err) {
        if ((err as { code?: number }).code !== QUEUE_FULL) throw err;
        if (drAll) await until(Math.min(i, delivered + failed + 10_000));
        else await sleep(1);
        continue;
      }
      // Let delivery reports in now and then (they arrive on the event loop).
      if ((i & 0x3fff) === 0) await new Promise<void>((r) => setImmediate(r));
    }
  };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const flush = () =>
    new Promise<void>((resolve, reject) =>
      p.flush(120_000, (err: unknown) => (err ? reject(err) : resolve())),
    );
  if (!transactional) {
    await produceRange(0, n);
    if (drAll) await until(n);
    else await flush();
  } else {
    for (let sent = 0; sent < n; ) {
      const txEnd = Math.min(n, sent + job.txSize);
      await new Promise<void>((resolve, reject) =>
        p.beginTransaction((err: unknown) => (err ? reject(err) : resolve())),
      );
      await produceRange(sent, txEnd);
      sent = txEnd;
      // commitTransaction flushes the outstanding messages first.
      await new Promise<void>((resolve, reject) =>
        p.commitTransaction(60_000, (err: unknown) => (err ? reject(err) : resolve())),
      );
      if (drAll) await until(sent);
    }
  }
  const wallMs = performance.now() - t0;
  const cpuMs = cpuMsSince(cpu0);
  p.setPollInBackground(false);
  await new Promise<void>((resolve) => p.disconnect(() => resolve()));
  if (failed > 0) throw new Error(`${failed} delivery failures, first: ${String(firstError)}`);
  if (drAll && delivered !== n) throw new Error(`${delivered} delivery reports for ${n} records`);
  return { wallMs, cpuMs, setupMs, records: n };
}

async function confluentConsume(job: Job): Promise<Partial<Measurement>> {
  const { KafkaConsumer } = confluentLib();
  const c = new KafkaConsumer(
    {
      'bootstrap.servers': BOOTSTRAP,
      'client.id': `bench-${process.pid}`,
      'group.id': job.group ?? `bench-${process.pid}`,
      'enable.auto.commit': false,
    },
    // Topic-level settings must go here: a topic config given apart replaces the defaults that
    // the global config would set (with 'auto.offset.reset' in the first object and {} here the
    // consumer starts at the end of the topic).
    { 'auto.offset.reset': 'earliest' },
  );
  const t00 = performance.now();
  await new Promise<void>((resolve, reject) => {
    c.once('ready', () => resolve());
    c.once('event.error', reject);
    c.connect();
  });
  c.subscribe([job.topic]);
  const n = job.records;
  let count = 0;
  let bytes = 0;
  let cpu0 = process.cpuUsage();
  let t0 = 0;
  let setupMs = 0;
  const BATCH = 10_000;
  while (count < n) {
    const messages: { value: Buffer }[] = await new Promise((resolve, reject) =>
      c.consume(BATCH, (err: unknown, msgs: { value: Buffer }[]) => (err ? reject(err) : resolve(msgs))),
    );
    if (messages.length > 0 && count === 0) {
      setupMs = performance.now() - t00;
      cpu0 = process.cpuUsage();
      t0 = performance.now();
    }
    for (const m of messages) bytes += m.value.length;
    count += messages.length;
  }
  const wallMs = performance.now() - t0;
  const cpuMs = cpuMsSince(cpu0);
  await new Promise<void>((resolve) => c.disconnect(() => resolve()));
  return { wallMs, cpuMs, setupMs, records: count, note: `${bytes} value bytes` };
}

async function runWorker(job: Job): Promise<void> {
  let r: Partial<Measurement>;
  if (job.client === 'platformatic' || job.client === 'platformatic-defaults') {
    r =
      job.phase === 'consume'
        ? await platformaticConsume(job, job.client === 'platformatic-defaults')
        : await platformaticProduce(job, job.phase === 'tx');
  } else if (job.client === 'confluent' || job.client === 'confluent-dr') {
    r =
      job.phase === 'consume'
        ? await confluentConsume(job)
        : await confluentProduce(job, job.phase === 'tx', job.client === 'confluent-dr');
  } else throw new Error(`worker cannot run ${job.client}`);
  process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
  // librdkafka can keep the loop alive for a moment after disconnect; the result is out.
  setTimeout(() => process.exit(0), 200).unref();
}

// ------------------------------------------------------------------------------------------------
// orchestrator

let currentChild: ReturnType<typeof spawn> | undefined;

function runChild(job: Job): Promise<Partial<Measurement>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [import.meta.filename, '--worker', JSON.stringify(job)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    currentChild = child;
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      currentChild = undefined;
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (!line)
        return reject(
          new Error(
            `${job.client} ${job.phase} failed (exit ${code}):\n${err.slice(-3000)}${out.slice(-1000)}`,
          ),
        );
      resolve(JSON.parse(line.slice(7)));
    });
  });
}

const KAFKA_TOOL = path.join(ROOT, 'scripts/services.sh');

function javaTool(args: string[]): { out: string; cpuMs: number } {
  const c0 = procCpuMs('self-children');
  const r = spawnSync('bash', [KAFKA_TOOL, 'tool', ...args], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    timeout: 600_000,
  });
  const cpuMs = procCpuMs('self-children') - c0;
  if (r.status !== 0)
    throw new Error(
      `kafka tool ${args[0]} failed (${r.status}): ${r.stderr.slice(-2000)}${r.stdout.slice(-2000)}`,
    );
  return { out: r.stdout, cpuMs };
}

const PAYLOAD_FILE = path.join(CACHE, 'payloads.jsonl');

function javaProduceArgs(topic: string, n: number, tx?: { id: string; durationMs: number }): string[] {
  const args = [
    'producer-perf',
    '--bootstrap-server',
    BOOTSTRAP,
    '--topic',
    topic,
    '--num-records',
    String(n),
    '--throughput',
    '-1',
    '--payload-file',
    PAYLOAD_FILE,
    '--record-key-range',
    String(KEY_COUNT),
    '--key-distribution',
    'random',
    '--producer-props',
    'acks=all',
    'enable.idempotence=true',
    // librdkafka's batch.size default; Java's own 16 KB default halves its rate here.
    'batch.size=1000000',
    'linger.ms=5',
  ];
  if (tx) args.push('--transactional-id', tx.id, '--transaction-duration-ms', String(tx.durationMs));
  return args;
}

interface JavaBaselines {
  produce?: number;
  consume?: number;
  tx?: number;
}

/** CPU of a 1-record run: JVM start, class loading, JIT of the start-up path, connect, metadata. */
function javaBaseline(phase: Phase, topic: string): number {
  const cpu: number[] = [];
  for (let i = 0; i < 2; i++) {
    if (phase === 'consume') {
      cpu.push(
        javaTool([
          'consumer-perf',
          '--bootstrap-server',
          BOOTSTRAP,
          '--topic',
          topic,
          '--num-records',
          '1',
          '--group',
          `bench-base-${process.pid}-${i}`,
          '--timeout',
          '60000',
        ]).cpuMs,
      );
    } else {
      cpu.push(
        javaTool(
          javaProduceArgs(
            topic,
            1,
            phase === 'tx' ? { id: `bench-base-${process.pid}-${i}`, durationMs: 100 } : undefined,
          ),
        ).cpuMs,
      );
    }
  }
  return Math.min(...cpu);
}

function javaMeasure(job: Job, baselineCpuMs: number, txDurationMs: number): Partial<Measurement> {
  if (job.phase === 'consume') {
    const { out, cpuMs } = javaTool([
      'consumer-perf',
      '--bootstrap-server',
      BOOTSTRAP,
      '--topic',
      job.topic,
      '--num-records',
      String(job.records),
      '--group',
      job.group ?? `bench-${process.pid}`,
      '--timeout',
      '120000',
    ]);
    // start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec,
    // rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
    const lines = out.trim().split('\n');
    const cols = lines[lines.length - 1].split(',').map((s) => s.trim());
    const records = Number(cols[4]);
    const rebalanceMs = Number(cols[6]);
    const fetchMs = Number(cols[7]);
    return {
      records,
      wallMs: fetchMs,
      cpuMs: cpuMs - baselineCpuMs,
      setupMs: rebalanceMs,
      note: `JVM CPU ${fmtInt(cpuMs)} ms before baseline`,
    };
  }
  const tx = job.phase === 'tx' ? { id: `bench-tx-${job.topic}`, durationMs: txDurationMs } : undefined;
  const { out, cpuMs } = javaTool(javaProduceArgs(job.topic, job.records, tx));
  // "1000000 records sent, 123.4 records/sec (0.02 MB/sec), 1.0 ms avg latency, ..."
  const m = /(\d+) records sent, ([\d.]+) records\/sec/.exec(
    out
      .split('\n')
      .filter((l) => l.includes('records sent'))
      .pop() ?? '',
  );
  if (!m) throw new Error(`cannot parse producer-perf output:\n${out.slice(-2000)}`);
  const records = Number(m[1]);
  const rate = Number(m[2]);
  return {
    records,
    wallMs: (records / rate) * 1000,
    cpuMs: cpuMs - baselineCpuMs,
    note: `JVM CPU ${fmtInt(cpuMs)} ms before baseline`,
  };
}

function parseArgs(argv: string[]) {
  const opt = {
    records: 1_000_000,
    runs: 3,
    clients: ['platformatic', 'platformatic-defaults', 'confluent', 'confluent-dr', 'java'] as Client[],
    phases: ['produce', 'consume', 'tx'] as Phase[],
    txSize: 10_000,
    plBatch: 4_000,
    plInflight: 16,
    plMaxBytes: 1_048_576,
    json: '',
    install: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => argv[++i];
    if (a === '--records') opt.records = Number(v());
    else if (a === '--runs') opt.runs = Number(v());
    else if (a === '--clients') opt.clients = v().split(',') as Client[];
    else if (a === '--phases') opt.phases = v().split(',') as Phase[];
    else if (a === '--tx-size') opt.txSize = Number(v());
    else if (a === '--pl-batch') opt.plBatch = Number(v());
    else if (a === '--pl-inflight') opt.plInflight = Number(v());
    else if (a === '--pl-max-bytes') opt.plMaxBytes = Number(v());
    else if (a === '--json') opt.json = v();
    else if (a === '--no-install') opt.install = false;
    else throw new Error(`unknown option ${a}`);
  }
  if (!(opt.records >= 1 && opt.records <= 2_000_000))
    throw new Error('--records must be 1..2,000,000 (broker load is bounded)');
  return opt;
}

function confluentInfo(): { version: string; librdkafka: string } | undefined {
  const r = spawnSync(
    process.execPath,
    [
      '-e',
      `const r=require('module').createRequire(${JSON.stringify(path.join(CONFLUENT_PKG, 'package.json'))});` +
        `const k=r('@confluentinc/kafka-javascript');console.log(JSON.stringify({version:r('@confluentinc/kafka-javascript/package.json').version,librdkafka:k.librdkafkaVersion}))`,
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) return undefined;
  return JSON.parse(r.stdout.trim());
}

async function main(): Promise<void> {
  const opt = parseArgs(process.argv.slice(2));
  const n = opt.records;

  // Build @confluentinc/kafka-javascript on demand.
  const wantsConfluent = opt.clients.some((c) => c.startsWith('confluent'));
  let confluent = wantsConfluent ? confluentInfo() : undefined;
  if (wantsConfluent && !confluent && opt.install) {
    console.error(
      'compare: building @confluentinc/kafka-javascript from source (bench/kafka-clients/install.sh) ...',
    );
    const r = spawnSync('bash', [path.join(import.meta.dirname, 'install.sh')], { stdio: 'inherit' });
    if (r.status === 0) confluent = confluentInfo();
  }
  if (wantsConfluent && !confluent) {
    console.error(
      'compare: @confluentinc/kafka-javascript is not available; see .cache/kafka-clients/install.log. Continuing without it.',
    );
    opt.clients = opt.clients.filter((c) => c !== 'confluent' && c !== 'confluent-dr');
  }

  const admin = new Admin({ clientId: `bench-admin-${process.pid}`, bootstrapBrokers: [BOOTSTRAP] });
  const created: string[] = [];
  const groups: string[] = [];
  const createTopic = async (name: string) => {
    await admin.createTopics({ topics: [name], partitions: PARTITIONS, replicas: 1 });
    created.push(name);
    // Wait until the metadata shows leaders for all partitions.
    for (let i = 0; i < 100; i++) {
      const md = await admin.metadata({ topics: [name], forceUpdate: true }).catch(() => undefined);
      const t = md?.topics.get(name);
      if (t && t.partitions.length === PARTITIONS && t.partitions.every((p) => p.leader >= 0)) return;
      await sleep(100);
    }
    throw new Error(`topic ${name} has no leaders`);
  };
  const dropTopic = async (name: string) => {
    await admin.deleteTopics({ topics: [name] }).catch(() => {});
    const i = created.indexOf(name);
    if (i >= 0) created.splice(i, 1);
  };
  const cleanup = async () => {
    if (created.length) await admin.deleteTopics({ topics: [...created] }).catch(() => {});
    if (groups.length) await admin.deleteGroups({ groups }).catch(() => {});
    created.length = 0;
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.on(sig, () => {
      currentChild?.kill('SIGKILL');
      void cleanup().finally(() => process.exit(130));
    });

  const tag = `${Date.now().toString(36)}-${process.pid}`;
  const results: Measurement[] = [];
  let disturbed = 0;
  const waitForBroker = async () => {
    for (let i = 0; i < 240; i++) {
      await sleep(500);
      if (brokerPid() === undefined) continue;
      const ok = await admin.metadata({ topics: [], forceUpdate: true }).then(
        () => true,
        () => false,
      );
      if (ok) return;
    }
    throw new Error('the broker did not come back within 2 minutes');
  };
  let kafkaVersion = 'unknown';
  try {
    mkdirSync(CACHE, { recursive: true });
    writeFileSync(
      PAYLOAD_FILE,
      `${makeValues()
        .map((b) => b.toString())
        .join('\n')}\n`,
    );
    // `services.sh status kafka` prints e.g. "kafka up 127.0.0.1:9092 (pid 123, 4.4.0)".
    const st = spawnSync('bash', [KAFKA_TOOL, 'status', 'kafka'], { encoding: 'utf8' });
    kafkaVersion = /, ([\d.]+)\)/.exec(st.stdout)?.[1] ?? 'unknown';

    // Fixture for the consume phase (one per invocation, written by @platformatic/kafka).
    const fixture = `bench-kc-fixture-${tag}`;
    if (opt.phases.includes('consume')) {
      await createTopic(fixture);
      console.error(`compare: writing ${fmtInt(n)} records to ${fixture} ...`);
      await runChild({
        client: 'platformatic',
        phase: 'produce',
        topic: fixture,
        records: n,
        txSize: opt.txSize,
        plBatch: opt.plBatch,
        plInflight: opt.plInflight,
        plMaxBytes: opt.plMaxBytes,
      });
    }

    // Java baselines (1-record runs) and the Java transaction duration that matches --tx-size.
    const baselines: JavaBaselines = {};
    let javaTxMs = 100;
    if (opt.clients.includes('java')) {
      const t = `bench-kc-base-${tag}`;
      await createTopic(t);
      for (const ph of opt.phases) baselines[ph] = javaBaseline(ph, ph === 'consume' ? fixture : t);
      if (opt.phases.includes('consume'))
        groups.push(`bench-base-${process.pid}-0`, `bench-base-${process.pid}-1`);
      await dropTopic(t);
      console.error(`compare: Java 1-record baseline CPU ms: ${JSON.stringify(baselines)}`);
    }

    for (let run = 0; run < opt.runs; run++) {
      const order = opt.clients.map((_, i) => opt.clients[(i + run) % opt.clients.length]);
      for (const phase of opt.phases) {
        for (const client of order) {
          if (client === 'confluent-dr' && phase === 'consume') continue;
          if (client === 'platformatic-defaults' && phase !== 'consume') continue;
          let m: Measurement | undefined;
          for (let attempt = 0; !m; attempt++) {
            const topic =
              phase === 'consume' ? fixture : `bench-kc-${phase}-${client}-${run}-${attempt}-${tag}`;
            if (phase !== 'consume') await createTopic(topic);
            const group = `bench-kc-${client}-${run}-${attempt}-${tag}`;
            if (phase === 'consume') groups.push(group);
            const job: Job = {
              client,
              phase,
              topic,
              records: n,
              txSize: opt.txSize,
              plBatch: opt.plBatch,
              plInflight: opt.plInflight,
              plMaxBytes: opt.plMaxBytes,
              group,
            };
            const bpid = brokerPid();
            const b0 = bpid ? procCpuMs(bpid) : 0;
            const [busy0, total0] = machineJiffies();
            let r: Partial<Measurement> | undefined;
            let failure: unknown;
            try {
              r = client === 'java' ? javaMeasure(job, baselines[phase] ?? 0, javaTxMs) : await runChild(job);
            } catch (err) {
              failure = err;
            }
            // The broker is shared with other sessions' tests, some of which restart it: a
            // measurement during which the broker changed (or that failed) is repeated.
            if (r === undefined || bpid === undefined || brokerPid() !== bpid) {
              if (attempt >= 3) throw failure ?? new Error('the broker keeps restarting');
              console.error(
                `compare: run ${run} ${phase} ${client}: ${failure ? `failed (${String(failure).split('\n')[0]})` : 'broker restarted'}; repeating`,
              );
              disturbed++;
              if (phase !== 'consume') await dropTopic(topic);
              await waitForBroker();
              continue;
            }
            m = {
              client,
              phase,
              run,
              records: r.records ?? n,
              wallMs: r.wallMs ?? Number.NaN,
              cpuMs: r.cpuMs ?? Number.NaN,
              setupMs: r.setupMs,
              brokerCpuMs: procCpuMs(bpid) - b0,
              machineBusyCores: (() => {
                const [busy1, total1] = machineJiffies();
                return total1 > total0 ? ((busy1 - busy0) / (total1 - total0)) * os.cpus().length : undefined;
              })(),
              note: r.note,
            };
            results.push(m);
            if (phase !== 'consume') await dropTopic(topic);
          }
          if (client === 'java' && phase === 'produce') {
            // Java's producer-perf-test commits by duration, not by count: pick the duration that
            // makes its transactions about --tx-size records at its own produce rate.
            javaTxMs = Math.max(10, Math.round(opt.txSize / (m.records / m.wallMs)));
          }
          console.error(
            `compare: run ${run} ${phase.padEnd(7)} ${client.padEnd(12)} ${fmtInt((m.records / m.wallMs) * 1000).padStart(10)} rec/s  ` +
              `${fmtInt(m.records / (m.cpuMs / 1000)).padStart(10)} rec/CPU-s  setup ${fmtInt(m.setupMs ?? 0)} ms  broker CPU ${fmtInt(m.brokerCpuMs ?? 0)} ms  ` +
              `machine busy ${(m.machineBusyCores ?? 0).toFixed(2)} cores  load avg ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]}`,
          );
        }
      }
    }
    if (opt.phases.includes('consume')) await dropTopic(fixture);
  } finally {
    await cleanup();
    await admin.close();
  }

  // ---------------------------------------------------------------------------------------------
  // report
  const plVersion = JSON.parse(
    readFileSync(path.join(ROOT, 'node_modules/@platformatic/kafka/package.json'), 'utf8'),
  ).version;
  const cpu = os.cpus();
  const lines: string[] = [];
  lines.push(
    `Machine: ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}`,
  );
  lines.push(
    `Node ${process.version}; @platformatic/kafka ${plVersion}` +
      (confluent
        ? `; @confluentinc/kafka-javascript ${confluent.version} (librdkafka ${confluent.librdkafka}, built from source)`
        : '') +
      (opt.clients.includes('java') ? `; Kafka Java tools ${kafkaVersion}` : ''),
  );
  lines.push(
    `Broker: Apache Kafka ${kafkaVersion}, single node (KRaft) on the same machine, 127.0.0.1:9092; topics: ${PARTITIONS} partitions, RF 1`,
  );
  lines.push(
    `N = ${fmtInt(n)} records per measurement; key ≈ 8 B (1,000 keys), value = 200 B JSON; median of ${opt.runs} runs, clients interleaved; acks=all + idempotence; transactions of ${fmtInt(opt.txSize)} records`,
  );
  lines.push(
    `@platformatic/kafka: producer ${fmtInt(opt.plBatch)} messages per send(), ${opt.plInflight} send() in flight; consumer maxBytes ${fmtInt(opt.plMaxBytes)}. ` +
      `@confluentinc/kafka-javascript: librdkafka defaults; producer delivery.report.only.error=true, consumer consume(10,000). ` +
      `Java tools: producer batch.size=1000000, linger.ms=5`,
  );
  lines.push(
    `Machine load by others during the run: ${disturbed} measurement(s) repeated (broker restarted by another session, or a failure); the last column shows how busy both cores were`,
  );
  lines.push('');
  lines.push(
    '| phase | client | records/s (wall) | records per CPU-second | CPU-s per 1M | broker CPU-s per 1M | setup / join ms | machine busy cores (of ' +
      os.cpus().length +
      ') |',
  );
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|');
  const label: Record<Client, string> = {
    platformatic: '@platformatic/kafka',
    'platformatic-defaults': '@platformatic/kafka, library default fetch size (50 MB)',
    confluent: '@confluentinc/kafka-javascript',
    'confluent-dr': '@confluentinc/kafka-javascript, a delivery report per record',
    java: 'Kafka Java tool (reference)',
  };
  for (const phase of opt.phases) {
    for (const client of opt.clients) {
      const ms = results.filter((r) => r.client === client && r.phase === phase);
      if (!ms.length) continue;
      const rate = median(ms.map((m) => (m.records / m.wallMs) * 1000));
      const perCpu = median(ms.map((m) => m.records / (m.cpuMs / 1000)));
      const cpuPerM = median(ms.map((m) => (m.cpuMs / 1000) * (1_000_000 / m.records)));
      const broker = ms.every((m) => m.brokerCpuMs !== undefined)
        ? median(ms.map((m) => ((m.brokerCpuMs ?? 0) / 1000) * (1_000_000 / m.records))).toFixed(2)
        : 'n/a';
      const setup = median(ms.map((m) => m.setupMs ?? 0));
      const busy = median(ms.map((m) => m.machineBusyCores ?? Number.NaN));
      const ph = phase === 'tx' ? `transactional produce` : phase;
      lines.push(
        `| ${ph} | ${label[client]} | ${fmtInt(rate)} | ${fmtInt(perCpu)} | ${cpuPerM.toFixed(2)} | ${broker} | ${fmtInt(setup)} | ${busy.toFixed(2)} |`,
      );
    }
  }
  console.log(lines.join('\n'));
  if (opt.json)
    writeFileSync(
      opt.json,
      JSON.stringify(
        {
          options: opt,
          disturbed,
          kafkaVersion,
          confluent,
          platformatic: plVersion,
          node: process.version,
          results,
        },
        null,
        2,
      ),
    );
}

const wi = process.argv.indexOf('--worker');
if (wi >= 0) {
  // A worker never outlives 10 minutes (e.g. when its orchestrator died and its topic is gone).
  setTimeout(() => {
    console.error('worker: timed out');
    process.exit(2);
  }, 600_000).unref();
  runWorker(JSON.parse(process.argv[wi + 1])).catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
