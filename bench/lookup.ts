/**
 * Lookup join benchmark (issue 12's targets: a warm cache ≥ 500,000 records per CPU-second, cold
 * against Redis ≥ 100,000): the Nexmark bids enriched with their bidder's row, a Redis hash
 * `bench-lookup:<bidder>` (`name`, `city`), through the `lookup` step into `discard`.
 *
 * - `warm` — `cache: { ttl: 1h, max_entries: 100000 }`: after each bidder's first bid every
 *   record is answered by the cache;
 * - `cold` — `cache: { ttl: 0s, miss_ttl: 0s }`: every batch asks Redis for each distinct bidder
 *   it holds (one pipelined round trip per call of `max_keys`).
 *
 * Beside each, in the same process and the same invocation, a hand-written loop over the same
 * generator doing the same enrichment: `warm` from a `Map` filled on first sight by `HGETALL`,
 * `cold` with one pipelined batch of `HGETALL`s per 1,024 bids through node-redis. Counts must
 * agree. Medians of `--runs` after a warm-up, alternating; records per CPU-second of this process
 * (Redis's own CPU is not counted, for either side). Rates are Nexmark events (all kinds; 92% are
 * bids) per CPU-second, as the other Nexmark benchmarks give them.
 *
 *   node bench/lookup.ts [--events 1000000] [--runs 5] [--json]
 */

import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import {
  builtins,
  Job,
  type NexmarkConfig,
  NexmarkGenerator,
  nexmarkConfig,
  nexmarkSettings,
  parsePipelineYaml,
  Registry,
  validateConfig,
} from '@sluice/core';
import { redis } from '@sluice/redis';
import { createClient } from 'redis';
import { type Comparison, compare, nowhere } from './measure.ts';
import { SCRATCH_DIR } from './scratch-dir.ts';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
  },
});
const EVENTS = Number(args.events);
const RUNS = Number(args.runs);
const SEED = 1;
const REDIS_URL = process.env.SLUICE_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = 'bench-lookup:';
const registry = new Registry([builtins, redis]);

const checked = validateConfig<NexmarkConfig>(nexmarkConfig, {
  events: EVENTS,
  events_per_second: 100_000,
  seed: SEED,
});
if (!checked.ok) throw new Error(`bad options: ${JSON.stringify(checked.issues)}`);
const settings = nexmarkSettings(checked.value);

const client = await createClient({ url: REDIS_URL }).connect();

/** Every bidder the generator can name gets a row (the generator's people ids are below the event count). */
async function fill(): Promise<void> {
  const people = Math.ceil(EVENTS / 50) + 1000;
  for (let from = 0; from < people; from += 5000) {
    const multi = client.multi();
    for (let id = from; id < Math.min(people, from + 5000); id++)
      multi.hSet(`${PREFIX}${id}`, { name: `person ${id}`, city: `city ${id % 97}` });
    await multi.execAsPipeline();
  }
}

type Variant = 'warm' | 'cold';

function yaml(v: Variant): string {
  const cache = v === 'warm' ? '{ ttl: 1h, max_entries: 100000 }' : '{ ttl: 0s, miss_ttl: 0s }';
  return `
name: bench-lookup-${v}
settings: { checkpoint: { interval: 0s, dir: ${SCRATCH_DIR} }, batch_size: 1024 }
sources:
  events: { type: nexmark, events: ${EVENTS}, events_per_second: 100000, seed: ${SEED} }
steps:
  - id: bids
    type: filter
    input: events
    where: event_type = 2
  - id: enriched
    type: lookup
    input: bids
    table: { type: redis, url: ${JSON.stringify(REDIS_URL)}, prefix: '${PREFIX}', mode: hash }
    key: bid.bidder
    as: p
    on_miss: 'null'
    cache: ${cache}
    fields: { auction: bids.bid.auction, price: bids.bid.price, name: p.name, city: p.city }
sinks:
  out: { type: discard }
`;
}

async function engine(v: Variant): Promise<number> {
  const plan = parsePipelineYaml(yaml(v), `${SCRATCH_DIR}/pipeline.yaml`, { registry });
  const job = await Job.create(plan, { registry, fromScratch: true, checkpointStore: nowhere });
  await job.run();
  return job.metrics().sinks.out?.written ?? 0;
}

/** Where the baseline puts each output record, so that the optimiser cannot drop making it. */
const outputs: unknown[] = [undefined];

/** The same enrichment by hand: a Map filled on first sight (warm), or a pipelined batch per 1,024 bids (cold). */
async function bare(v: Variant): Promise<number> {
  const gen = new NexmarkGenerator(settings);
  const cache = new Map<number, { [field: string]: string }>();
  let out = 0;
  let pending: { readonly auction: number; readonly price: number; readonly bidder: number }[] = [];
  const flush = async () => {
    const keys = [...new Set(pending.map((b) => b.bidder))];
    const multi = client.multi();
    for (const k of keys) multi.hGetAll(`${PREFIX}${k}`);
    const rows = (await multi.execAsPipeline()) as unknown as { [field: string]: string }[];
    const byKey = new Map(keys.map((k, i) => [k, rows[i]]));
    for (const b of pending) {
      const p = byKey.get(b.bidder);
      outputs[0] = { auction: b.auction, price: b.price, name: p?.name ?? null, city: p?.city ?? null };
      out++;
    }
    pending = [];
  };
  for (let n = 0; n < EVENTS; n++) {
    const b = gen.event(n).bid;
    if (b === null) continue;
    if (v === 'cold') {
      pending.push(b);
      if (pending.length === 1024) await flush();
      continue;
    }
    let p = cache.get(b.bidder);
    if (p === undefined) {
      p = await client.hGetAll(`${PREFIX}${b.bidder}`);
      cache.set(b.bidder, p);
    }
    outputs[0] = { auction: b.auction, price: b.price, name: p.name ?? null, city: p.city ?? null };
    out++;
  }
  if (pending.length > 0) await flush();
  return out;
}

await fill();
const results: (Comparison & { variant: Variant })[] = [];
for (const v of ['warm', 'cold'] as const) {
  results.push({
    variant: v,
    ...(await compare(
      `lookup ${v}`,
      EVENTS,
      RUNS,
      () => engine(v),
      () => bare(v),
    )),
  });
}
await client.close();

if (args.json) process.stdout.write(`${JSON.stringify(results)}\n`);
else {
  process.stdout.write(
    `lookup join, ${EVENTS} nexmark events (bids enriched), ${RUNS} runs; Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model}, load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}\n`,
  );
  for (const r of results) process.stdout.write(`${JSON.stringify(r)}\n`);
}
