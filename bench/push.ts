/**
 * `@sluice/server` live push: a view's changes fanned out to N subscribers over Server-Sent Events
 * and over WebSocket, with the time from a record entering the pipeline to a client receiving its
 * change (p50, p99, max), and what the fan-out costs the pipeline's process — beside a baseline
 * run of the same pipeline, served, with no subscriber, in the same invocation.
 *
 *   node bench/push.ts                                   # 1,000 clients, 10 records/s, 10 s, 3 runs
 *   node bench/push.ts --clients 100 --rate 200 --seconds 10 --runs 3 --protocols sse,ws
 *
 * The pipeline: `generate` orders at `rate` records per second (processing time) → `map` adding
 * `entered_at: now()` (the record's wall-clock time as it enters the fused chain behind the
 * source) → `view` keyed by `customer_id`. Every record is an upsert, so every subscriber
 * receives every record as one change: `rate` updates per second per client. The subscribers
 * live in a second process (one process holds all N connections) and compute each change's
 * latency as their `Date.now()` minus the row's `entered_at` — the same machine clock, 1 ms
 * resolution. They connect before the job runs, so each one receives every change from offset 1.
 *
 * Measured in the pipeline's process: CPU (user + system) from `job.run()` until the subscribers
 * have every change (the baseline: until the run ends) — records per CPU-second for each variant,
 * and the extra CPU per delivered change against the baseline. The subscribers' CPU is reported
 * apart (on this 2-core machine it competes with the server's).
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { builtins, Job, parsePipelineYaml, Registry } from '@sluice/core';
import { serve, server } from '@sluice/server';
import { cpuMsSince, median, runChild } from './measure.ts';

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '10' },
    runs: { type: 'string', default: '3' },
    protocols: { type: 'string', default: 'sse,ws' },
    json: { type: 'boolean', default: false },
    child: { type: 'string' },
  },
});

/** What the subscriber process is asked to do. */
interface SubscribeJob {
  variant: 'subscribe';
  protocol: Protocol;
  url: string;
  clients: number;
  /** Changes each client must receive (every record is one). */
  expected: number;
  /** Give up this many ms after the clients are connected. */
  deadlineMs: number;
}
/** What it reports. */
export interface SubscribeResult {
  /** Changes received, over all clients. */
  received: number;
  /** Clients that received every change. */
  complete: number;
  /** Clients the server disconnected, by the reason it gave (or `closed`). */
  disconnected: { [reason: string]: number };
  /** Record → client latency, ms. */
  p50: number;
  p99: number;
  max: number;
  /** CPU ms of the subscriber process from the moment all clients were connected. */
  cpuMs: number;
}
type Protocol = 'sse' | 'ws';

/** One client's bookkeeping: how many changes it has and whether its connection has ended. */
interface Client {
  received: number;
  ended: boolean;
}

/**
 * Opens `job.clients` subscriptions, prints `READY` when all are open, and `RESULT` when each has
 * every change or has been disconnected (or at the deadline).
 */
async function subscribe(job: SubscribeJob): Promise<void> {
  const latencies: number[] = [];
  const disconnected: { [reason: string]: number } = {};
  const clients: Client[] = [];
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const check = () => {
    if (clients.every((c) => c.ended || c.received >= job.expected)) finish();
  };
  const onChange = (client: Client, data: string) => {
    const at = Date.now();
    const change = JSON.parse(data) as { row?: { entered_at?: number }; error?: string };
    if (change.error !== undefined) return;
    latencies.push(at - (change.row?.entered_at ?? Number.NaN));
    client.received++;
    if (client.received === job.expected) check();
  };
  const ended = (client: Client, reason: string) => {
    if (client.ended) return;
    client.ended = true;
    if (client.received < job.expected) disconnected[reason] = (disconnected[reason] ?? 0) + 1;
    check();
  };

  const openSse = (client: Client) =>
    new Promise<void>((resolve, reject) => {
      const req = request(`${job.url}/changes?from=1`, { agent: false }, (res) => {
        if (res.statusCode !== 200) return reject(new Error(`SSE: HTTP ${res.statusCode}`));
        res.setEncoding('utf8');
        let buffer = '';
        let reason = 'closed';
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let end = buffer.indexOf('\n\n');
          while (end >= 0) {
            const event = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            end = buffer.indexOf('\n\n');
            const data = event.split('\n').find((l) => l.startsWith('data: '));
            if (data === undefined) continue;
            if (event.includes('event: error')) reason = (JSON.parse(data.slice(6)) as { code: string }).code;
            else onChange(client, data.slice(6));
          }
        });
        res.on('close', () => ended(client, reason));
        resolve();
      });
      req.on('error', (err) => (clients.includes(client) ? ended(client, err.message) : reject(err)));
      req.end();
    });

  const openWs = (client: Client) =>
    new Promise<void>((resolve, reject) => {
      const socket = new WebSocket(`${job.url.replace(/^http/, 'ws')}/ws?from=1`);
      let opened = false;
      socket.onopen = () => {
        opened = true;
        resolve();
      };
      socket.onmessage = (m) => onChange(client, String(m.data));
      socket.onclose = (e) => {
        if (!opened) reject(new Error(`WebSocket closed before it opened: ${e.code}`));
        ended(client, e.reason || `close ${e.code}`);
      };
    });

  // In groups, so that the server's listen backlog is not overrun.
  for (let i = 0; i < job.clients; i += 100) {
    const group: Promise<void>[] = [];
    for (let j = i; j < Math.min(job.clients, i + 100); j++) {
      const client: Client = { received: 0, ended: false };
      clients.push(client);
      group.push(job.protocol === 'sse' ? openSse(client) : openWs(client));
    }
    await Promise.all(group);
  }
  const cpu0 = process.cpuUsage();
  process.stdout.write('READY\n');
  const deadline = setTimeout(finish, job.deadlineMs);
  await done;
  clearTimeout(deadline);
  const cpuMs = cpuMsSince(cpu0);
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  const result: SubscribeResult = {
    received: latencies.length,
    complete: clients.filter((c) => c.received >= job.expected).length,
    disconnected,
    p50: at(0.5),
    p99: at(0.99),
    max: latencies.at(-1) ?? Number.NaN,
    cpuMs,
  };
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  process.exit(0);
}

if (args.child !== undefined) {
  await subscribe(JSON.parse(args.child) as SubscribeJob);
}

const clients = Number(args.clients);
const rate = Number(args.rate);
const seconds = Number(args.seconds);
const runs = Number(args.runs);
const protocols = args.protocols.split(',').map((p) => {
  if (p !== 'sse' && p !== 'ws') throw new Error(`--protocols: sse and/or ws, not '${p}'`);
  return p;
});
const records = Math.round(rate * seconds);
const registry = new Registry([builtins, server]);

const pipeline = (dir: string) => `
name: bench-push
settings: { checkpoint: { interval: 5s, dir: ${JSON.stringify(dir)} } }
sources:
  orders: { type: generate, template: orders, count: ${records}, rate: ${rate}, seed: 1 }
steps:
  - id: stamped
    type: map
    fields: { entered_at: now() }
sinks:
  orders_by_customer: { type: view, key: [customer_id] }
`;

/** One run's figures in the pipeline's process, and the subscribers' report (none for the baseline). */
interface Run {
  cpuMs: number;
  subscribers?: SubscribeResult;
}

/** Runs the pipeline once, served, with `protocol` subscribers connected first (none: baseline). */
async function runOnce(protocol: Protocol | undefined): Promise<Run> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-push-'));
  const plan = parsePipelineYaml(pipeline(dir), join(dir, 'p.yaml'), { registry });
  const job = await Job.create(plan, { registry, fromScratch: true });
  const http = await serve(job);
  try {
    if (protocol === undefined) {
      const cpu0 = process.cpuUsage();
      await job.run();
      return { cpuMs: cpuMsSince(cpu0) };
    }
    let cpu0: NodeJS.CpuUsage | undefined;
    let running: Promise<unknown> | undefined;
    const subscribers = await runChild<SubscribeResult>(
      import.meta.filename,
      {
        variant: 'subscribe',
        protocol,
        url: `${http.url}/api/views/orders_by_customer`,
        clients,
        expected: records,
        deadlineMs: (seconds + 30) * 1000,
      } as SubscribeJob,
      (out) => {
        if (running === undefined && out.includes('READY\n')) {
          cpu0 = process.cpuUsage();
          running = job.run();
        }
      },
    );
    const cpuMs = cpuMsSince(cpu0!);
    await running;
    return { cpuMs, subscribers };
  } finally {
    await http.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en');
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
console.log(
  `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}, load ${load()}`,
);
console.log(
  `pipeline: generate ${fmt(records)} orders at ${fmt(rate)}/s → map (entered_at: now()) → view; ` +
    `${fmt(clients)} subscribers per run; ${runs} runs of each variant, alternated`,
);

// A warm-up of each variant, then the runs alternated so that drift in load hits all alike.
const variants: (Protocol | undefined)[] = [undefined, ...protocols];
for (const v of variants) await runOnce(v);
const results = new Map<Protocol | undefined, Run[]>(variants.map((v) => [v, []]));
for (let i = 0; i < runs; i++) for (const v of variants) results.get(v)!.push(await runOnce(v));

const baseCpu = median(results.get(undefined)!.map((r) => r.cpuMs));
console.log(
  `baseline (served, no subscriber): ${fmt(records / (baseCpu / 1000))} records per CPU-second ` +
    `(CPU ms per run: ${results
      .get(undefined)!
      .map((r) => fmt(r.cpuMs))
      .join(', ')})`,
);
const summary: { [variant: string]: unknown } = { baselineCpuMs: baseCpu };
for (const p of protocols) {
  const rs = results.get(p)!;
  const subs = rs.map((r) => r.subscribers!);
  const cpu = median(rs.map((r) => r.cpuMs));
  const deliveries = records * clients;
  const extraUs = ((cpu - baseCpu) * 1000) / deliveries;
  console.log(`${p}: ${fmt(clients)} clients × ${fmt(rate)} updates/s`);
  for (const [i, r] of rs.entries()) {
    const s = r.subscribers!;
    const lost = Object.entries(s.disconnected)
      .map(([reason, n]) => `${n} ${reason}`)
      .join(', ');
    console.log(
      `  run ${i + 1}: ${fmt(s.received)} of ${fmt(deliveries)} changes received, ${s.complete} clients complete` +
        `${lost ? ` (disconnected: ${lost})` : ''}; latency p50 ${s.p50} ms, p99 ${s.p99} ms, max ${s.max} ms; ` +
        `server CPU ${fmt(r.cpuMs)} ms, subscribers' CPU ${fmt(s.cpuMs)} ms`,
    );
  }
  console.log(
    `  median: ${fmt(records / (cpu / 1000))} records per CPU-second (baseline ${fmt(records / (baseCpu / 1000))}), ` +
      `${extraUs.toFixed(2)} µs of server CPU per delivered change above the baseline, ` +
      `p50 ${median(subs.map((s) => s.p50))} ms, p99 ${median(subs.map((s) => s.p99))} ms`,
  );
  summary[p] = {
    cpuMs: cpu,
    recordsPerCpuSecond: records / (cpu / 1000),
    extraMicrosecondsPerDelivery: extraUs,
    p50: median(subs.map((s) => s.p50)),
    p99: median(subs.map((s) => s.p99)),
    received: subs.map((s) => s.received),
  };
}
console.log(`load after: ${load()}`);
if (args.json) console.log(`RESULT ${JSON.stringify({ records, clients, rate, ...summary })}`);
