/**
 * `@sluice/server`: REST point lookups per second (and their latency percentiles) against a view,
 * loaded from a second process, and the pipeline's throughput with and without the server
 * attached, in the same invocation.
 *
 *   node bench/server.ts                                   # 1,000,000 orders, 3 runs, 10 s of lookups
 *   node bench/server.ts --records 1000000 --runs 5 --seconds 20 --connections 32
 *
 * The pipeline: `generate` orders → `view` keyed by `customer_id` (8,000 keys; the lookups ask for keys the view holds). Both variants run
 * it with the view sink; "served" also attaches `serve(job)` (rate sampler, Prometheus registry,
 * HTTP listener) with no client connected, so the difference is the server's own cost. CPU is
 * counted over `job.run()` only (job creation and server start are a fixed cost).
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { builtins, Job, parsePipelineYaml, Registry } from '@sluice/core';
import { serve, server, viewTable } from '@sluice/server';
import { median, runChild } from './measure.ts';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '16' },
    child: { type: 'string' },
  },
});

interface ClientJob {
  variant: 'client';
  url: string;
  keys: string[];
  seconds: number;
  connections: number;
}
interface ClientResult {
  requests: number;
  errors: number;
  p50: number;
  p99: number;
  cpuMs: number;
}

/** The load: `connections` loops of keep-alive GETs of random existing keys for `seconds`. */
async function client(job: ClientJob): Promise<void> {
  const latencies: number[] = [];
  let errors = 0;
  const cpu0 = process.cpuUsage();
  const until = performance.now() + job.seconds * 1000;
  let seed = 12345;
  const nextKey = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return encodeURIComponent(job.keys[seed % job.keys.length]);
  };
  await Promise.all(
    Array.from({ length: job.connections }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        const res = await fetch(`${job.url}/api/views/by_customer/${nextKey()}`);
        await res.arrayBuffer();
        if (res.status !== 200) errors++;
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  const result: ClientResult = {
    requests: latencies.length,
    errors,
    p50: at(0.5),
    p99: at(0.99),
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

if (args.child !== undefined) {
  await client(JSON.parse(args.child) as ClientJob);
  process.exit(0);
}

const records = Number(args.records);
const runs = Number(args.runs);
const seconds = Number(args.seconds);
const connections = Number(args.connections);
const registry = new Registry([builtins, server]);

const pipeline = (dir: string) => `
name: bench-server
settings: { checkpoint: { interval: 5s, dir: ${JSON.stringify(dir)} } }
sources:
  orders: { type: generate, template: orders, count: ${records}, seed: 1 }
sinks:
  by_customer: { type: view, key: [customer_id] }
`;

/** One pipeline run; its CPU ms and wall ms. With `keepServing`, the server is returned open. */
async function runPipeline(served: boolean, keepServing = false) {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-server-'));
  const plan = parsePipelineYaml(pipeline(dir), join(dir, 'p.yaml'), { registry });
  const job = await Job.create(plan, { registry, fromScratch: true });
  const http = served ? await serve(job) : undefined;
  // The run only: creating the job and starting the server are a fixed cost, not throughput.
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const result = await job.run();
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - wall0;
  if (result.metrics.sinks.by_customer.written !== records)
    throw new Error('not every record reached the view');
  const close = async () => {
    await http?.close();
    await rm(dir, { recursive: true, force: true });
  };
  if (!keepServing) await close();
  return { cpuMs: (cpu.user + cpu.system) / 1000, wallMs, url: http?.url, close };
}

console.log(
  `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}, load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
console.log(
  `pipeline: generate ${records.toLocaleString('en')} orders → view by customer_id; ${runs} runs each`,
);

await runPipeline(false);
await runPipeline(true);
const plain: number[] = [];
const withServer: number[] = [];
for (let i = 0; i < runs; i++) {
  const a = await runPipeline(false);
  plain.push(records / (a.cpuMs / 1000));
  const b = await runPipeline(true);
  withServer.push(records / (b.cpuMs / 1000));
}
const fmt = (n: number) => Math.round(n).toLocaleString('en');
console.log(
  `records per CPU-second without the server: ${fmt(median(plain))} (runs: ${plain.map(fmt).join(', ')})`,
);
console.log(
  `records per CPU-second with serve(job):    ${fmt(median(withServer))} (runs: ${withServer.map(fmt).join(', ')})`,
);
console.log(`ratio served / plain: ${(median(withServer) / median(plain)).toFixed(2)}`);

const target = await runPipeline(true, true);
try {
  const keys = viewTable('bench-server', 'by_customer')!
    .scan({ limit: 1e9 })
    .rows.map((r) => r.key);
  const lookups: ClientResult[] = [];
  const serverCpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const cpu0 = process.cpuUsage();
    const r = await runChild<ClientResult>(import.meta.filename, {
      variant: 'client',
      url: target.url!,
      keys,
      seconds,
      connections,
    } as ClientJob);
    const cpu = process.cpuUsage(cpu0);
    serverCpu.push((cpu.user + cpu.system) / 1000);
    if (r.errors > 0) throw new Error(`${r.errors} lookups failed`);
    lookups.push(r);
  }
  console.log(
    `point lookups (${connections} connections, ${seconds} s, client in a second process, ${runs} runs):`,
  );
  for (const [i, r] of lookups.entries())
    console.log(
      `  run ${i + 1}: ${fmt(r.requests / seconds)} lookups/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, ` +
        `${fmt(r.requests / (serverCpu[i] / 1000))} lookups per server CPU-second`,
    );
  console.log(
    `RESULT ${JSON.stringify({
      plain: median(plain),
      served: median(withServer),
      lookupsPerSec: median(lookups.map((r) => r.requests / seconds)),
      p99: median(lookups.map((r) => r.p99)),
    })}`,
  );
} finally {
  await target.close();
}
