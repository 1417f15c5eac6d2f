/**
 * The `kafka` source's consumer lag (`SourceReader.lag`) against the real broker: each
 * partition's end less the reader's position, before and after it reads what was produced; and
 * a job reporting it in `JobMetrics.sources[id].lag`.
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { builtins, Job, parsePipelineYaml, Registry } from '@sluice/core';
import { kafka } from './index.ts';
import {
  KAFKA_BROKER,
  kafkaAvailable,
  openKafkaReader,
  produce,
  readUntil,
  Topics,
  uniqueName,
} from './test-support.ts';

const available = await kafkaAvailable();
const topics = new Topics();
after(() => topics.cleanup());

/** `n` JSON records from `from` on, spread evenly over partitions 0..2. */
function numbered(n: number, from = 0) {
  return Array.from({ length: n }, (_, k) => ({
    partition: (from + k) % 3,
    value: JSON.stringify({ n: from + k }),
  }));
}

test('kafka lag is each partition’s end less the reader’s position', { skip: !available }, async () => {
  const name = await topics.create('lag');
  await produce(name, numbered(30));
  const reader = await openKafkaReader({ topics: [name], group_id: uniqueName('g'), start: 'earliest' });
  try {
    const signal = new AbortController().signal;
    await readUntil(reader, (c) => c.records.length >= 30);
    assert.deepEqual(await reader.lag?.(signal), {
      unit: 'records',
      partitions: { [`${name}/0`]: 0, [`${name}/1`]: 0, [`${name}/2`]: 0 },
    });
    await produce(name, numbered(12, 30));
    assert.deepEqual((await reader.lag?.(signal))?.partitions, {
      [`${name}/0`]: 4,
      [`${name}/1`]: 4,
      [`${name}/2`]: 4,
    });
    await readUntil(reader, (c) => c.records.length >= 12);
    const lag = await reader.lag?.(signal);
    assert.deepEqual(Object.values(lag?.partitions ?? {}), [0, 0, 0]);
  } finally {
    await reader.close();
  }
});

test('a kafka job reports its consumer lag in its metrics', { skip: !available }, async () => {
  const name = await topics.create('lag-job');
  await produce(name, numbered(9));
  const dir = await mkdtemp(join(tmpdir(), 'sluice-kafka-lag-'));
  try {
    const registry = new Registry([builtins, kafka]);
    const plan = parsePipelineYaml(
      `
name: ${uniqueName('lag-job')}
settings: { checkpoint: { interval: 1s, dir: ${dir} } }
sources:
  in: { type: kafka, brokers: ["${KAFKA_BROKER}"], topics: [${name}], group_id: ${uniqueName('g')}, start: earliest }
sinks:
  out: { type: discard }
`,
      join(dir, 'pipeline.yaml'),
      { registry },
    );
    const job = await Job.create(plan, { registry, fromScratch: true, lagInterval: 50 });
    const done = job.run();
    const deadline = Date.now() + 30_000;
    const caughtUp = () => {
      const m = job.metrics().sources.in;
      return (
        m?.in === 9 &&
        Object.keys(m.lag ?? {}).length === 3 &&
        Object.values(m.lag ?? {}).every((l) => l === 0)
      );
    };
    while (!caughtUp() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    job.stop();
    await done;
    const m = job.metrics().sources.in;
    assert.equal(m?.lagUnit, 'records');
    assert.deepEqual(m?.lag, { [`${name}/0`]: 0, [`${name}/1`]: 0, [`${name}/2`]: 0 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
