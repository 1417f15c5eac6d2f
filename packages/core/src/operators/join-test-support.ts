/**
 * What the join tests share: a stream of bids and auctions from one source, split by two filters
 * and joined again (the Nexmark shape), run as a pipeline with a chosen join.
 */

import assert from 'node:assert/strict';
import type { Row } from '../record.ts';
import { assertAccounting, type Harness, planFrom, testRegistry } from '../runtime/engine-test-support.ts';
import { Job } from '../runtime/job.ts';
import { ManualClock, memoryChannel, memorySinkStore, seededRandom } from '../testing/index.ts';

export const registry = testRegistry();

/** The source's bounded out-of-orderness, ms. */
export const BOUND = 2_000;

/**
 * Bids and auctions over a few minutes, one partition: mostly in order, some up to 1.5 s out of
 * order, one in twenty-five 30 s behind (late), a few with a NULL key, and a few whose key fails
 * (dead letters): without the key field, or with an object there, which `auction + 0` refuses.
 */
export function bidsAndAuctions(seed: number, n = 900): Row[] {
  const next = seededRandom(seed);
  const out: Row[] = [];
  let t = 1_700_000_000_000;
  for (let i = 0; i < n; i++) {
    t += Math.floor(next() * 400);
    const roll = next();
    const ts = roll < 0.04 ? t - 30_000 : roll < 0.3 ? t - Math.floor(next() * 1_500) : t;
    const key = Math.floor(next() * 12);
    const r: Row =
      next() < 0.25
        ? { type: 'auction', id: key, seller: `s${i}`, ts }
        : { type: 'bid', auction: key, price: i, ts };
    const odd = next();
    const field = r.type === 'bid' ? 'auction' : 'id';
    if (odd < 0.02) r[field] = null;
    else if (odd < 0.03) r[field] = { nested: true };
    else if (odd < 0.035) delete r[field];
    out.push(r);
  }
  return out;
}

/** Whether a record's key fails (a dead letter): missing, or an object. */
export function keyFails(r: Row): boolean {
  const key = r.type === 'bid' ? r.auction : r.id;
  return key === undefined || (typeof key === 'object' && key !== null);
}

/** A pipeline joining bids (left) and auctions (right) with `join` (the step's options, YAML lines). */
export function joinPipeline(name: string, join: string, batchSize: number): string {
  return `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt }, batch_size: ${batchSize} }
sources:
  events: { type: memory, channel: ${name}, event_time: { field: ts, max_out_of_orderness: ${BOUND}ms } }
steps:
  - { id: bids, type: filter, input: events, where: "type = 'bid'" }
  - { id: auctions, type: filter, input: events, where: "type = 'auction'" }
  - id: joined
    type: join
    input: [bids, auctions]
    on: bids.auction + 0 = auctions.id + 0
${join
  .trim()
  .split('\n')
  .map((line) => `    ${line.trim()}`)
  .join('\n')}
sinks:
  out: { type: memory, store: ${name}-out, input: joined }
late_output: { type: memory, store: ${name}-late }
dead_letter: { type: memory, store: ${name}-dead }
`;
}

export interface JoinOutputs {
  out: Row[];
  late: Row[];
  dead: Row[];
}

let runs = 0;

/** A fresh name for a pipeline, its channel and its stores. */
export function nextName(prefix: string): string {
  return `${prefix}-${++runs}`;
}

/** Runs `join` over `records` with `batchSize`, to the end. */
export async function runJoin(
  h: Harness,
  join: string,
  records: readonly Row[],
  batchSize: number,
): Promise<JoinOutputs> {
  const name = nextName('join');
  const channel = memoryChannel(name, ['p0']);
  const plan = planFrom(joinPipeline(name, join, batchSize), await h.dir(), registry);
  const job = await Job.create(plan, { registry, clock: new ManualClock(0), tickInterval: 5 });
  const running = h.run(job);
  channel.push('p0', ...records);
  channel.end();
  const result = await running;
  assert.equal(result.status, 'completed');
  assertAccounting(result.metrics);
  return joinOutputsOf(name);
}

export function joinOutputsOf(name: string): JoinOutputs {
  return {
    out: memorySinkStore(`${name}-out`).committed,
    late: memorySinkStore(`${name}-late`).committed,
    dead: memorySinkStore(`${name}-dead`).committed.map(({ failedAt: _, ...rest }) => rest),
  };
}
