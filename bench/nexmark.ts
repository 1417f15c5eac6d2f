/**
 * Nexmark benchmark, engine alone: q0-like and q2-like pipelines on the `nexmark` source.
 *
 * - q0 (pass-through): `SELECT auction, bidder, price, dateTime, extra FROM bid` — a filter on
 *   `event_type = 2` and a map projecting the bid's fields;
 * - q2 (selection): `SELECT auction, price FROM bid WHERE auction % 123 = 0`;
 * - q5count, q5's first stage: bids per auction in hopping windows of 10 s every 2 s;
 * - q5 (hot items): the same counts, then each window's highest count (a 2 s tumbling window over
 *   the counts, which holds exactly one hopping window's results, since each carries
 *   `window_end − 1` as its event time), then a window join of the counts with those maxima on
 *   `window_end` and `bids = maxbids`: every auction with the window's highest count (all of
 *   them on a tie, as Flink's q5 SQL gives);
 * - q7 (highest bid): the highest price of each 10 s tumbling window, then an interval join of
 *   the bids with those maxima to find the bids that carry them (Flink's q7 joins on price with
 *   `B.dateTime BETWEEN B1.dateTime - INTERVAL '10' SECOND AND B1.dateTime`);
 * - q8 (monitor new users): a window join of the persons and the auctions of each 10 s tumbling
 *   window on `person.id = auction.seller` (Flink's q8 first groups each side by id / seller and
 *   window; here each (person, auction) pair is a result).
 *
 * Each runs through the real engine (Job: source read loop, fused operators, sink queue, no
 * checkpoints) into `discard`, beside a hand-written loop over the same generator doing the same
 * work in the same process — the baseline. Before timing q5count and q5, one run of each side
 * collects its records, and the two must be equal as multisets (the other queries compare output
 * counts). With `--api ts`, q0, q2, q5count, q5 and q8 are built with the TypeScript API instead, their filters, projections and keys written as TypeScript functions
 * (`filter_fn`, `map_fn`, `key_by_fn`) where the YAML has SQL expressions. A third row, the generator alone, shows what making
 * the events costs. Each is measured `--runs` times (default 5, after one warm-up), alternating,
 * and the median is reported as events per CPU-second (user + system time of this process), as
 * the engine/baseline ratio, and as events per second of wall-clock time.
 *
 *   npm run bench:nexmark -- [--events 2000000] [--events-per-second 100000] [--runs 5] [--only q0|q2|q5count|q5|q7|q8] [--api yaml|ts] [--json]
 */

import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import {
  builtins,
  count,
  discard,
  hopping,
  Job,
  max,
  type NexmarkConfig,
  type NexmarkEvent,
  NexmarkGenerator,
  nexmark,
  nexmarkConfig,
  nexmarkSettings,
  type Plan,
  parsePipelineYaml,
  pipeline,
  Registry,
  type Row,
  type SinkDefinition,
  tumbling,
  validateConfig,
} from '@sluice/core';
import { memorySinkStore, rowText, testing } from '@sluice/core/testing';
import { type Comparison, compare, type Measurement, measure, median } from './measure.ts';
import {
  Q5_SIZE,
  Q5_SLIDE,
  type NexmarkQuery as Query,
  nexmarkSteps as steps,
  WINDOW,
} from './nexmark-queries.ts';
import { SCRATCH_DIR } from './scratch-dir.ts';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '2000000' },
    'events-per-second': { type: 'string', default: '100000' },
    runs: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
    only: { type: 'string' },
    api: { type: 'string', default: 'yaml' },
  },
});
if (args.api !== 'yaml' && args.api !== 'ts') throw new Error(`--api is yaml or ts, not ${args.api}`);
const EVENTS = Number(args.events);
const EVENTS_PER_SECOND = Number(args['events-per-second']);
const RUNS = Number(args.runs);
const SEED = 1;
const registry = new Registry([builtins, testing]);

const checked = validateConfig<NexmarkConfig>(nexmarkConfig, {
  events: EVENTS,
  events_per_second: EVENTS_PER_SECOND,
  seed: SEED,
});
if (!checked.ok) throw new Error(`bad options: ${JSON.stringify(checked.issues)}`);
const settings = nexmarkSettings(checked.value);

function yaml(q: Query, out: SinkDefinition): string {
  return `
name: bench-nexmark-${q}
settings: { checkpoint: { interval: 0s, dir: ${SCRATCH_DIR} }, batch_size: 1024 }
sources:
  events:
    type: nexmark
    events: ${EVENTS}
    events_per_second: ${EVENTS_PER_SECOND}
    seed: ${SEED}
steps:${steps[q]}
sinks:
  out: ${JSON.stringify({ type: out.type, ...(out.config as object) })}
`;
}

/**
 * q0, q2, q5count, q5 and q8 in the TypeScript API, with functions where the YAML has
 * expressions; `out` is the sink (discard, or a memory store to check the results).
 */
function typescript(q: Query, out: SinkDefinition): { plan: Plan; functions: ReadonlyMap<string, unknown> } {
  const p = pipeline(`bench-nexmark-ts-${q}`, {
    checkpoint: { interval: '0s', dir: SCRATCH_DIR },
    batchSize: 1024,
  });
  const events = p.from(
    'events',
    nexmark<NexmarkEvent>({ events: EVENTS, events_per_second: EVENTS_PER_SECOND, seed: SEED }),
  );
  switch (q) {
    case 'q0':
      events
        .filter('bids', (e) => e.event_type === 2)
        .map('q0', (e) => {
          const b = e.bid!;
          return {
            auction: b.auction,
            bidder: b.bidder,
            price: b.price,
            dateTime: b.dateTime,
            extra: b.extra,
          };
        })
        .to('out', out);
      break;
    case 'q2':
      events
        .filter('bids', (e) => e.event_type === 2 && e.bid!.auction % 123 === 0)
        .map('q2', (e) => ({ auction: e.bid!.auction, price: e.bid!.price }))
        .to('out', out);
      break;
    case 'q5count':
      events
        .filter('bids', (e) => e.event_type === 2)
        .map('auction', (e) => ({ auction: e.bid!.auction }))
        .keyBy('by-auction', (b) => b.auction)
        .window(hopping(`${Q5_SIZE}ms`, `${Q5_SLIDE}ms`))
        .aggregate('q5count', { bids: count() })
        .to('out', out);
      break;
    case 'q5': {
      const counts = events
        .filter('bids', (e) => e.event_type === 2)
        .map('auction', (e) => ({ auction: e.bid!.auction }))
        .keyBy('by-auction', (b) => b.auction)
        .window(hopping(`${Q5_SIZE}ms`, `${Q5_SLIDE}ms`))
        .aggregate('counts', { bids: count() });
      const maxima = counts
        .keyBy('by-window', (c) => c.window_end)
        .window(tumbling(`${Q5_SLIDE}ms`))
        .aggregate('maxima', { maxbids: max('bids') });
      counts
        .join('q5', maxima, {
          on: 'counts.window_end = maxima.window_end AND counts.bids = maxima.maxbids',
          window: tumbling(`${Q5_SLIDE}ms`),
          fields: {
            auction: 'counts.key',
            bids: 'counts.bids',
            window_start: 'counts.window_start',
            window_end: 'counts.window_end',
          },
        })
        .to('out', out);
      break;
    }
    case 'q8': {
      const persons = events.filter('persons', (e) => e.event_type === 0);
      const auctions = events.filter('auctions', (e) => e.event_type === 1);
      persons
        .join('q8', auctions, {
          on: 'persons.person.id = auctions.auction.seller',
          window: tumbling(`${WINDOW}ms`),
          fields: { id: 'persons.person.id', name: 'persons.person.name', starttime: 'window_start' },
        })
        .to('out', out);
      break;
    }
    default:
      throw new Error(`${q} has no TypeScript variant`);
  }
  return p.build(SCRATCH_DIR);
}

/**
 * Runs query `q` through the engine into `discard`, or, given `store`, into that memory sink
 * store (to read its records). Returns the number of records written.
 */
async function engine(q: Query, store?: string): Promise<number> {
  const sink: SinkDefinition = store === undefined ? discard({}) : { type: 'memory', config: { store } };
  const { plan, functions } =
    args.api === 'ts'
      ? typescript(q, sink)
      : {
          plan: parsePipelineYaml(yaml(q, sink), `${SCRATCH_DIR}/pipeline.yaml`, { registry }),
          functions: new Map(),
        };
  const job = await Job.create(plan, { registry, functions, fromScratch: true });
  const result = await job.run();
  return result.metrics.sinks.out.written;
}

/** Where the baseline puts each output record, so that the optimiser cannot drop making it. */
const outputs: unknown[] = [undefined];

/**
 * q5's windows by hand: bids per auction in every 10 s window starting each 2 s, a window handed
 * to `fire` (which returns how many records it output) once the event time passes its end, as the
 * engine's watermark does with no out-of-orderness.
 */
function hoppingCounts(fire: (end: number, counts: Map<number, number>) => number): number {
  const generator = new NexmarkGenerator(settings);
  const windows = new Map<number, Map<number, number>>();
  let output = 0;
  const fireUpTo = (time: number) => {
    for (const [end, counts] of windows) {
      if (end > time) continue;
      output += fire(end, counts);
      windows.delete(end);
    }
  };
  let fired = Number.NEGATIVE_INFINITY;
  for (let n = 0; n < EVENTS; n++) {
    const event = generator.event(n);
    const bid = event.bid;
    if (event.event_type !== 2 || bid === null) continue;
    const time = generator.time;
    const auction = bid.auction;
    const lastStart = Math.floor(time / Q5_SLIDE) * Q5_SLIDE;
    for (let start = lastStart; start > time - Q5_SIZE; start -= Q5_SLIDE) {
      const end = start + Q5_SIZE;
      let counts = windows.get(end);
      if (counts === undefined) {
        counts = new Map();
        windows.set(end, counts);
      }
      counts.set(auction, (counts.get(auction) ?? 0) + 1);
    }
    if ((n & 1023) === 1023 && time > fired) {
      fired = time;
      fireUpTo(time);
    }
  }
  fireUpTo(Number.POSITIVE_INFINITY);
  return output;
}

/** q5's counting stage by hand: one record per auction and window. Given `rows`, keeps them there. */
function q5countBaseline(rows?: Row[]): number {
  return hoppingCounts((end, counts) => {
    for (const [auction, bids] of counts) {
      const row = { auction, window_start: end - Q5_SIZE, window_end: end, bids };
      outputs[0] = row;
      rows?.push(row);
    }
    return counts.size;
  });
}

/**
 * q5 by hand: when a window fires, its highest count, then every auction with that count (all
 * of them on a tie). Given `rows`, keeps them there.
 */
function q5Baseline(rows?: Row[]): number {
  return hoppingCounts((end, counts) => {
    let max = 0;
    for (const bids of counts.values()) if (bids > max) max = bids;
    let output = 0;
    for (const [auction, bids] of counts) {
      if (bids !== max) continue;
      const row = { auction, bids, window_start: end - Q5_SIZE, window_end: end };
      outputs[0] = row;
      rows?.push(row);
      output++;
    }
    return output;
  });
}

/**
 * q7 by hand: each tumbling window's bids and highest price; when the event time passes a
 * window's end, the bids of that window at that price.
 */
function q7Baseline(): number {
  const generator = new NexmarkGenerator(settings);
  const windows = new Map<
    number,
    { max: number; bids: { auction: number; price: number; bidder: number; dateTime: number }[] }
  >();
  let output = 0;
  const fire = (time: number) => {
    for (const [end, w] of windows) {
      if (end > time) continue;
      for (const b of w.bids) {
        if (b.price !== w.max) continue;
        outputs[0] = { auction: b.auction, price: b.price, bidder: b.bidder, dateTime: b.dateTime };
        output++;
      }
      windows.delete(end);
    }
  };
  let fired = Number.NEGATIVE_INFINITY;
  for (let n = 0; n < EVENTS; n++) {
    const event = generator.event(n);
    const bid = event.bid;
    if (event.event_type !== 2 || bid === null) continue;
    const time = generator.time;
    const end = time - (time % WINDOW) + WINDOW;
    let w = windows.get(end);
    if (w === undefined) {
      w = { max: Number.NEGATIVE_INFINITY, bids: [] };
      windows.set(end, w);
    }
    if (bid.price > w.max) w.max = bid.price;
    w.bids.push(bid);
    if ((n & 1023) === 1023 && time > fired) {
      fired = time;
      fire(time);
    }
  }
  fire(Number.POSITIVE_INFINITY);
  return output;
}

/** q8 by hand: each tumbling window's persons and auctions by seller, paired when it ends. */
function q8Baseline(): number {
  const generator = new NexmarkGenerator(settings);
  const windows = new Map<
    number,
    { persons: { id: number; name: string }[]; sellers: Map<number, number> }
  >();
  let output = 0;
  const fire = (time: number) => {
    for (const [end, w] of windows) {
      if (end > time) continue;
      for (const p of w.persons) {
        const auctions = w.sellers.get(p.id) ?? 0;
        for (let a = 0; a < auctions; a++) {
          outputs[0] = { id: p.id, name: p.name, starttime: end - WINDOW };
          output++;
        }
      }
      windows.delete(end);
    }
  };
  let fired = Number.NEGATIVE_INFINITY;
  for (let n = 0; n < EVENTS; n++) {
    const event = generator.event(n);
    if (event.event_type === 2) continue;
    const time = generator.time;
    const end = time - (time % WINDOW) + WINDOW;
    let w = windows.get(end);
    if (w === undefined) {
      w = { persons: [], sellers: new Map() };
      windows.set(end, w);
    }
    if (event.person !== null) w.persons.push(event.person);
    else if (event.auction !== null)
      w.sellers.set(event.auction.seller, (w.sellers.get(event.auction.seller) ?? 0) + 1);
    if ((n & 1023) === 1023 && time > fired) {
      fired = time;
      fire(time);
    }
  }
  fire(Number.POSITIVE_INFINITY);
  return output;
}

/** The same work as a plain loop over the same generator. */
function baseline(q: Query | 'generator'): number {
  if (q === 'q5count') return q5countBaseline();
  if (q === 'q5') return q5Baseline();
  if (q === 'q7') return q7Baseline();
  if (q === 'q8') return q8Baseline();
  const generator = new NexmarkGenerator(settings);
  let output = 0;
  for (let n = 0; n < EVENTS; n++) {
    const event = generator.event(n);
    if (q === 'generator') {
      outputs[0] = event;
      output++;
      continue;
    }
    const bid = event.bid;
    if (event.event_type !== 2 || bid === null) continue;
    if (q === 'q0') {
      outputs[0] = {
        auction: bid.auction,
        bidder: bid.bidder,
        price: bid.price,
        dateTime: bid.dateTime,
        extra: bid.extra,
      };
      output++;
    } else if (bid.auction % 123 === 0) {
      outputs[0] = { auction: bid.auction, price: bid.price };
      output++;
    }
  }
  return output;
}

interface Result extends Comparison {
  query: string;
}

/**
 * Runs the engine once into a memory store and the baseline once collecting its rows, and throws
 * unless they output the same records (as multisets): the timing compares equal work.
 */
async function checkSameResults(q: 'q5count' | 'q5'): Promise<void> {
  const store = `bench-nexmark-${q}-check`;
  memorySinkStore(store).written = [];
  await engine(q, store);
  const engineRows = memorySinkStore(store).written.map(({ record }) => record);
  const baselineRows: Row[] = [];
  if (q === 'q5') q5Baseline(baselineRows);
  else q5countBaseline(baselineRows);
  // The TypeScript API's windowed aggregate names its key `key` (the `keyBy` function's value).
  const text = (rows: readonly Row[]) =>
    rows
      .map(({ key, ...r }) => (key === undefined || 'auction' in r ? r : { auction: key, ...r }))
      .map(rowText)
      .sort();
  const e = text(engineRows);
  const b = text(baselineRows);
  memorySinkStore(store).written = [];
  if (e.length !== b.length || e.some((row, i) => row !== b[i]))
    throw new Error(`${q}: the engine's ${e.length} records differ from the baseline loop's ${b.length}`);
}

async function query(q: Query): Promise<Result> {
  if (q === 'q5' || q === 'q5count') await checkSameResults(q);
  const c = await compare(
    q,
    EVENTS,
    RUNS,
    () => engine(q),
    () => baseline(q),
  );
  return { query: q, ...c };
}

const load = [loadavg()[0]];
const results: Result[] = [];
const queries =
  args.api === 'ts'
    ? (['q0', 'q2', 'q5count', 'q5', 'q8'] as const)
    : (['q0', 'q2', 'q5count', 'q5', 'q7', 'q8'] as const);
for (const q of queries) {
  if (args.only === undefined || args.only === q) results.push(await query(q));
}
baseline('generator');
const generatorRuns: Measurement[] = [];
for (let i = 0; i < RUNS; i++) generatorRuns.push(await measure(() => baseline('generator')));
const generatorRate = median(generatorRuns.map((m) => EVENTS / (m.cpuMs / 1000)));
load.push(loadavg()[0]);

const env = {
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  events: EVENTS,
  events_per_second: EVENTS_PER_SECOND,
  source: 'in-process generator (nexmark source), 1 partition',
  api: args.api,
  runs: RUNS,
  load_average: load,
};
if (args.json) {
  process.stdout.write(`${JSON.stringify({ env, results, generatorRate }, null, 2)}\n`);
} else {
  const k = (n: number) => `${(n / 1000).toFixed(0)}k`;
  process.stdout.write(
    `Sluice Nexmark benchmark (${args.api === 'ts' ? 'TypeScript API' : 'YAML'}) — Node ${env.node}, ${env.cpu} (${env.cores} cores), ${EVENTS} events, ` +
      `${EVENTS_PER_SECOND} events/s of event time, median of ${RUNS} runs, load ${load.map((l) => l.toFixed(1)).join(' → ')}\n\n`,
  );
  process.stdout.write(
    '| query | Sluice events/CPU-s | baseline loop events/CPU-s | Sluice / baseline | Sluice events/s (wall) | records out |\n',
  );
  process.stdout.write('|---|---|---|---|---|---|\n');
  for (const r of results) {
    process.stdout.write(
      `| ${r.query} | ${k(r.engineRate)} | ${k(r.baselineRate)} | ${r.ratio.toFixed(2)} | ${k(r.engineWallRate)} | ${r.output} |\n`,
    );
  }
  process.stdout.write(`| generator alone | | ${k(generatorRate)} | | | ${EVENTS} |\n`);
}
