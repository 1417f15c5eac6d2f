/**
 * A Kafka → filter → Kafka job against the real broker: records no step changes are written as
 * the producer wrote them (spacing, key order, `1.0`, an integer beyond 2^53 that `JSON.parse`
 * would round), in both delivery modes, read back by Kafka's own console consumer.
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { builtins, Job, parsePipelineYaml, Registry } from '@sluice/core';
import { kafka } from './index.ts';
import { consoleConsume, KAFKA_BROKER, kafkaAvailable, produce, Topics, uniqueName } from './test-support.ts';

const available = await kafkaAvailable();
const topics = new Topics();
const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  await topics.cleanup();
});

const registry = new Registry([builtins, kafka]);

/** Values as a producer might spell them; the one with amount -1 is filtered out. */
const VALUES = [
  '{ "user": "ann", "amount": 1.0, "id": 12345678901234567891 }',
  '{"amount":25,"user":"bob"}',
  '{"user": "cy", "amount": -1}',
  '{"user":"dee","amount":2.50,"note":"caf\\u00e9"}',
];
const KEPT = [VALUES[0], VALUES[1], VALUES[3]];

async function waitFor(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('kafka pass-through', { skip: !available }, () => {
  for (const delivery of ['at_least_once', 'exactly_once'] as const) {
    test(`${delivery}: unchanged records are written as the producer wrote them`, async () => {
      const input = await topics.create(`pass-in-${delivery}`, 1);
      const output = await topics.create(`pass-out-${delivery}`, 1);
      await produce(
        input,
        VALUES.map((value) => ({ partition: 0, value })),
      );
      const dir = await mkdtemp(join(tmpdir(), 'sluice-kafka-pass-'));
      dirs.push(dir);
      const yaml = `
name: kafka-pass
settings: { checkpoint: { interval: 200ms, dir: ./ckpt } }
sources:
  in:
    type: kafka
    brokers: ['${KAFKA_BROKER}']
    topics: ['${input}']
    group_id: '${uniqueName('pass')}'
    include_metadata: false
steps:
  - { id: positive, type: filter, where: amount > 0 }
sinks:
  out:
    type: kafka
    brokers: ['${KAFKA_BROKER}']
    topic: '${output}'
    key: user
    delivery: ${delivery}
    transactional_id: '${uniqueName('pass-tx')}'
`;
      const plan = parsePipelineYaml(yaml, join(dir, 'pipeline.yaml'), { registry });
      const job = await Job.create(plan, { registry, fromScratch: true });
      const done = job.run();
      await waitFor(
        'the kept records written',
        () => (job.metrics().sinks.out?.written ?? 0) === KEPT.length,
      );
      job.stop();
      const result = await done;
      assert.equal(result.metrics.filtered, 1);
      const read = await consoleConsume(output, {
        isolation: 'read_committed',
        maxMessages: KEPT.length,
        atLeast: KEPT.length,
      });
      assert.deepEqual(
        read.map((r) => r.value),
        KEPT,
        'byte for byte what the producer wrote',
      );
      assert.deepEqual(
        read.map((r) => r.key),
        ['ann', 'bob', 'dee'],
      );
    });
  }
});
