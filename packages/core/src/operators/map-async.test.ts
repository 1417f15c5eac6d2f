/**
 * The asynchronous boundary, through `mapAsync`: results in input order whatever the delays,
 * bounded calls and batches in flight, no record late downstream for having been slow, failures
 * and timeouts as dead letters after retries, unordered mode, and a crash and restore that loses
 * and repeats nothing.
 */

import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { count } from '../api/aggregates.ts';
import { sinkOf, sourceOf } from '../api/components.ts';
import { pipeline, tumbling } from '../api/pipeline.ts';
import { SluiceError } from '../errors.ts';
import {
  assertAccounting,
  assertSameMultiset,
  Harness,
  testRegistry,
  waitFor,
} from '../runtime/engine-test-support.ts';
import { Job } from '../runtime/job.ts';
import { ManualClock, memoryChannel, memorySinkStore } from '../testing/index.ts';
import { memorySink, memorySource } from '../testing/memory.ts';

const registry = testRegistry();
const h = new Harness();
afterEach(() => h.stopAll());

const memory = sourceOf(memorySource);
const collect = sinkOf(memorySink);

interface Reading {
  id: number;
  k: string;
  ts: number;
}

/** Readings one second apart, some out of order by up to 3 s (bound 4 s: none late). */
function readings(n: number): Reading[] {
  return Array.from({ length: n }, (_, i) => ({
    id: i,
    k: `k${i % 5}`,
    ts: 1_000 * i - (i % 4 === 0 ? 3_000 : 0),
  }));
}

let runs = 0;

/** Runs `build` on a fresh channel over `records` with batch size `batchSize`. */
async function runWith(
  records: readonly Reading[],
  batchSize: number,
  build: (source: ReturnType<typeof readingsSource>) => {
    to: (id: string, sink: ReturnType<typeof collect>) => unknown;
  },
): Promise<{ name: string; result: Awaited<ReturnType<Job['run']>> }> {
  const name = `async-${++runs}`;
  const channel = memoryChannel(name);
  const p = pipeline(name, { checkpoint: { interval: '0s', dir: './ckpt' }, batchSize });
  const source = p.from(
    'in',
    memory<Reading>({ channel: name, eventTime: { field: 'ts', maxOutOfOrderness: '4s' } }),
  );
  build(source as ReturnType<typeof readingsSource>).to('out', collect({ store: name }));
  const { plan, functions } = p.build(await h.dir());
  const job = await Job.create(plan, { registry, functions, clock: new ManualClock(0), tickInterval: 5 });
  const running = h.run(job);
  channel.push('p0', ...records.map((r) => ({ ...r })));
  channel.end();
  const result = await running;
  return { name, result };
}

function readingsSource() {
  return pipeline('types').from('in', memory<Reading>({ channel: 'x' }));
}

describe('mapAsync', () => {
  test('results come in input order whatever the delays, with at most `concurrency` calls at once', async () => {
    const records = readings(300);
    let running = 0;
    let most = 0;
    const { name, result } = await runWith(records, 16, (s) =>
      s.mapAsync(
        'slow',
        async (r) => {
          running++;
          most = Math.max(most, running);
          await delay((r.id * 7) % 5);
          running--;
          return { ...r, doubled: r.id * 2 };
        },
        { concurrency: 8, capacity: 3 },
      ),
    );
    assert.equal(result.status, 'completed');
    assertAccounting(result.metrics);
    assert.deepEqual(
      memorySinkStore(name).committed.map((r) => r.id),
      records.map((r) => r.id),
    );
    assert.ok(most <= 8 && most > 1, `calls at once: ${most}`);
  });

  test('batch sizes 1, 7 and 1024 give the same results, dead letters and filtered records', async () => {
    const records = readings(300);
    const outcomes = [];
    for (const size of [1, 7, 1024]) {
      const { name, result } = await runWith(records, size, (s) =>
        s.mapAsync('enrich', async (r) => {
          await delay(r.id % 3);
          if (r.id % 17 === 0) throw new Error(`no customer ${r.id}`);
          return r.id % 11 === 0 ? null : { ...r, doubled: r.id * 2 };
        }),
      );
      assert.equal(result.status, 'completed');
      assertAccounting(result.metrics);
      const steps = result.metrics.steps.enrich;
      outcomes.push({ out: memorySinkStore(name).committed, dead: steps.dead, filtered: steps.filtered });
    }
    assert.ok(outcomes[0].dead > 10 && outcomes[0].filtered > 10);
    assert.deepEqual(outcomes[1], outcomes[0], 'batch size 7');
    assert.deepEqual(outcomes[2], outcomes[0], 'batch size 1024');
  });

  test('a window after a slow step gets every record on time, as after a synchronous one', async () => {
    const records = readings(200);
    const windowed = (async: boolean) =>
      runWith(records, 7, (s) => {
        const enriched = async
          ? s.mapAsync('enrich', async (r) => {
              await delay(r.id % 3 === 0 ? 8 : 0);
              return r;
            })
          : s.map('enrich', (r) => r);
        return enriched
          .keyBy('key', (r) => r.k)
          .window(tumbling('10s'))
          .aggregate('agg', { n: count() });
      });
    const slow = await windowed(true);
    const fast = await windowed(false);
    assert.equal(slow.result.metrics.late, 0);
    assert.deepEqual(memorySinkStore(slow.name).committed, memorySinkStore(fast.name).committed);
  });

  test('failures go to the dead letters; timeouts and transient errors are retried first', async () => {
    const records = readings(40);
    const attempts = new Map<number, number>();
    const { result } = await runWith(records, 10, (s) =>
      s.mapAsync(
        'flaky',
        async (r, signal) => {
          const n = (attempts.get(r.id) ?? 0) + 1;
          attempts.set(r.id, n);
          if (r.id === 3) throw new Error('no such customer');
          // Transient twice, then fine.
          if (r.id === 5 && n <= 2) throw new SluiceError('SOURCE_UNAVAILABLE', 'lookup service restarting');
          // Never answers: times out on every attempt.
          if (r.id === 7)
            await new Promise((_, reject) =>
              signal.addEventListener('abort', () => reject(new Error('aborted'))),
            );
          if (r.id === 9) return null;
          return r;
        },
        { timeout: '50ms', retries: 2 },
      ),
    );
    assert.equal(result.status, 'completed');
    assertAccounting(result.metrics);
    const steps = result.metrics.steps.flaky;
    assert.deepEqual([steps.in, steps.out, steps.dead, steps.filtered], [40, 37, 2, 1]);
    assert.equal(attempts.get(3), 1, 'a plain error is not retried');
    assert.equal(attempts.get(5), 3, 'a transient error is retried');
    assert.equal(attempts.get(7), 3, 'a timeout is retried');
  });

  test('unordered: every result arrives, in the order the batches finish', async () => {
    const records = readings(120);
    // The first batch (ids 0–9) finishes only once the third (ids 20–29) has: whatever the
    // machine's load, it is overtaken.
    let thirdDone: () => void = () => {};
    const third = new Promise<void>((resolve) => {
      thirdDone = resolve;
    });
    const { name, result } = await runWith(records, 10, (s) =>
      s.mapAsync(
        'any-order',
        async (r) => {
          if (r.id < 10) await third;
          else if (r.id === 29) setTimeout(thirdDone, 5);
          return r;
        },
        { ordered: false, capacity: 4 },
      ),
    );
    assert.equal(result.status, 'completed');
    const got = memorySinkStore(name).committed;
    assertSameMultiset(
      got,
      records.map((r) => ({ ...r })),
    );
    assert.notEqual(got[0].id, 0, 'the slow first batch was overtaken');
  });

  test('a checkpoint waits for the batches in flight: a crash and restore loses and repeats nothing', async () => {
    const records = readings(300);
    const name = `async-${++runs}`;
    const channel = memoryChannel(name);
    const build = () => {
      const p = pipeline(name, { checkpoint: { interval: '0s', dir: './ckpt' }, batchSize: 8 });
      p.from('in', memory<Reading>({ channel: name, eventTime: { field: 'ts', maxOutOfOrderness: '4s' } }))
        .mapAsync('slow', async (r) => {
          // The last batch before the checkpoint is still in flight when it is taken.
          await delay(r.id === 149 ? 100 : r.id % 2);
          return r;
        })
        .to('out', collect({ store: name }));
      return p;
    };
    const dir = await h.dir();
    const first = build().build(dir);
    const clock = new ManualClock(0);
    const job = await Job.create(first.plan, {
      registry,
      functions: first.functions,
      clock,
      tickInterval: 5,
    });
    const running = h.run(job);
    channel.push('p0', ...records.slice(0, 150).map((r) => ({ ...r })));
    await waitFor('150 records read', () => job.metrics().recordsIn === 150);
    await job.checkpoint();
    channel.push('p0', ...records.slice(150, 220).map((r) => ({ ...r })));
    await waitFor('220 records read', () => job.metrics().recordsIn === 220);
    channel.crash('p0');
    await assert.rejects(running, /simulated crash/);
    const second = build().build(dir);
    const resumed = await Job.create(second.plan, {
      registry,
      functions: second.functions,
      clock,
      tickInterval: 5,
    });
    const done = h.run(resumed);
    channel.push('p0', ...records.slice(220).map((r) => ({ ...r })));
    channel.end();
    assert.equal((await done).status, 'completed');
    assert.deepEqual(
      memorySinkStore(name).committed.map((r) => r.id),
      records.map((r) => r.id),
    );
  });
});
