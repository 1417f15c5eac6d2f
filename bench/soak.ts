/**
 * Soak benchmark: one long run of a realistic pipeline, sampling memory every 10 s, to show that
 * memory stays flat (or to find what grows).
 *
 * generate (orders, 100,000 keys, a few malformed and late records) → validate → map → aggregate
 * per key over one-minute tumbling windows (count, sum, avg, max, p95) → file sink, with dead
 * letters and late records in files and a checkpoint every 10 s. Event time advances 2 µs per
 * record, so one window holds 30 M records of 100 k keys — about what 500,000 records per second
 * of real time give.
 *
 *   npm run bench:soak -- [--minutes 30] [--sample 10] [--keys 100000] [--time-step 0.002ms]
 *                         [--rate 500000] [--json]
 *   npm run bench:soak -- --pipeline interval-join|pattern [--events 20000000] [--gc]
 *
 * `--pipeline interval-join` and `--pipeline pattern` run the stateful operators whose memory
 * must stay flat over an unbounded input on the `nexmark` source (100,000 events per second of
 * event time), to `--events` and then the end of input: every bid joined with the auction it bids
 * on when that auction was created at most 10 s earlier (a left interval join), and per bidder
 * three bids in a row of rising price within 10 s (a three-stage pattern).
 *
 * On a slower machine a larger `--time-step` keeps windows closing every minute or so of real
 * time (0.02ms: one window per 3 M records).
 *
 * Prints the samples (RSS, V8 heap used, records in) and the growth over the run: the slope of a
 * least-squares line through the RSS samples after a warm-up, in MB per minute. With
 * `node --expose-gc bench/soak.ts --gc`, each sample first runs a full garbage collection, so the
 * heap figure is live data only: the way to tell a leak from a high-water mark.
 */

import { mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { builtins, Job, parsePipelineYaml, Registry } from '@sluice/core';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    sample: { type: 'string', default: '10' },
    keys: { type: 'string', default: '100000' },
    rate: { type: 'string' },
    'time-step': { type: 'string', default: '0.002ms' },
    json: { type: 'boolean', default: false },
    gc: { type: 'boolean', default: false },
    pipeline: { type: 'string', default: 'orders' },
    events: { type: 'string', default: '20000000' },
  },
});
const MINUTES = Number(args.minutes);
const SAMPLE_S = Number(args.sample);
const KEYS = Number(args.keys);

const dir = join(tmpdir(), `sluice-soak-${process.pid}`);
await mkdir(dir, { recursive: true });
await writeFile(
  join(dir, 'order.schema.json'),
  JSON.stringify({
    type: 'object',
    required: ['order_id', 'ts', 'region', 'amount', 'items'],
    properties: {
      order_id: { type: 'string' },
      ts: { type: 'number' },
      region: { type: 'string' },
      amount: { type: 'number', minimum: 0 },
      items: { type: 'integer', minimum: 1 },
    },
  }),
);
const nexmark = `
sources:
  events: { type: nexmark, events: ${Number(args.events)}, events_per_second: 100000, seed: 7 }
sinks:
  results: { type: discard, input: soaked }
`;
const pipelines: { readonly [name: string]: string } = {
  'interval-join': `
name: soak-interval-join
settings: { checkpoint: { interval: 10s, dir: ./ckpt } }
steps:
  - { id: bids, type: filter, input: events, where: event_type = 2 }
  - { id: auctions, type: filter, input: events, where: event_type = 1 }
  - id: soaked
    type: join
    input: [bids, auctions]
    kind: left
    on: bids.bid.auction = auctions.auction.id
    between: [-10s, 0s]
    fields: { auction: bids.bid.auction, price: bids.bid.price, seller: auctions.auction.seller }
${nexmark}`,
  pattern: `
name: soak-pattern
settings: { checkpoint: { interval: 10s, dir: ./ckpt } }
steps:
  - { id: bids, type: filter, input: events, where: event_type = 2 }
  - { id: prices, type: map, select: [], fields: { bidder: bid.bidder, price: bid.price } }
  - id: soaked
    type: pattern
    key: [bidder]
    within: 10s
    stages:
      - { name: A, where: "true" }
      - { name: B, where: price > A.price }
      - { name: C, where: price > B.price }
    measures: { first: first(A.price), last: last(C.price) }
${nexmark}`,
};

const yaml =
  pipelines[args.pipeline] ??
  `
name: soak
settings: { checkpoint: { interval: 10s, dir: ./ckpt } }
sources:
  orders:
    type: generate
    template: orders
    keys: ${KEYS}
    seed: 3
    time_step: ${args['time-step']}
    malformed: 0.0005
    late: 0.0005
    late_by: 3m
    out_of_order: 0.1
    jitter: 2s${args.rate === undefined ? '' : `\n    rate: ${Number(args.rate)}`}
    event_time: { field: ts, max_out_of_orderness: 5s }
steps:
  - { id: valid, type: validate, schema: ./order.schema.json }
  - { id: normalized, type: map, fields: { amount_usd: 'round(amount * 1.1, 2)' } }
  - id: per-key
    type: aggregate
    key: [region]
    window: { type: tumbling, size: 1m }
    fields:
      orders: count(*)
      revenue: sum(amount_usd)
      avg_amount: avg(amount_usd)
      max_amount: max(amount_usd)
      p95: percentile(amount_usd, 0.95)
sinks:
  results: { type: file, path: ./out/results.jsonl, roll: { max_bytes: 67108864 } }
dead_letter: { type: file, path: ./out/dead.jsonl }
late_output: { type: file, path: ./out/late.jsonl }
`;

const registry = new Registry([builtins]);
const plan = parsePipelineYaml(yaml, join(dir, 'pipeline.yaml'), { registry });
const abort = new AbortController();
const job = await Job.create(plan, { registry, fromScratch: true, signal: abort.signal });

interface Sample {
  seconds: number;
  rssMb: number;
  heapMb: number;
  recordsIn: number;
}
const samples: Sample[] = [];
const started = performance.now();
/** With `--gc` (and node --expose-gc), heap is measured after a full collection: live data only. */
const collect = args.gc ? (globalThis as { gc?: () => void }).gc : undefined;
if (args.gc && !collect) throw new Error('--gc needs node --expose-gc');
const sample = () => {
  collect?.();
  const m = process.memoryUsage();
  const s: Sample = {
    seconds: Math.round((performance.now() - started) / 1000),
    rssMb: m.rss / 2 ** 20,
    heapMb: m.heapUsed / 2 ** 20,
    recordsIn: job.metrics().recordsIn,
  };
  samples.push(s);
  if (!args.json) {
    console.log(
      `${String(s.seconds).padStart(5)} s  rss ${s.rssMb.toFixed(0).padStart(5)} MB  heap ${s.heapMb
        .toFixed(0)
        .padStart(5)} MB  records ${s.recordsIn.toLocaleString('en-US')}`,
    );
  }
};
const cpu0 = process.cpuUsage();
const timer = setInterval(sample, SAMPLE_S * 1000);
const stopAt = setTimeout(() => abort.abort(), args.pipeline === 'orders' ? MINUTES * 60_000 : 2 ** 31 - 1);
sample();
const result = await job.run();
clearInterval(timer);
clearTimeout(stopAt);
sample();
const cpu = process.cpuUsage(cpu0);

/** Least-squares slope of rss over time, in MB per minute, over the samples from `from` s on. */
function slope(from: number): number {
  const xs = samples.filter((s) => s.seconds >= from);
  const n = xs.length;
  if (n < 2) return Number.NaN;
  const mx = xs.reduce((a, s) => a + s.seconds, 0) / n;
  const my = xs.reduce((a, s) => a + s.rssMb, 0) / n;
  let num = 0;
  let den = 0;
  for (const s of xs) {
    num += (s.seconds - mx) * (s.rssMb - my);
    den += (s.seconds - mx) ** 2;
  }
  return (num / den) * 60;
}

const total = result.metrics.recordsIn;
const wallS = (performance.now() - started) / 1000;
// The orders soak warms up for up to 5 minutes; the bounded nexmark runs for their first third.
const warm = args.pipeline === 'orders' ? Math.min(300, (MINUTES * 60) / 3) : wallS / 3;
const summary = {
  pipeline: args.pipeline,
  machine: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}`,
  node: process.versions.node,
  ...(args.pipeline === 'orders' ? { minutes: MINUTES, keys: KEYS } : {}),
  records: total,
  recordsPerSecond: Math.round(total / wallS),
  recordsPerCpuSecond: Math.round(total / ((cpu.user + cpu.system) / 1e6)),
  rssFirstMb: Math.round(samples[0].rssMb),
  rssAfterWarmupMb: Math.round(samples.find((s) => s.seconds >= warm)?.rssMb ?? Number.NaN),
  rssLastMb: Math.round(samples[samples.length - 1].rssMb),
  rssMaxMb: Math.round(Math.max(...samples.map((s) => s.rssMb))),
  slopeAfterWarmupMbPerMinute: Number(slope(warm).toFixed(2)),
  heapSlopeAfterWarmupMbPerMinute: Number(
    (() => {
      const xs = samples.filter((s) => s.seconds >= warm);
      const first = xs[0];
      const last = xs[xs.length - 1];
      return first && last && last.seconds > first.seconds
        ? ((last.heapMb - first.heapMb) / (last.seconds - first.seconds)) * 60
        : Number.NaN;
    })().toFixed(2),
  ),
  deadLetters: result.metrics.deadLetters,
  late: result.metrics.late,
};
if (args.json) console.log(JSON.stringify({ summary, samples }));
else console.log(JSON.stringify(summary, null, 2));
await rm(dir, { recursive: true, force: true });
