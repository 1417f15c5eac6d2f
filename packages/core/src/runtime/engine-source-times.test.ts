/**
 * `event_time` without `field` or `expression`: the times the source gives its records, with the
 * out-of-orderness and idle timeout set there — and a clear dead letter for a source that gives
 * its records no time.
 */

import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { memorySinkStore } from '../testing/index.ts';
import { Harness, planFrom, testRegistry } from './engine-test-support.ts';
import { Job } from './job.ts';

const harness = new Harness();
afterEach(() => harness.stopAll());
const registry = testRegistry();

test('the nexmark source’s dateTimes are the event times, with the out-of-orderness set for them', async () => {
  const dir = await harness.dir();
  const yaml = `
name: source-times
settings: { checkpoint: { interval: 0, dir: ./ckpt } }
sources:
  nx:
    type: nexmark
    events: 5000
    events_per_second: 1000
    event_time: { max_out_of_orderness: 4s }
steps:
  - id: per_second
    type: aggregate
    window: { type: tumbling, size: 1s }
    fields: { events: count(*) }
sinks:
  out: { type: memory, store: source-times-out }
`;
  const job = await Job.create(planFrom(yaml, dir, registry), { registry });
  const result = await harness.run(job);
  assert.equal(result.status, 'completed');
  assert.equal(result.metrics.deadLetters, 0);
  const rows = memorySinkStore('source-times-out').records;
  const base = Date.UTC(2026, 0, 1);
  assert.deepEqual(
    rows.map((r) => [(r.window_start as number) - base, r.events]),
    [
      [0, 1000],
      [1000, 1000],
      [2000, 1000],
      [3000, 1000],
      [4000, 1000],
    ],
  );
});

test('a source that gives its records no time: each is a dead letter saying to set field or expression', async () => {
  const dir = await harness.dir();
  await writeFile(join(dir, 'in.jsonl'), '{"a":1}\n{"a":2}\n');
  const yaml = `
name: no-source-times
settings: { checkpoint: { interval: 0, dir: ./ckpt } }
sources:
  in: { type: file, path: ./in.jsonl, event_time: { max_out_of_orderness: 1s } }
dead_letter: { type: file, path: ./dead.jsonl }
sinks:
  out: { type: memory, store: no-source-times-out }
`;
  const job = await Job.create(planFrom(yaml, dir, registry), { registry });
  const result = await harness.run(job);
  assert.equal(result.metrics.deadLetters, 2);
  const dead = (await readFile(join(dir, 'dead.jsonl'), 'utf8')).trim().split('\n');
  for (const line of dead) {
    const letter = JSON.parse(line) as { code: string; message: string };
    assert.equal(letter.code, 'EVENT_TIME_INVALID');
    assert.match(
      letter.message,
      /source 'in' \(file\) gave this record no time of its own; set event_time\.field/,
    );
  }
});
