/**
 * Source lag: the runtime polls `SourceReader.lag` into `JobMetrics.sources[id].lag`, one request
 * per reader at a time, keeps the last value when a poll fails, and reads the same records
 * whether or not it polls.
 */

import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { Type } from 'typebox';
import type { SourceBatch, SourceLag, SourceReader } from '../connector.ts';
import { defineSource, type Plugin } from '../spec.ts';
import { memorySinkStore } from '../testing/index.ts';
import { Harness, planFrom, testRegistry, waitFor } from './engine-test-support.ts';
import { Job } from './job.ts';

/** Counts `total` records out, one per read, and says how many are left as its lag. */
class CountingReader implements SourceReader {
  readonly partition: string;
  readonly #total: number;
  #next = 0;
  /** Lag requests running now, and the most seen at once. */
  inFlight = 0;
  maxInFlight = 0;
  polls = 0;
  failNext = false;

  constructor(partition: string, total: number) {
    this.partition = partition;
    this.#total = total;
  }

  async read(): Promise<SourceBatch | null> {
    if (this.#next >= this.#total) {
      await new Promise((r) => setTimeout(r, 20));
      return { records: [] };
    }
    const n = this.#next++;
    return { records: [{ n }], times: [n] };
  }

  position(): unknown {
    return this.#next;
  }

  async lag(): Promise<SourceLag | undefined> {
    this.polls++;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((r) => setTimeout(r, 15));
      if (this.failNext) {
        this.failNext = false;
        throw new Error('the system did not answer');
      }
      return { unit: 'records', partitions: { [`${this.partition}/up`]: this.#total - this.#next } };
    } finally {
      this.inFlight--;
    }
  }

  async close(): Promise<void> {}
}

const readers: CountingReader[] = [];

const laggingSource = defineSource({
  type: 'lagging',
  summary: 'Counts records and reports how many are left (test only).',
  delivery: 'at-least-once',
  config: Type.Object({ total: Type.Integer() }, { additionalProperties: false }),
  create(config) {
    return {
      async open() {
        const r = [new CountingReader('a', config.total), new CountingReader('b', config.total)];
        readers.push(...r);
        return r;
      },
    };
  },
});
const plugin: Plugin = { name: 'lagging', components: [laggingSource] };
const registry = testRegistry(plugin);
const h = new Harness();
afterEach(() => h.stopAll());

function planIn(dir: string, store: string) {
  return planFrom(
    `
name: lag-${store}
settings: { checkpoint: { interval: 0, dir: ./ckpt } }
sources:
  in: { type: lagging, total: 5 }
sinks:
  out: { type: memory, store: ${store} }
`,
    dir,
    registry,
  );
}

test('the lag readers report is polled into the job metrics, by upstream partition', async () => {
  readers.length = 0;
  const dir = await h.dir();
  const store = memorySinkStore('lag-polled');
  const job = await Job.create(planIn(dir, 'lag-polled'), { registry, lagInterval: 5 });
  const done = h.run(job);
  await waitFor('all 10 records read', () => job.metrics().recordsIn === 10);
  await waitFor('a lag of 0 for both partitions', () => {
    const lag = job.metrics().sources.in?.lag;
    return lag?.['a/up'] === 0 && lag['b/up'] === 0;
  });
  const m = job.metrics().sources.in;
  assert.equal(m?.lagUnit, 'records');
  assert.deepEqual(Object.keys(m?.lag ?? {}).sort(), ['a/up', 'b/up']);
  // Polls every 5 ms of a request that takes 15 ms: never two at a time for one reader. (Waited
  // for: on a loaded machine the lag can read 0 at a reader's first poll.)
  await waitFor('two polls of each reader', () => readers.every((r) => r.polls >= 2));
  for (const r of readers) assert.equal(r.maxInFlight, 1, `reader ${r.partition}`);
  // A failed poll keeps the last value.
  for (const r of readers) r.failNext = true;
  await waitFor('the failing polls done', () => readers.every((r) => !r.failNext));
  assert.equal(job.metrics().sources.in?.lag?.['a/up'], 0);
  job.stop();
  await done;
  assert.deepEqual(
    store.records.map((r) => r.n).sort(),
    [0, 0, 1, 1, 2, 2, 3, 3, 4, 4],
    'the records read do not depend on lag polling',
  );
});

test('without polling (lagInterval 0) a source reports no lag, and reads the same records', async () => {
  readers.length = 0;
  const dir = await h.dir();
  const store = memorySinkStore('lag-off');
  const job = await Job.create(planIn(dir, 'lag-off'), { registry, lagInterval: 0 });
  const done = h.run(job);
  await waitFor('all 10 records read', () => job.metrics().recordsIn === 10);
  job.stop();
  await done;
  assert.equal(job.metrics().sources.in?.lag, undefined);
  assert.ok(readers.every((r) => r.polls === 0));
  assert.deepEqual(store.records.map((r) => r.n).sort(), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
});
