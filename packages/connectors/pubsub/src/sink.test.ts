/**
 * The `pubsub` sink against the stand-in Pub/Sub server: batching into Publish requests,
 * ordering keys and attributes from expressions, per-key order kept.
 */

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Row, silentLogger, systemClock, validateConfig } from '@sluice/core';
import { pubsubSink } from './sink.ts';
import type { PubsubSinkConfig } from './sink-config.ts';
import { createTopic, PROJECT, PubSubStandIn, REPO_ROOT, uniqueName } from './test-support.ts';

const server = new PubSubStandIn();
before(() => server.start());
after(() => server.stop());

test('records are published in batches with ordering keys and attributes, in order per key', async () => {
  const topic = uniqueName('out');
  await createTopic(server, topic);
  const result = validateConfig<PubsubSinkConfig>(pubsubSink.config, {
    project: PROJECT,
    api_endpoint: server.endpoint,
    topic,
    ordering_key_expression: 'customer',
    attributes: { region: 'region', n: 'id' },
    max_messages: 10,
  });
  assert.ok(result.ok);
  const sink = pubsubSink.create(result.value);
  await sink.open({
    id: 'out',
    restored: undefined,
    clock: systemClock,
    baseDir: REPO_ROOT,
    signal: new AbortController().signal,
    log: silentLogger,
  });
  const records: Row[] = Array.from({ length: 45 }, (_, i) => ({
    id: i,
    customer: `c${i % 3}`,
    region: i % 2 === 0 ? 'EU' : 'US',
  }));
  const rejected = await sink.write({ records, times: records.map(() => 0) });
  await sink.close();
  assert.equal(rejected, undefined);
  const stored = server.topics.get(`projects/${PROJECT}/topics/${topic}`) ?? [];
  assert.equal(stored.length, 45);
  for (const key of ['c0', 'c1', 'c2']) {
    const ids = stored
      .filter((m) => m.orderingKey === key)
      .map((m) => (JSON.parse(m.data.toString()) as Row).id);
    const expected = records.filter((r) => r.customer === key).map((r) => r.id);
    assert.deepEqual(ids, expected, `messages of ${key} in order`);
  }
  for (const m of stored) {
    const row = JSON.parse(m.data.toString()) as Row;
    assert.deepEqual(m.attributes, { region: row.region, n: String(row.id) });
  }
  const publishes = server.calls.filter(
    (c) => c.method === 'Publish' && c.request.topic === `projects/${PROJECT}/topics/${topic}`,
  );
  assert.ok(publishes.length >= 5, 'batched into several Publish requests');
  for (const p of publishes)
    assert.ok((p.request.messages as unknown[]).length <= 10, 'at most max_messages each');
});

test('a Publish the service refuses for good sends the record to the dead letters', async () => {
  const topic = uniqueName('refused');
  await createTopic(server, topic);
  const result = validateConfig<PubsubSinkConfig>(pubsubSink.config, {
    project: PROJECT,
    api_endpoint: server.endpoint,
    topic,
    attributes: { big: 'payload' },
  });
  assert.ok(result.ok);
  const sink = pubsubSink.create(result.value);
  await sink.open({
    id: 'out',
    restored: undefined,
    clock: systemClock,
    baseDir: REPO_ROOT,
    signal: new AbortController().signal,
    log: silentLogger,
  });
  const records: Row[] = [
    { id: 1, payload: 'ok' },
    { id: 2, payload: 'x'.repeat(2000) },
  ];
  const rejected = await sink.write({ records, times: [0, 0] });
  await sink.close();
  assert.equal(rejected?.length, 1);
  assert.equal(rejected?.[0]?.index, 1);
  assert.match(rejected?.[0]?.message ?? '', /1024 bytes/);
  assert.equal(server.topics.get(`projects/${PROJECT}/topics/${topic}`)?.length, 1);
});
