/**
 * A failing job publishes nothing a completed checkpoint does not cover: when one sink fails the
 * job, the rolled file sink beside it aborts (its in-progress part and the parts rolled since the
 * last checkpoint stay hidden), and the restart from that checkpoint writes every record once.
 * A job that fails to start does not publish either.
 */

import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import Type from 'typebox';
import type { Sink } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import type { Row } from '../record.ts';
import { defineSink, type Plugin } from '../spec.ts';
import { ManualClock, memoryChannel } from '../testing/index.ts';
import { Harness, planFrom, testRegistry, waitFor } from './engine-test-support.ts';
import { Job } from './job.ts';

/** Names of `flaky` sinks that fail every write from now on, and those that fail to open. */
const failing = new Set<string>();
const failingOpen = new Set<string>();

const flakySink = defineSink({
  type: 'flaky',
  summary: 'Discards records; fails every write while its name is in `failing` (testing only).',
  delivery: 'at-least-once',
  config: Type.Object(
    { name: Type.String({ description: 'Name in `failing`.' }) },
    { additionalProperties: false },
  ),
  create(config): Sink {
    return {
      async open(ctx) {
        if (failingOpen.has(config.name))
          throw new SluiceError('SINK_UNAVAILABLE', 'cannot connect (test)', { step: ctx.id });
      },
      async write() {
        if (failing.has(config.name)) throw new SluiceError('SINK_UNAVAILABLE', 'the sink is down (test)');
        return undefined;
      },
      async close() {},
    };
  },
});
const flaky: Plugin = { name: 'flaky', components: [flakySink] };

const registry = testRegistry(flaky);
const h = new Harness();
afterEach(() => h.stopAll());

const yaml = (name: string) => `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt }, batch_size: 10 }
sources:
  in: { type: memory, channel: ${name} }
sinks:
  records: { type: file, path: ./out/records.jsonl, roll: { max_bytes: 200 } }
  other: { type: flaky, name: ${name} }
`;

const rows = (from: number, to: number): Row[] =>
  Array.from({ length: to - from }, (_, k) => ({ n: from + k }));

/** The records of every published part, and the names of the files in the output folder. */
async function published(dir: string): Promise<{ ids: number[]; hidden: string[] }> {
  const names = await readdir(join(dir, 'out'));
  const ids: number[] = [];
  for (const name of names.filter((n) => !n.startsWith('.')).sort()) {
    const text = await readFile(join(dir, 'out', name), 'utf8');
    for (const line of text.split('\n')) if (line !== '') ids.push((JSON.parse(line) as { n: number }).n);
  }
  return { ids, hidden: names.filter((n) => n.startsWith('.')) };
}

describe('a failing job', () => {
  test('aborts the file sink: nothing after the last checkpoint is published; the restart writes each record once', async () => {
    const dir = await h.dir();
    const name = 'fail-abort';
    const channel = memoryChannel(name);
    const plan = planFrom(yaml(name), dir, registry);
    const clock = new ManualClock(0);
    const first = await Job.create(plan, { registry, clock });
    const running = h.run(first);
    channel.push('p0', ...rows(0, 100));
    await waitFor('100 records read', () => first.metrics().recordsIn === 100);
    await first.checkpoint();
    const atCheckpoint = await published(dir);
    assert.ok(atCheckpoint.ids.length > 0, 'checkpoint 1 published the parts rolled before it');
    assert.deepEqual(
      atCheckpoint.ids,
      rows(0, atCheckpoint.ids.length).map((r) => r.n),
    );

    channel.push('p0', ...rows(100, 200));
    await waitFor('200 records read', () => first.metrics().recordsIn === 200);
    await waitFor('parts rolled after the checkpoint', () => first.metrics().sinks.records?.written === 200);
    failing.add(name);
    // The job sees a failed sink when it next hands it records: feed until it has failed.
    let failed = false;
    running.catch(() => {
      failed = true;
    });
    let next = 200;
    await waitFor('the job to fail', () => {
      if (!failed) channel.push('p0', { n: next++ });
      return failed;
    });
    await assert.rejects(running, { code: 'SINK_UNAVAILABLE' });

    const afterFailure = await published(dir);
    assert.deepEqual(afterFailure.ids, atCheckpoint.ids, 'the failure published nothing more');
    assert.ok(afterFailure.hidden.length > 0, 'the parts written after the checkpoint stayed hidden');

    failing.delete(name);
    const second = await Job.create(plan, { registry, clock });
    const done = h.run(second);
    channel.end();
    assert.equal((await done).status, 'completed');
    const final = await published(dir);
    assert.deepEqual(final.hidden, []);
    assert.deepEqual(
      final.ids,
      rows(0, next).map((r) => r.n),
      'every record exactly once',
    );
  });

  test('that fails to start publishes nothing and leaves an earlier output file alone', async () => {
    const dir = await h.dir();
    const name = 'fail-start';
    memoryChannel(name);
    const plan = planFrom(
      `
name: ${name}
settings: { checkpoint: { dir: ./ckpt } }
sources:
  in: { type: memory, channel: ${name} }
sinks:
  records: { type: file, path: ./records.jsonl }
  other: { type: flaky, name: ${name} }
`,
      dir,
      registry,
    );
    await writeFile(join(dir, 'records.jsonl'), '{"earlier":true}\n');
    failingOpen.add(name);
    await assert.rejects(Job.create(plan, { registry }), { code: 'SINK_UNAVAILABLE' });
    failingOpen.delete(name);
    assert.equal(await readFile(join(dir, 'records.jsonl'), 'utf8'), '{"earlier":true}\n');
  });

  test('fails as soon as a sink has failed, even with no more input', async () => {
    const dir = await h.dir();
    const name = 'idle-after-failure';
    const channel = memoryChannel(name, ['p0']);
    const plan = planFrom(yaml(name), dir, registry);
    failing.add(name);
    const job = await Job.create(plan, { registry, clock: new ManualClock(0), tickInterval: 5 });
    const running = h.run(job);
    // One record reaches the failing sink; then the source stays quiet and no checkpoint is due.
    channel.push('p0', ...rows(0, 1));
    await assert.rejects(running, (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'SINK_UNAVAILABLE');
      assert.match(err.message, /the sink is down/);
      return true;
    });
    failing.delete(name);
  });
});
