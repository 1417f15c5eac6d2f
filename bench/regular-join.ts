/**
 * Regular join benchmark on the `nexmark` source, engine alone: q3-like joins.
 *
 * - q3 (local item suggestion, an unbounded inner join): auctions of category 10 joined with
 *   their sellers living in OR, ID or CA — `filter` persons by state, `filter` auctions by
 *   category, `join` on `auction.seller = person.id`, the fields `name, city, state, id`.
 * - bids ⋈ auctions: every bid joined with its auction (`bid.auction = auction.id`), the same
 *   step with 94% of the events going into the join and kept in its state: what the join itself
 *   costs per record.
 *
 * Each runs through the real engine (Job: source read loop, fused operators, sink queue, no
 * checkpoints) into `discard`, beside a hand-written loop over the same generator doing the same
 * join in the same process (a Map of arrays per side, a new object per output row); the output
 * counts must agree. The final checkpoint of the job's state is encoded but stored nowhere (see
 * `nowhere`). Each is measured `--runs` times after one warm-up, alternating, and the
 * median is reported as events per CPU-second (user + system time of this process).
 *
 *   node bench/regular-join.ts [--events 2000000] [--events-per-second 100000] [--runs 5] [--only q3|bids] [--json]
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
import { type Comparison, compare, nowhere } from './measure.ts';
import { SCRATCH_DIR } from './scratch-dir.ts';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '2000000' },
    'events-per-second': { type: 'string', default: '100000' },
    runs: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});
const EVENTS = Number(args.events);
const EVENTS_PER_SECOND = Number(args['events-per-second']);
const RUNS = Number(args.runs);
const SEED = 1;
const registry = new Registry([builtins]);

const checked = validateConfig<NexmarkConfig>(nexmarkConfig, {
  events: EVENTS,
  events_per_second: EVENTS_PER_SECOND,
  seed: SEED,
});
if (!checked.ok) throw new Error(`bad options: ${JSON.stringify(checked.issues)}`);
const settings = nexmarkSettings(checked.value);

type Query = 'q3' | 'bids';

const steps: { readonly [q in Query]: string } = {
  q3: `
  - id: persons
    type: filter
    input: events
    where: event_type = 0 AND person.state IN ('OR', 'ID', 'CA')
  - id: auctions
    type: filter
    input: events
    where: event_type = 1 AND auction.category = 10
  - id: q3
    type: join
    input: [auctions, persons]
    on: auctions.auction.seller = persons.person.id
    fields:
      name: persons.person.name
      city: persons.person.city
      state: persons.person.state
      id: auctions.auction.id`,
  bids: `
  - id: bids
    type: filter
    input: events
    where: event_type = 2
  - id: auctions
    type: filter
    input: events
    where: event_type = 1
  - id: joined
    type: join
    input: [bids, auctions]
    on: bids.bid.auction = auctions.auction.id
    fields:
      auction: bids.bid.auction
      price: bids.bid.price
      seller: auctions.auction.seller
      category: auctions.auction.category`,
};

function yaml(q: Query): string {
  return `
name: bench-regular-join-${q}
settings: { checkpoint: { interval: 0s, dir: ${SCRATCH_DIR} }, batch_size: 1024 }
sources:
  events:
    type: nexmark
    events: ${EVENTS}
    events_per_second: ${EVENTS_PER_SECOND}
    seed: ${SEED}
steps:${steps[q]}
sinks:
  out: { type: discard }
`;
}

/** Records that entered the join in the last engine run. */
let joinInput = 0;

async function engine(q: Query): Promise<number> {
  const plan = parsePipelineYaml(yaml(q), `${SCRATCH_DIR}/pipeline.yaml`, { registry });
  const job = await Job.create(plan, { registry, fromScratch: true, checkpointStore: nowhere });
  const result = await job.run();
  joinInput = result.metrics.steps[q === 'q3' ? 'q3' : 'joined'].in;
  return result.metrics.sinks.out.written;
}

/** Where the baseline puts each output record, so that the optimiser cannot drop making it. */
const outputs: unknown[] = [undefined];

/** Adds `row` to `map`'s list under `key`. */
function keep<T>(map: Map<number, T[]>, key: number, row: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [row]);
  else list.push(row);
}

/** The same join by hand: each side's rows per key, each arrival joined with the other side's. */
function baseline(q: Query): number {
  const generator = new NexmarkGenerator(settings);
  let output = 0;
  if (q === 'q3') {
    const persons = new Map<number, { name: string; city: string; state: string }[]>();
    const auctions = new Map<number, { id: number }[]>();
    for (let n = 0; n < EVENTS; n++) {
      const event = generator.event(n);
      const person = event.person;
      const auction = event.auction;
      if (person !== null) {
        const s = person.state;
        if (s !== 'OR' && s !== 'ID' && s !== 'CA') continue;
        keep(persons, person.id, person);
        const matches = auctions.get(person.id);
        if (matches === undefined) continue;
        for (const a of matches) {
          outputs[0] = { name: person.name, city: person.city, state: person.state, id: a.id };
          output++;
        }
      } else if (auction !== null && auction.category === 10) {
        keep(auctions, auction.seller, auction);
        const matches = persons.get(auction.seller);
        if (matches === undefined) continue;
        for (const p of matches) {
          outputs[0] = { name: p.name, city: p.city, state: p.state, id: auction.id };
          output++;
        }
      }
    }
    return output;
  }
  const bids = new Map<number, { auction: number; price: number }[]>();
  const auctions = new Map<number, { seller: number; category: number }[]>();
  for (let n = 0; n < EVENTS; n++) {
    const event = generator.event(n);
    const bid = event.bid;
    const auction = event.auction;
    if (bid !== null) {
      keep(bids, bid.auction, bid);
      const matches = auctions.get(bid.auction);
      if (matches === undefined) continue;
      for (const a of matches) {
        outputs[0] = { auction: bid.auction, price: bid.price, seller: a.seller, category: a.category };
        output++;
      }
    } else if (auction !== null) {
      keep(auctions, auction.id, auction);
      const matches = bids.get(auction.id);
      if (matches === undefined) continue;
      for (const b of matches) {
        outputs[0] = {
          auction: b.auction,
          price: b.price,
          seller: auction.seller,
          category: auction.category,
        };
        output++;
      }
    }
  }
  return output;
}

interface Result extends Comparison {
  query: string;
  joinInput: number;
}

async function query(q: Query): Promise<Result> {
  const c = await compare(
    q,
    EVENTS,
    RUNS,
    () => engine(q),
    () => baseline(q),
  );
  return { query: q, ...c, joinInput };
}

const load = [loadavg()[0]];
const results: Result[] = [];
for (const q of ['q3', 'bids'] as const) {
  if (args.only === undefined || args.only === q) results.push(await query(q));
}
load.push(loadavg()[0]);

const env = {
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  events: EVENTS,
  events_per_second: EVENTS_PER_SECOND,
  source: 'in-process generator (nexmark source), 1 partition',
  runs: RUNS,
  load_average: load,
};
if (args.json) {
  process.stdout.write(`${JSON.stringify({ env, results }, null, 2)}\n`);
} else {
  const k = (n: number) => `${(n / 1000).toFixed(0)}k`;
  process.stdout.write(
    `Sluice regular join benchmark — Node ${env.node}, ${env.cpu} (${env.cores} cores), ${EVENTS} events, ` +
      `${EVENTS_PER_SECOND} events/s of event time, median of ${RUNS} runs, load ${load.map((l) => l.toFixed(1)).join(' → ')}\n\n`,
  );
  process.stdout.write(
    '| query | Sluice events/CPU-s | baseline loop events/CPU-s | Sluice / baseline | Sluice events/s (wall) | records into the join | rows out |\n',
  );
  process.stdout.write('|---|---|---|---|---|---|---|\n');
  for (const r of results) {
    process.stdout.write(
      `| ${r.query} | ${k(r.engineRate)} | ${k(r.baselineRate)} | ${r.ratio.toFixed(2)} | ${k(r.engineWallRate)} | ${r.joinInput} | ${r.output} |\n`,
    );
  }
}
