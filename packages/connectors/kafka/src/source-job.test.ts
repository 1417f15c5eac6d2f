/**
 * The `kafka` source in a full Job against the real broker: kafka → map → memory sink with
 * checkpoints. Offsets are committed only after durable checkpoints, a restarted job continues
 * from its checkpoint (even when the group's offsets were reset), decode failures reach the
 * dead-letter output with their coordinates, and steps see the Kafka metadata.
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { builtins, Job, type Plugin, parsePipelineYaml, Registry, type Row } from '@sluice/core';
import { memorySinkStore, testing } from '@sluice/core/testing';
import { kafkaSource } from './source.ts';
import {
  committedOffsets,
  KAFKA_BROKER,
  kafkaAvailable,
  produce,
  setCommittedOffsets,
  Topics,
  uniqueName,
} from './test-support.ts';

const available = await kafkaAvailable();
const topics = new Topics();
const dirs: string[] = [];
/** Jobs a failing test could leave running: stopped before the clean-ups. */
const running: { job: Job; done: Promise<unknown> }[] = [];
after(async () => {
  for (const { job, done } of running) {
    job.stop();
    await done.catch(() => {});
  }
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  await topics.cleanup();
});

const kafkaPlugin: Plugin = { name: 'kafka-source', components: [kafkaSource] };
const registry = new Registry([builtins, testing, kafkaPlugin]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describe('kafka source in a job', { skip: !available }, () => {
  test('checkpoints commit offsets; a restart continues from the checkpoint, not the group', async () => {
    const topic = await topics.create('job', 3);
    const group = uniqueName('g');
    const store = uniqueName('store');
    const dir = await mkdtemp(join(tmpdir(), 'sluice-kafka-job-'));
    dirs.push(dir);

    const yaml = `
name: kafka-job
settings: { checkpoint: { interval: 150ms, dir: ./ckpt } }
sources:
  in: { type: kafka, brokers: ['${KAFKA_BROKER}'], topics: ['${topic}'], group_id: '${group}', heartbeat_interval: 300ms }
steps:
  - { id: tag, type: map, input: in, fields: { key: _kafka.key, part: _kafka.partition } }
sinks:
  out: { type: memory, store: '${store}', input: tag }
dead_letter: { type: memory, store: '${store}-dead' }
`;
    const plan = parsePipelineYaml(yaml, join(dir, 'pipeline.yaml'), { registry });
    const out = memorySinkStore(store);
    const dead = memorySinkStore(`${store}-dead`);

    const batch = (from: number, to: number) => {
      const records = [];
      for (let n = from; n < to; n++) {
        const value = n % 97 === 5 ? `{"n": ${n}, broken` : JSON.stringify({ n });
        records.push({ partition: n % 3, key: `k${n}`, value });
      }
      return records;
    };
    const good = (from: number, to: number) =>
      batch(from, to).filter((r) => !r.value.includes('broken')).length;
    const numbers = (rows: Row[]) => rows.map((r) => r.n as number).sort((a, b) => a - b);

    // Run 1: 600 records; the sink commits at checkpoints; stop (final checkpoint).
    await produce(topic, batch(0, 600));
    const job1 = await Job.create(plan, { registry });
    const run1 = job1.run();
    running.push({ job: job1, done: run1 });
    await waitFor('run 1 to commit every record', () => out.committed.length === good(0, 600));
    await waitFor('offsets committed after a durable checkpoint', async () => {
      const c = await committedOffsets(group, topic);
      return [0, 1, 2].every((p) => c.get(p) === 200);
    });
    job1.stop();
    assert.equal((await run1).status, 'stopped');
    assert.deepEqual(new Set(numbers(out.committed)).size, good(0, 600));
    for (const r of out.committed) {
      assert.equal(r.key, `k${r.n}`, 'steps read _kafka.key');
      assert.equal(r.part, (r.n as number) % 3, 'steps read _kafka.partition');
    }
    // Decode failures went to the dead-letter output with their coordinates.
    const letters = dead.committed as unknown as {
      code: string;
      partition: string;
      offset: number;
      message: string;
    }[];
    assert.equal(letters.length, 600 - good(0, 600));
    for (const l of letters) {
      assert.equal(l.code, 'DECODE_FAILED');
      assert.match(l.partition, new RegExp(`^${topic}/[0-2]$`));
      assert.match(
        l.message,
        new RegExp(`partition ${l.partition.slice(-1)} offset ${l.offset} is not valid JSON`),
      );
    }

    // An operator rewinds the group to the beginning; the checkpoint still wins.
    await setCommittedOffsets(
      group,
      topic,
      new Map([
        [0, 0],
        [1, 0],
        [2, 0],
      ]),
    );
    await produce(topic, batch(600, 900));

    // Run 2: restores the checkpoint and reads only the new records.
    const job2 = await Job.create(plan, { registry });
    const run2 = job2.run();
    running.push({ job: job2, done: run2 });
    await waitFor('run 2 to commit the new records', () => out.committed.length >= good(0, 900));
    await sleep(500); // nothing more may arrive
    job2.stop();
    await run2;
    const all = numbers(out.committed);
    assert.equal(all.length, good(0, 900), 'no duplicate after the restart');
    assert.equal(new Set(all).size, all.length);
    const committed = await committedOffsets(group, topic);
    for (let p = 0; p < 3; p++) assert.equal(committed.get(p), 300, `partition ${p} committed at its end`);
    const m = job2.metrics();
    assert.equal(m.sources.in.in, 900, 'records in, failures included, across both runs');
  });

  test('two jobs in one group: the second joins and leaves mid-stream, nothing is lost', async () => {
    const topic = await topics.create('job-rebalance', 4);
    const group = uniqueName('g');
    const dir = await mkdtemp(join(tmpdir(), 'sluice-kafka-job-'));
    dirs.push(dir);
    const plan = (name: string) =>
      parsePipelineYaml(
        `
name: ${name}
settings: { checkpoint: { interval: 150ms, dir: ./ckpt } }
sources:
  in: { type: kafka, brokers: ['${KAFKA_BROKER}'], topics: ['${topic}'], group_id: '${group}', heartbeat_interval: 200ms, session_timeout: 6s }
sinks:
  out: { type: memory, store: '${name}-${group}', input: in }
`,
        join(dir, 'pipeline.yaml'),
        { registry },
      );
    const outA = memorySinkStore(`a-${group}`);
    const outB = memorySinkStore(`b-${group}`);
    let produced = 0;
    const write = async (n: number) => {
      const records = [];
      for (let i = 0; i < n; i++, produced++)
        records.push({ partition: produced % 4, value: JSON.stringify({ n: produced }) });
      await produce(topic, records);
    };
    const delivered = () => new Set([...outA.committed, ...outB.committed].map((r) => r.n)).size;

    await write(400);
    const jobA = await Job.create(plan('a'), { registry });
    const runA = jobA.run();
    running.push({ job: jobA, done: runA });
    await waitFor('job A to deliver', () => outA.committed.length >= 400);

    const jobB = await Job.create(plan('b'), { registry });
    const runB = jobB.run();
    running.push({ job: jobB, done: runB });
    // Keep writing while the group rebalances, until B has delivered some of its share.
    await waitFor(
      'job B to deliver records of its partitions',
      async () => {
        await write(40);
        return outB.committed.length >= 60;
      },
      30_000,
    );
    jobB.stop();
    assert.equal((await runB).status, 'stopped');
    await write(400);
    await waitFor('every record to be delivered', () => delivered() === produced, 30_000);
    jobA.stop();
    assert.equal((await runA).status, 'stopped');
    const all = new Set([...outA.committed, ...outB.committed].map((r) => r.n as number));
    for (let n = 0; n < produced; n++) assert.ok(all.has(n), `record ${n} delivered`);
  });
});
