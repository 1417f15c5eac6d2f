/**
 * `sluice nexmark` to Kafka: the topic holds exactly the events of the `nexmark` source, one JSON
 * value each in the reference form, as Kafka's own console consumer (an independent client) and
 * the `kafka` source read them back.
 */

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { NexmarkGenerator, type Row } from '@sluice/core';
import {
  consoleConsume,
  KAFKA_BROKER,
  kafkaAvailable,
  openKafkaReader,
  readUntil,
  Topics,
  uniqueName,
} from '@sluice/kafka/testing';
import { Cli, canonical, tempDir } from './cli-test-support.ts';
import { endOffsets } from './kafka-cli-test-support.ts';

const available = await kafkaAvailable();
const topics = new Topics();
after(() => topics.cleanup());

const EVENTS = 5000;

test('sluice nexmark → Kafka topic, read back by the console consumer and the kafka source', {
  skip: !available,
}, async (t) => {
  const topic = await topics.create('nexmark', 2);
  const dir = await tempDir(t, 'sluice-nexmark-kafka-');
  const cli = new Cli(
    ['nexmark', '--events', String(EVENTS), '--seed', '3', '--kafka-brokers', KAFKA_BROKER, '--topic', topic],
    { cwd: dir, limitMs: 60_000 },
  );
  const ended = await cli.exited;
  assert.equal(ended.code, 0, ended.stderr);
  assert.match(ended.stderr, new RegExp(`${EVENTS} events to Kafka topic ${topic}`));
  assert.equal((await endOffsets([topic])).get(topic), EVENTS, 'one message per event');

  const generator = new NexmarkGenerator({
    seed: 3,
    baseTime: Date.UTC(2026, 0, 1),
    eventsPerSecond: 100_000,
  });
  const want: Row[] = Array.from({ length: EVENTS }, (_, n) => generator.event(n));
  const wantTexts = new Set(want.map((e) => JSON.stringify(e)));

  const consumed = await consoleConsume(topic, { maxMessages: EVENTS, idleMs: 15_000 });
  assert.equal(consumed.length, EVENTS);
  const missing = consumed.filter((r) => !wantTexts.has(r.value ?? '')).length;
  assert.equal(missing, 0, 'every message value is an event exactly as the reference form spells it');

  const reader = await openKafkaReader({
    topics: [topic],
    group_id: uniqueName('nexmark-g'),
    include_metadata: false,
  });
  try {
    const read = await readUntil(reader, (c) => c.records.length >= EVENTS, 30_000);
    assert.equal(read.failures.length, 0);
    const got = canonical(read.records);
    const differ = canonical(want).filter((text, i) => got[i] !== text).length;
    assert.equal(got.length, EVENTS);
    assert.equal(differ, 0, 'the kafka source reads the same records');
  } finally {
    await reader.close();
  }
});
