/**
 * Engine semantics with a multiplexing reader (one reader, many upstream partitions, as the Kafka
 * source has): every partition it announces gets its source's `max_out_of_orderness` and idle
 * timeout, and after a restore the greatest event time it had at the checkpoint.
 */

import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import Type from 'typebox';
import type { SourceBatch, SourceContext, SourceReader } from '../connector.ts';
import type { Row } from '../record.ts';
import { defineSource } from '../spec.ts';
import { ManualClock, memorySinkStore } from '../testing/index.ts';
import { assertAccounting, Harness, planFrom, testRegistry } from './engine-test-support.ts';
import { Job } from './job.ts';
import { WatermarkTracker } from './watermarks.ts';

/**
 * What the `mux` source's one reader does, in order: return a batch of one upstream partition, or
 * report partitions assigned or revoked through its context before its next batch.
 */
type Step = SourceBatch | { assign: string[] } | { revoke: string[] };
const script: Step[] = [];
let next = 0;

const muxSource = defineSource({
  type: 'mux',
  delivery: 'exactly-once',
  summary: 'One reader over partitions a and b, scripted by the test.',
  config: Type.Object({}, { additionalProperties: false }),
  create() {
    return {
      async open(ctx: SourceContext) {
        const reader: SourceReader = {
          partition: 'all',
          async read() {
            while (next < script.length) {
              const step = script[next++];
              if ('assign' in step) ctx.partitionsAssigned?.('all', step.assign);
              else if ('revoke' in step) ctx.partitionsRevoked?.('all', step.revoke);
              else return step;
            }
            return null;
          },
          position: () => next,
          async close() {},
        };
        return [reader];
      },
    };
  },
});

const registry = testRegistry({ name: 'mux', components: [muxSource] });
const h = new Harness();
afterEach(() => h.stopAll());

const rows = (...times: number[]): Row[] => times.map((ts) => ({ k: 'x', ts }));

describe('a multiplexing reader', () => {
  test('its partitions keep their source’s max_out_of_orderness', async () => {
    script.length = 0;
    next = 0;
    script.push(
      { assign: ['a', 'b'] },
      { records: rows(10_000, 20_000), partition: 'a' },
      { records: rows(30_000), partition: 'b' },
      // 4 s behind a's greatest time: within the 5 s bound, so not late.
      { records: rows(16_000), partition: 'a' },
      { records: rows(26_500), partition: 'b' },
    );
    const plan = planFrom(
      `
name: mux
settings: { checkpoint: { interval: 0, dir: ./ckpt } }
sources:
  in: { type: mux, event_time: { field: ts, max_out_of_orderness: 5s } }
steps:
  - { id: agg, type: aggregate, key: [k], window: { type: tumbling, size: 10s }, fields: { n: count(*) } }
sinks:
  out: { type: memory, store: mux-out }
late_output: { type: memory, store: mux-late }
`,
      await h.dir(),
      registry,
    );
    const result = await h.run(await Job.create(plan, { registry, clock: new ManualClock(0) }));
    assert.equal(result.status, 'completed');
    assertAccounting(result.metrics, 'agg');
    assert.deepEqual(memorySinkStore('mux-late').committed, []);
    assert.deepEqual(
      memorySinkStore('mux-out').committed.map((r) => [r.window_start, r.n]),
      [
        [10_000, 2],
        [20_000, 2],
        [30_000, 1],
      ],
    );
  });

  test('a revoked partition stops holding the watermark back, and a batch of it read before still counts', async () => {
    script.length = 0;
    next = 0;
    script.push(
      { assign: ['a', 'b'] },
      { records: rows(10_000), partition: 'a' },
      { records: rows(12_000), partition: 'b' },
      { revoke: ['b'] },
      // b no longer holds the watermark at 7 s: a alone moves it to 35 s.
      { records: rows(40_000), partition: 'a' },
      // A batch of b that the reader returned before the revocation: pushed, not re-registered.
      { records: rows(13_000), partition: 'b' },
      // Behind the watermark of a alone: late (b, were it still there, would hold it at 7 s).
      { records: rows(20_000), partition: 'a' },
    );
    const plan = planFrom(
      `
name: mux-revoke
settings: { checkpoint: { interval: 0, dir: ./ckpt } }
sources:
  in: { type: mux, event_time: { field: ts, max_out_of_orderness: 5s } }
steps:
  - { id: agg, type: aggregate, key: [k], window: { type: tumbling, size: 10s }, fields: { n: count(*) } }
sinks:
  out: { type: memory, store: mux-revoke-out }
late_output: { type: memory, store: mux-revoke-late }
`,
      await h.dir(),
      registry,
    );
    const result = await h.run(await Job.create(plan, { registry, clock: new ManualClock(0) }));
    assert.equal(result.status, 'completed');
    assertAccounting(result.metrics, 'agg');
    assert.deepEqual(
      memorySinkStore('mux-revoke-late').committed.map((r) => r.ts),
      [13_000, 20_000],
    );
    assert.deepEqual(
      memorySinkStore('mux-revoke-out').committed.map((r) => [r.window_start, r.n]),
      [
        [10_000, 2],
        [40_000, 1],
      ],
    );
  });
});

describe('WatermarkTracker', () => {
  test('a partition added with the greatest time it had restored judges as before the restart', () => {
    const settings = { bound: 5_000, idleTimeout: 60_000 };
    const whole = new WatermarkTracker();
    whole.addSource('s', settings);
    whole.addPartition('s', 'a', 0);
    whole.observe('s/a', 20_000, 0);
    whole.advance(0);
    const restored = new WatermarkTracker();
    restored.restoreFrom(whole.current, whole.maxTimes(), whole.sourceWatermarks());
    restored.addSource('s', settings);
    restored.addPartition('s', 'a', 0);
    const times = [12_000, 21_000, 30_000];
    assert.deepEqual(restored.before('s/a', times, 0), whole.before('s/a', times, 0));
    assert.deepEqual(whole.before('s/a', times, 0), [14_999, 14_999, 15_999]);
  });

  test('a reader that gives its own watermark (a repartition topic): record times move none of it', async () => {
    script.length = 0;
    next = 0;
    script.push(
      { assign: ['a'] },
      // Times up to 25 s, but the reader says 5 s: nothing fires (the times would give 20 s).
      { records: rows(10_000, 25_000), partition: 'a', watermark: 5_000 },
      // Judged against 5 s, not late; then 21 s fires [10 s, 20 s) with both of its records.
      { records: rows(12_000), partition: 'a', watermark: 21_000 },
      // Per record: 22 s against 21 s, not late; 14 s against 30 s, late ([20 s, 30 s) fired before it).
      { records: rows(22_000, 14_000), partition: 'a', watermark: 30_000, watermarks: [21_000, 30_000] },
    );
    const plan = planFrom(
      `
name: mux-given
settings: { checkpoint: { interval: 0, dir: ./ckpt } }
sources:
  in: { type: mux, event_time: { field: ts, max_out_of_orderness: 5s } }
steps:
  - { id: agg, type: aggregate, key: [k], window: { type: tumbling, size: 10s }, fields: { n: count(*) } }
sinks:
  out: { type: memory, store: mux-given-out }
late_output: { type: memory, store: mux-given-late }
`,
      await h.dir(),
      registry,
    );
    const result = await h.run(await Job.create(plan, { registry, clock: new ManualClock(0) }));
    assert.equal(result.status, 'completed');
    assert.deepEqual(
      memorySinkStore('mux-given-late').committed.map((r) => r.ts),
      [14_000],
    );
    assert.deepEqual(
      memorySinkStore('mux-given-out').committed.map((r) => [r.window_start, r.n]),
      [
        [10_000, 2],
        [20_000, 2],
      ],
    );
  });
});
