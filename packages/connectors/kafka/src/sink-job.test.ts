import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { builtins, Job, parsePipelineYaml, Registry } from '@sluice/core';
import { kafkaSink } from './sink.ts';
import { consoleConsume, KAFKA_BROKER, kafkaAvailable, Topics, uniqueName } from './test-support.ts';

const available = await kafkaAvailable();
const topics = new Topics();
const dirs: string[] = [];
after(async () => {
  await topics.cleanup();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const registry = new Registry([builtins, { name: 'kafka-sink', components: [kafkaSink] }]);

/** Runs a pipeline to completion: 3,000 generated orders (5% malformed, 5,000/s unless told) → map → kafka. */
async function run(options: { out: string; dlq: string; delivery: string; key: string; rate?: number }) {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-kafka-sink-'));
  dirs.push(dir);
  const yaml = `
name: ${uniqueName('kafka-sink-job')}
settings:
  batch_size: 256
  checkpoint: { interval: 100ms, dir: ./checkpoints }
sources:
  orders:
    type: generate
    template: orders
    count: 3000
    rate: ${options.rate ?? 5000}
    seed: 11
    malformed: 0.05
    start_time: ${Date.now() - 600_000}
    time_step: 1ms
steps:
  - id: enrich
    type: map
    input: orders
    fields:
      total: amount * items
      region: upper(region)
sinks:
  out:
    type: kafka
    input: enrich
    brokers: ['${KAFKA_BROKER}']
    topic: ${options.out}
    key: "${options.key}"
    delivery: ${options.delivery}
dead_letter:
  type: kafka
  brokers: ['${KAFKA_BROKER}']
  topic: ${options.dlq}
  delivery: ${options.delivery}
`;
  const plan = parsePipelineYaml(yaml, join(dir, 'pipeline.yaml'), { registry });
  const job = await Job.create(plan, { registry });
  const result = await job.run();
  assert.equal(result.status, 'completed');
  return result.metrics;
}

interface DeadLetterValue {
  step: string;
  code: string;
  message: string;
  payload: { seq: number };
}

describe('kafka sink in a job (real broker)', { skip: !available }, () => {
  test('at least once: records to one topic, dead letters (map failures, key failures) to another', async () => {
    const out = await topics.create('job-out', 3);
    const dlq = await topics.create('job-dlq', 1);
    // The key divides by zero on every 500th order: those become SINK_REJECTED dead letters.
    const metrics = await run({
      out,
      dlq,
      delivery: 'at_least_once',
      key: 'CAST(100 / (seq % 500) AS VARCHAR)',
    });
    const written = metrics.sinks.out.written;
    assert.ok(metrics.deadLetters > 0 && metrics.sinks.out.rejected > 0);
    assert.equal(written + metrics.deadLetters, 3000);
    const [records, letters] = await Promise.all([
      consoleConsume(out, {
        isolation: 'read_committed',
        maxMessages: written,
        idleMs: 10_000,
        atLeast: written,
      }),
      consoleConsume(dlq, {
        isolation: 'read_committed',
        maxMessages: metrics.deadLetters,
        idleMs: 10_000,
        atLeast: metrics.deadLetters,
      }),
    ]);
    const dead = letters.map((m) => JSON.parse(m.value!) as DeadLetterValue);
    assert.equal(dead.length, metrics.deadLetters);
    for (const d of dead) {
      assert.ok(typeof d.message === 'string' && d.message.length > 0);
      if (d.step === 'out') assert.equal(d.code, 'SINK_REJECTED');
      else assert.equal(d.step, 'enrich');
    }
    assert.equal(dead.filter((d) => d.step === 'out').length, metrics.sinks.out.rejected);
    const seqs = [
      ...records.map((m) => (JSON.parse(m.value!) as { seq: number }).seq),
      ...dead.map((d) => d.payload.seq),
    ];
    assert.deepEqual(
      seqs.sort((a, b) => a - b),
      Array.from({ length: 3000 }, (_, i) => i),
      'every order once: in the output or in the dead-letter topic',
    );
  });

  test('exactly once through the runtime’s checkpoints: read_committed sees every record once', async () => {
    const out = await topics.create('job-eos-out', 3);
    const dlq = await topics.create('job-eos-dlq', 1);
    // Three seconds of input, so that several checkpoints (transactions) fall inside it even when
    // a loaded machine makes each commit slow (at 5,000/s a CI run once saw only two).
    const metrics = await run({ out, dlq, delivery: 'exactly_once', key: 'customer_id', rate: 1000 });
    assert.ok(metrics.lastCheckpointId! > 2, 'several checkpoints, so several transactions');
    const [records, letters] = await Promise.all([
      consoleConsume(out, { isolation: 'read_committed', idleMs: 6000, atLeast: metrics.sinks.out.written }),
      consoleConsume(dlq, { isolation: 'read_committed', idleMs: 6000, atLeast: metrics.deadLetters }),
    ]);
    assert.equal(records.length, metrics.sinks.out.written);
    assert.equal(letters.length, metrics.deadLetters);
    const seqs = [
      ...records.map((m) => (JSON.parse(m.value!) as { seq: number }).seq),
      ...letters.map((m) => (JSON.parse(m.value!) as DeadLetterValue).payload.seq),
    ];
    assert.equal(new Set(seqs).size, 3000);
    assert.equal(seqs.length, 3000);
  });
});
