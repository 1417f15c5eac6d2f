/**
 * WebSocket source: the `websocket` source → discard at steady state, beside a bare `ws` client
 * loop on the same messages (issue 13: Sluice at least 70% of the bare client loop in records
 * per CPU-second).
 *
 * This process starts a push server on loopback (the `ws` package's server): a client that sends
 * `{"op":"subscribe"}` gets `--records` JSON sensor readings (the MQTT benchmark's, about 172
 * bytes each), sent as fast as the client's socket takes them (each chunk of 500 waits for the
 * last one's write callback, so a client that stops reading — the source at `max_buffered` —
 * holds the server back through TCP). Each consumer runs in its own Node process, measured by its
 * own CPU time (user + system), clock from its first message to its last:
 *
 * - `bare` — a `ws` client that sends the subscribe message and counts text messages: the
 *   ceiling;
 * - `bare+json` — the same loop parsing every message, the work `format: json` does;
 * - `sluice` — a job: the `websocket` source (`format: json`, `resume: none` — the API here cannot
 *   resume, so nothing is acknowledged and the checkpoint holds only a position) → `discard`.
 *
 * The programs alternate within each run so that drift in machine load hits all alike; the
 * median of `--runs` is reported. The server's CPU (this process) is not counted.
 *
 *   node bench/websocket.ts [--records 100000] [--runs 3] [--json] [--profile DIR]
 */

import type { AddressInfo } from 'node:net';
import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { builtins, createLogger, Job, parsePipelineYaml, Registry } from '@sluice/core';
import { websocket } from '@sluice/websocket';
import WebSocket, { WebSocketServer } from 'ws';
import { cpuMsSince, IntervalProfile, measureJobUntilRead, median, runChild } from './measure.ts';
import { SCRATCH_DIR } from './scratch-dir.ts';

const SUBSCRIBE = '{"op":"subscribe"}';
const VARIANTS = ['bare', 'bare+json', 'sluice'] as const;
type Variant = (typeof VARIANTS)[number];

interface Measurement {
  cpuMs: number;
  wallMs: number;
  records: number;
}

interface ChildJob {
  variant: Variant;
  url: string;
  records: number;
  profileDir?: string;
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

// ------------------------------------------------------------------------------------------------
// children

/** The `ws` client's own loop: subscribe, count (and parse) every message. */
async function bareLoop(job: ChildJob, parse: boolean): Promise<Measurement> {
  const socket = new WebSocket(job.url);
  let seen = 0;
  let keys = 0;
  let cpu0 = process.cpuUsage();
  let t0 = performance.now();
  const profile = new IntervalProfile(job.profileDir, job.variant.replace('+', '-'));
  const { promise, resolve, reject } = Promise.withResolvers<Measurement>();
  socket.on('error', reject);
  socket.on('open', () => socket.send(SUBSCRIBE));
  socket.on('message', (data, isBinary) => {
    if (parse) {
      const text = isBinary ? String(data) : (data as Buffer).toString('utf8');
      keys += Object.keys(JSON.parse(text) as object).length;
    }
    seen++;
    if (seen === 1) {
      profile.start();
      cpu0 = process.cpuUsage();
      t0 = performance.now();
    } else if (seen === job.records)
      resolve({ cpuMs: cpuMsSince(cpu0), wallMs: performance.now() - t0, records: seen - 1 });
  });
  const m = await promise;
  await profile.stop();
  socket.close(1000);
  if (parse && keys === 0) throw new Error('no message parsed');
  return m;
}

/** The Sluice job, stopped (drain, final checkpoint) once every message has been read. */
async function sluiceJob(job: ChildJob): Promise<Measurement> {
  const registry = new Registry([builtins, websocket]);
  const yaml = `
name: bench-websocket-${process.pid}
settings: { checkpoint: { interval: 5s, dir: ${SCRATCH_DIR} } }
sources:
  in:
    type: websocket
    url: ${job.url}
    subscribe_message: '${SUBSCRIBE}'
    format: json
sinks:
  out: { type: discard }
`;
  const plan = parsePipelineYaml(yaml, `${SCRATCH_DIR}/pipeline.yaml`, { registry });
  const log = createLogger({ level: 'warn', format: 'text' });
  const running = await Job.create(plan, { registry, fromScratch: true, log });
  const profile = new IntervalProfile(job.profileDir, job.variant);
  const m = await measureJobUntilRead(running, job.records, { onStart: () => profile.start() });
  await profile.stop();
  return m;
}

async function child(job: ChildJob): Promise<void> {
  const m =
    job.variant === 'sluice' ? await sluiceJob(job) : await bareLoop(job, job.variant === 'bare+json');
  say(`RESULT ${JSON.stringify(m)}`);
}

// ------------------------------------------------------------------------------------------------
// orchestrator

/** One reading of about 170 bytes of JSON, deterministic in `i` (the MQTT benchmark's). */
function reading(i: number): string {
  return JSON.stringify({
    device: `sensor-${(i * 7919) % 1_000}`,
    temperature: Math.round(((i * 7.31) % 40) * 100) / 100,
    humidity: Math.round(((i * 3.17) % 100) * 100) / 100,
    ts: 1_767_225_600_000 + i,
    site: ['north', 'south', 'east', 'west'][i % 4],
    firmware: '2.4.1',
    note: 'lorem ipsum dolor sit amet, consectetur adipiscing',
  });
}

/** Sends `messages` to a subscribed client, each chunk of 500 once the previous one is written. */
async function push(socket: WebSocket, messages: readonly string[]): Promise<void> {
  const chunk = 500;
  for (let i = 0; i < messages.length && socket.readyState === WebSocket.OPEN; i += chunk) {
    const end = Math.min(messages.length, i + chunk);
    for (let j = i; j < end - 1; j++) socket.send(messages[j] as string);
    await new Promise<void>((resolve, reject) =>
      socket.send(messages[end - 1] as string, (err) => (err ? reject(err) : resolve())),
    );
  }
}

async function orchestrate(): Promise<void> {
  const { values } = parseArgs({
    options: {
      records: { type: 'string', default: '100000' },
      runs: { type: 'string', default: '3' },
      json: { type: 'boolean', default: false },
      profile: { type: 'string' },
    },
  });
  const records = Number(values.records);
  const runs = Number(values.runs);
  const messages = Array.from({ length: records }, (_, i) => reading(i));
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/feed`;
  server.on('connection', (socket) => {
    socket.on('error', () => {});
    socket.once('message', (data) => {
      if (String(data) !== SUBSCRIBE) socket.close(1003, 'subscribe first');
      else push(socket, messages).catch(() => socket.terminate());
    });
  });
  const rates = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
  const walls = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
  const load0 = loadavg()[0];
  try {
    for (let r = 0; r < runs; r++)
      for (const variant of VARIANTS) {
        const job: ChildJob = { variant, url, records };
        if (values.profile !== undefined && r === 0) job.profileDir = values.profile;
        const m = await runChild<Measurement>(import.meta.filename, job);
        if (m.records < records / 2) throw new Error(`${variant} measured ${m.records} of ${records}`);
        rates.get(variant)?.push(m.records / (m.cpuMs / 1000));
        walls.get(variant)?.push(m.records / (m.wallMs / 1000));
      }
  } finally {
    for (const c of server.clients) c.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  const result = {
    records,
    runs,
    message_bytes: Math.round(messages.reduce((n, m) => n + m.length, 0) / records),
    node: process.version,
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
    memory_gib: Math.round(totalmem() / 2 ** 30),
    load: [load0, loadavg()[0]].map((l) => l.toFixed(1)).join(' → '),
    variants: VARIANTS.map((v) => ({
      variant: v,
      rec_per_cpu_s: Math.round(median(rates.get(v) ?? [])),
      rec_per_s_wall: Math.round(median(walls.get(v) ?? [])),
    })),
  };
  const bare = result.variants[0]?.rec_per_cpu_s ?? Number.NaN;
  const bareJson = result.variants[1]?.rec_per_cpu_s ?? Number.NaN;
  const sluice = result.variants[2]?.rec_per_cpu_s ?? Number.NaN;
  if (values.json) {
    say(
      JSON.stringify({
        ...result,
        sluice_over_bare: sluice / bare,
        sluice_over_bare_json: sluice / bareJson,
      }),
    );
    return;
  }
  say(
    `websocket source, ${records} messages of ~${result.message_bytes} B, median of ${runs}; ${result.node}, ${result.cpus}, load ${result.load}`,
  );
  for (const v of result.variants)
    say(
      `  ${v.variant.padEnd(10)} ${String(v.rec_per_cpu_s).padStart(9)} rec/CPU-s  ${String(v.rec_per_s_wall).padStart(9)} rec/s wall`,
    );
  say(
    `  sluice / bare: ${(sluice / bare).toFixed(2)}; sluice / bare+json: ${(sluice / bareJson).toFixed(2)}`,
  );
}

const childIndex = process.argv.indexOf('--child');
if (childIndex >= 0) await child(JSON.parse(process.argv[childIndex + 1] ?? '{}') as ChildJob);
else await orchestrate();
