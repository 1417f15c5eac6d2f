import { test } from 'node:test';
import { ManualClock, memoryChannel, memorySinkStore } from '../testing/index.ts';
import { planFrom, tempDir, testRegistry } from './engine-test-support.ts';
import { Job } from './job.ts';

test('smoke', async () => {
  const { dir, cleanup } = await tempDir();
  const registry = testRegistry();
  const ch = memoryChannel('smoke', ['p0', 'p1']);
  const plan = planFrom(
    `
name: smoke
settings: { checkpoint: { interval: 0, dir: ./ckpt } }
sources:
  in: { type: memory, channel: smoke, event_time: { field: ts, max_out_of_orderness: 10ms } }
steps:
  - { id: agg, type: aggregate, key: [k], window: { type: tumbling, size: 100ms }, fields: { n: count(*), s: sum(v) } }
sinks:
  out: { type: memory, store: smoke }
`,
    dir,
    registry,
  );
  const job = await Job.create(plan, { registry, clock: new ManualClock(0), tickInterval: 5 });
  ch.push('p0', { k: 'a', ts: 5, v: 1 }, { k: 'b', ts: 50, v: 2 });
  ch.push('p1', { k: 'a', ts: 150, v: 3 });
  ch.end();
  const r = await job.run();
  console.log(r, memorySinkStore('smoke'));
  await cleanup();
});
