/**
 * Event time over a multiplexed Kafka source: every assigned partition holds the watermark back
 * from its assignment, not only from its first records. The records of all three partitions are
 * in the topic before the job starts, so one fetch brings them all and the reader hands them out
 * one partition at a time; the first partition's closing record must not make the others late.
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { builtins, Job, type Plugin, parsePipelineYaml, Registry } from '@sluice/core';
import { memorySinkStore, testing } from '@sluice/core/testing';
import { kafkaSource } from './source.ts';
import {
  KAFKA_BROKER,
  kafkaAvailable,
  type ProducedRecord,
  produce,
  Topics,
  uniqueName,
} from './test-support.ts';

const available = await kafkaAvailable();
const topics = new Topics();
const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  await topics.cleanup();
});

const registry = new Registry([
  builtins,
  testing,
  { name: 'kafka-source', components: [kafkaSource] } as Plugin,
]);
const T0 = Date.UTC(2026, 0, 1);

test('a partition read after another does not find its records late', { skip: !available }, async () => {
  const topic = await topics.create('wm', 3);
  const store = uniqueName('wm-store');
  const dir = await mkdtemp(join(tmpdir(), 'sluice-kafka-wm-'));
  dirs.push(dir);
  // Per partition: 20 records over 20 s of event time, then one an hour later that closes them.
  const records: ProducedRecord[] = [];
  for (let p = 0; p < 3; p++) {
    for (let i = 0; i < 20; i++)
      records.push({ partition: p, value: JSON.stringify({ p, ts: T0 + i * 1_000 }) });
    records.push({ partition: p, value: JSON.stringify({ p, ts: T0 + 3_600_000 }) });
  }
  await produce(topic, records);

  const plan = parsePipelineYaml(
    `
name: kafka-watermark
settings: { checkpoint: { interval: 200ms, dir: ./ckpt }, idle_timeout: 60s }
sources:
  in:
    type: kafka
    brokers: ['${KAFKA_BROKER}']
    topics: ['${topic}']
    group_id: '${uniqueName('g')}'
    heartbeat_interval: 300ms
    event_time: { field: ts }
steps:
  - id: per-partition
    type: aggregate
    key: [p]
    window: { type: tumbling, size: 10s }
    on_late: dead_letter
    fields: { n: count(*) }
sinks:
  out: { type: memory, store: '${store}' }
dead_letter: { type: memory, store: '${store}-dead' }
`,
    join(dir, 'pipeline.yaml'),
    { registry },
  );
  const out = memorySinkStore(store);
  const job = await Job.create(plan, { registry });
  const run = job.run();
  try {
    const deadline = Date.now() + 30_000;
    while (out.committed.length < 6 && job.metrics().late === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
    }
  } finally {
    job.stop();
    await run;
  }
  assert.equal(job.metrics().late, 0, 'no record is late');
  assert.deepEqual(out.committed.map((r) => `${r.p}@${(r.window_start as number) - T0}:${r.n}`).sort(), [
    '0@0:10',
    '0@10000:10',
    '1@0:10',
    '1@10000:10',
    '2@0:10',
    '2@10000:10',
  ]);
});
