/**
 * The `nexmark` source in a job: a q2-like selection written in YAML gives exactly the bids a
 * loop over the generator selects; Nexmark q5 (hot items: each hopping window's auctions with the
 * most bids, ties included), built from a window aggregate, a second window aggregate over its
 * results and a window join, gives what a computation over the generated bids gives, for batch
 * sizes 1, 7 and 1024; and a job stopped mid-stream and restored from its checkpoint ends with the
 * same output as one that ran through.
 */

import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { NexmarkGenerator } from '../connectors/nexmark-generator.ts';
import type { Row } from '../record.ts';
import { memorySinkStore } from '../testing/index.ts';
import {
  assertAccounting,
  canonical,
  Harness,
  planFrom,
  testRegistry,
  waitFor,
} from './engine-test-support.ts';
import { Job } from './job.ts';

const harness = new Harness();
afterEach(() => harness.stopAll());
const registry = testRegistry();
const EVENTS = 60_000;

function pipeline(name: string, dir: string, source: string): string {
  return `
name: ${name}
settings:
  checkpoint: { interval: 50ms, dir: ${dir}/checkpoints }
sources:
  nx:
    ${source}
steps:
  - id: q2
    type: filter
    where: event_type = 2 AND bid.auction % 123 = 0
  - id: project
    type: map
    select: []
    fields:
      auction: bid.auction
      price: bid.price
sinks:
  out: { type: memory, store: ${name}-out }
`;
}

/** q2 computed by hand over the same events. */
function expectedQ2(): Row[] {
  const generator = new NexmarkGenerator({
    seed: 42,
    baseTime: Date.UTC(2026, 0, 1),
    eventsPerSecond: 100_000,
  });
  const out: Row[] = [];
  for (let n = 0; n < EVENTS; n++) {
    const bid = generator.event(n).bid;
    if (bid !== null && bid.auction % 123 === 0) out.push({ auction: bid.auction, price: bid.price });
  }
  return out;
}

test('a q2-like selection over the nexmark source gives the bids the generator gives', async () => {
  const dir = await harness.dir();
  const yaml = pipeline('nexmark-q2', dir, `type: nexmark\n    events: ${EVENTS}`);
  const job = await Job.create(planFrom(yaml, dir, registry), { registry, fromScratch: true });
  const result = await harness.run(job);
  assert.equal(result.status, 'completed');
  const expected = expectedQ2();
  assert.ok(expected.length > 100, `${expected.length} bids selected`);
  assert.deepEqual(memorySinkStore('nexmark-q2-out').records, expected);
  assert.equal(result.metrics.recordsIn, EVENTS);
});

/** q5's hopping window: 10 s long, a new one every 2 s (the reference configuration). */
const Q5_SIZE = 10_000;
const Q5_SLIDE = 2_000;
/**
 * Events for q5, 100 per second of event time (~920 bids per window, 204 windows), so that a batch of 1,024
 * events spans five slides (several windows fire within one batch) and one window ties.
 */
const Q5_EVENTS = 40_000;
const Q5_DENSITY = 100;

const q5Pipeline = (name: string, dir: string, batch: number) => `
name: ${name}
settings:
  checkpoint: { interval: 0s, dir: ${dir}/checkpoints }
  batch_size: ${batch}
sources:
  nx: { type: nexmark, events: ${Q5_EVENTS}, events_per_second: ${Q5_DENSITY}, seed: 1 }
steps:
  - { id: bids, type: filter, where: event_type = 2 }
  - { id: auction, type: map, select: [], fields: { auction: bid.auction } }
  - id: counts
    type: aggregate
    key: [auction]
    window: { type: hopping, size: ${Q5_SIZE}ms, slide: ${Q5_SLIDE}ms }
    fields: { bids: count(*) }
  - id: maxima
    type: aggregate
    input: counts
    window: { type: tumbling, size: ${Q5_SLIDE}ms }
    fields: { maxbids: max(bids) }
  - id: q5
    type: join
    input: [counts, maxima]
    on: counts.window_end = maxima.window_end AND counts.bids = maxima.maxbids
    window: { type: tumbling, size: ${Q5_SLIDE}ms }
    fields:
      auction: counts.auction
      bids: counts.bids
      window_start: counts.window_start
      window_end: counts.window_end
sinks:
  out: { type: memory, store: ${name}-out }
late_output: { type: memory, store: ${name}-late }
`;

/**
 * q5 over the generated bids, as its SQL reads: for each window end `e` (a multiple of the slide
 * whose window holds a bid), the bids with `e − size ≤ dateTime < e` counted per auction, and the
 * auctions whose count is the highest of that window.
 */
function expectedQ5(): Row[] {
  const generator = new NexmarkGenerator({
    seed: 1,
    baseTime: Date.UTC(2026, 0, 1),
    eventsPerSecond: Q5_DENSITY,
  });
  const bids: { auction: number; time: number }[] = [];
  for (let n = 0; n < Q5_EVENTS; n++) {
    const bid = generator.event(n).bid;
    if (bid !== null) bids.push({ auction: bid.auction, time: bid.dateTime });
  }
  const first = Math.min(...bids.map((b) => b.time));
  const last = Math.max(...bids.map((b) => b.time));
  const out: Row[] = [];
  for (let end = Math.floor(first / Q5_SLIDE) * Q5_SLIDE + Q5_SLIDE; end - Q5_SIZE <= last; end += Q5_SLIDE) {
    const counts = new Map<number, number>();
    for (const b of bids)
      if (b.time >= end - Q5_SIZE && b.time < end) counts.set(b.auction, (counts.get(b.auction) ?? 0) + 1);
    const most = Math.max(...counts.values());
    for (const [auction, n] of counts)
      if (n === most) out.push({ auction, bids: n, window_start: end - Q5_SIZE, window_end: end });
  }
  return out;
}

test('q5 (hot items) in the engine gives each window’s busiest auctions, ties included, for batch sizes 1, 7 and 1024', async () => {
  const expected = expectedQ5().map(canonical).sort();
  const windows = new Set(expected.map((r) => JSON.parse(r).window_end as number));
  assert.ok(windows.size > 100, `${windows.size} windows`);
  assert.ok(
    expected.length > windows.size,
    `some window ties (${expected.length} rows, ${windows.size} windows)`,
  );
  for (const batch of [1, 7, 1024]) {
    const dir = await harness.dir();
    const name = `nexmark-q5-${batch}`;
    const job = await Job.create(planFrom(q5Pipeline(name, dir, batch), dir, registry), {
      registry,
      fromScratch: true,
    });
    const result = await harness.run(job);
    assert.equal(result.status, 'completed');
    assertAccounting(result.metrics);
    assert.equal(result.metrics.late, 0, `batch size ${batch}: nothing late`);
    const got = memorySinkStore(`${name}-out`)
      .written.map(({ record }) => canonical(record))
      .sort();
    assert.deepEqual(got, expected, `batch size ${batch}`);
  }
});

test('a job stopped mid-stream resumes from its checkpoint with the same output', async () => {
  const dir = await harness.dir();
  // Paced (12 s for all events), so that the stop comes mid-stream; two partitions, resumed each
  // from its own position. The restart runs unpaced: `rate` is not part of the source's identity.
  const source = `type: nexmark\n    events: ${EVENTS}\n    partitions: 2`;
  const paced = pipeline('nexmark-resume', dir, `${source}\n    rate: 5000`);
  const yaml = pipeline('nexmark-resume', dir, source);
  const store = memorySinkStore('nexmark-resume-out');
  const first = await Job.create(planFrom(paced, dir, registry), { registry, fromScratch: true });
  const running = harness.run(first);
  await waitFor('a first checkpoint with output', () => store.committed.length > 0, 10_000);
  first.stop();
  const stopped = await running;
  assert.equal(stopped.status, 'stopped');
  assert.ok(stopped.metrics.recordsIn < EVENTS, `stopped after ${stopped.metrics.recordsIn} events`);
  const second = await Job.create(planFrom(yaml, dir, registry), { registry });
  const result = await harness.run(second);
  assert.equal(result.status, 'completed');
  const sort = (rows: Row[]) => rows.map((r) => JSON.stringify(r)).sort();
  assert.deepEqual(sort(store.records), sort(expectedQ2()), 'every selected bid once');
});
