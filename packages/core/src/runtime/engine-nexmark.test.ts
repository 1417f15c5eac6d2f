/**
 * The `nexmark` source in a job: a q2-like selection written in YAML gives exactly the bids a
 * loop over the generator selects, and a job stopped mid-stream and restored from its checkpoint
 * ends with the same output as one that ran through.
 */

import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { NexmarkGenerator } from '../connectors/nexmark-generator.ts';
import type { Row } from '../record.ts';
import { memorySinkStore } from '../testing/index.ts';
import { Harness, planFrom, testRegistry, waitFor } from './engine-test-support.ts';
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
