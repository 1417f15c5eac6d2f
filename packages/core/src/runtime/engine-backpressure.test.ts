/**
 * Engine semantics: a slow sink slows the sources. With a small `sink_queue_records`, a sink
 * whose writes do not complete stops the read loops after a bounded number of records; once it
 * takes records again everything arrives, in order per partition.
 */

import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import Type from 'typebox';
import type { SinkBatch, SinkContext } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import type { Row } from '../record.ts';
import { defineSink, type Plugin } from '../spec.ts';
import { memoryChannel } from '../testing/index.ts';
import { Harness, planFrom, sleep, testRegistry, waitFor } from './engine-test-support.ts';
import { Job } from './job.ts';

/** A gate the test opens: writes wait at it while it is shut. */
class Gate {
  readonly written: Row[] = [];
  writesStarted = 0;
  closed = false;
  #open = false;
  #waiting: (() => void)[] = [];

  pass(): Promise<void> {
    if (this.#open) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  open(): void {
    this.#open = true;
    for (const resolve of this.#waiting.splice(0)) resolve();
  }
}

const gates = new Map<string, Gate>();

const gatedSink = defineSink({
  type: 'gated',
  summary: 'Keeps records in memory; each write waits until the test opens the gate (testing only).',
  delivery: 'at-least-once',
  config: Type.Object(
    {
      gate: Type.String({ description: 'Name of the gate in this test file.' }),
      abortable: Type.Boolean({
        default: false,
        description: 'Give up a write when the job aborts the sink (as the http sink does).',
      }),
    },
    { additionalProperties: false },
  ),
  create(config) {
    const gate = gates.get(config.gate)!;
    let signal: AbortSignal | undefined;
    const aborted = () =>
      new Promise<never>((_, reject) => {
        const fail = () => reject(new SluiceError('SINK_UNAVAILABLE', 'write aborted'));
        if (signal!.aborted) fail();
        else signal!.addEventListener('abort', fail, { once: true });
      });
    return {
      async open(ctx: SinkContext) {
        signal = ctx.signal;
      },
      async write({ records }: SinkBatch) {
        gate.writesStarted++;
        await (config.abortable ? Promise.race([gate.pass(), aborted()]) : gate.pass());
        gate.written.push(...records);
        return undefined;
      },
      async close() {
        gate.closed = true;
      },
    };
  },
});

const gatedPlugin: Plugin = { name: 'gated-test', components: [gatedSink] };
const registry = testRegistry(gatedPlugin);
const h = new Harness();
afterEach(() => {
  // A job stopped while its sink is stuck would wait for the sink at its final checkpoint.
  for (const gate of gates.values()) gate.open();
  return h.stopAll();
});

test('a sink that does not take records stops the sources until it does', async () => {
  const dir = await h.dir();
  const gate = new Gate();
  gates.set('slow', gate);
  const capacity = 4;
  const batchSize = 2;
  const plan = planFrom(
    `
name: backpressure
settings: { checkpoint: { interval: 0, dir: ./ckpt }, sink_queue_records: ${capacity}, batch_size: ${batchSize} }
sources:
  in: { type: memory, channel: backpressure }
steps:
  - { id: doubled, type: map, fields: { y: x * 2 } }
sinks:
  out: { type: gated, gate: slow }
`,
    dir,
    registry,
  );
  const channel = memoryChannel('backpressure', ['p0', 'p1']);
  const perPartition = 60;
  for (let i = 0; i < perPartition; i += batchSize) {
    for (const p of ['p0', 'p1']) {
      const records: Row[] = [];
      for (let j = i; j < i + batchSize; j++) records.push({ p, x: j });
      channel.push(p, ...records);
    }
  }
  const job = await Job.create(plan, { registry, tickInterval: 5 });
  const running = h.run(job);

  await waitFor('the first write to start', () => gate.writesStarted === 1);
  await sleep(150);
  // Each read loop reads a batch only while the queue is below capacity: at most one batch per
  // partition can land on a queue just under it.
  const readWhileShut = job.metrics().recordsIn;
  assert.ok(readWhileShut >= capacity, `${readWhileShut} records read`);
  assert.ok(readWhileShut < capacity + 2 * batchSize, `${readWhileShut} records read`);
  await sleep(100);
  assert.equal(job.metrics().recordsIn, readWhileShut, 'reading stays stopped while the sink is stuck');
  assert.equal(gate.writesStarted, 1);
  assert.equal(gate.written.length, 0);

  gate.open();
  await waitFor('every record written', () => gate.written.length === 2 * perPartition);
  channel.end();
  const result = await running;
  assert.equal(result.status, 'completed');
  assert.equal(result.metrics.recordsIn, 2 * perPartition);
  assert.equal(result.metrics.sinks.out.written, 2 * perPartition);
  assert.equal(gate.closed, true);
  for (const p of ['p0', 'p1']) {
    assert.deepEqual(
      gate.written.filter((r) => r.p === p),
      Array.from({ length: perPartition }, (_, x) => ({ p, x, y: 2 * x })),
      `partition ${p} arrives complete and in order`,
    );
  }
});

test('a graceful stop drains a slow sink into the final checkpoint instead of aborting its writes', async () => {
  const dir = await h.dir();
  const gate = new Gate();
  gates.set('stop', gate);
  const plan = planFrom(
    `
name: stop-drains
settings: { checkpoint: { interval: 0, dir: ./ckpt }, sink_queue_records: 4 }
sources:
  in: { type: memory, channel: stop-drains }
sinks:
  out: { type: gated, gate: stop, abortable: true }
`,
    dir,
    registry,
  );
  const channel = memoryChannel('stop-drains', ['p0']);
  for (let x = 0; x < 10; x++) channel.push('p0', { x });
  const job = await Job.create(plan, { registry, tickInterval: 5 });
  const running = h.run(job);
  await waitFor('the first write to start', () => gate.writesStarted === 1);
  await sleep(20);
  const read = job.metrics().recordsIn;
  job.stop();
  await sleep(20);
  gate.open();
  const result = await running;
  assert.equal(result.status, 'stopped');
  assert.equal(result.metrics.recordsIn, read);
  assert.deepEqual(
    gate.written,
    Array.from({ length: read }, (_, x) => ({ x })),
    'everything read before the stop was written',
  );
  assert.equal(result.metrics.lastCheckpointId, 1);
});

test('a sink queue is bounded in bytes as well as in records', async () => {
  const dir = await h.dir();
  const gate = new Gate();
  gates.set('bytes', gate);
  const plan = planFrom(
    `
name: backpressure-bytes
settings: { checkpoint: { interval: 0, dir: ./ckpt }, sink_queue_records: 10000, sink_queue_bytes: 8kb, batch_size: 2 }
sources:
  in: { type: memory, channel: backpressure-bytes }
sinks:
  out: { type: gated, gate: bytes }
`,
    dir,
    registry,
  );
  const channel = memoryChannel('backpressure-bytes', ['p0']);
  const records = Array.from({ length: 60 }, (_, x) => ({ x, pad: 'x'.repeat(1000) }));
  channel.push('p0', ...records);
  const job = await Job.create(plan, { registry, tickInterval: 5 });
  const running = h.run(job);
  await waitFor('the first write to start', () => gate.writesStarted === 1);
  await sleep(150);
  // About 1 kB a record: the queue is full past 8 records; one more batch of 2 may land on it.
  const readWhileShut = job.metrics().recordsIn;
  assert.ok(readWhileShut >= 8 && readWhileShut <= 11, `${readWhileShut} records read`);
  gate.open();
  await waitFor('every record written', () => gate.written.length === records.length);
  channel.end();
  assert.equal((await running).status, 'completed');
  assert.deepEqual(gate.written, records);
});
