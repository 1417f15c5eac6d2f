/**
 * The `pubsub` source and sink through an outage of the stand-in Pub/Sub server (every call
 * answered UNAVAILABLE for a while): both retry with backoff, and nothing is lost.
 */

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Row, type SourceReader, silentLogger, systemClock, validateConfig } from '@sluice/core';
import { pubsubSink } from './sink.ts';
import type { PubsubSinkConfig } from './sink-config.ts';
import { pubsubSource } from './source.ts';
import type { PubsubSourceConfig } from './source-config.ts';
import { createTopic, PROJECT, PubSubStandIn, publish, REPO_ROOT, uniqueName } from './test-support.ts';

const server = new PubSubStandIn();
before(() => server.start());
after(() => server.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const context = {
  id: 'in',
  pipeline: 'pubsub-outage',
  clock: systemClock,
  baseDir: REPO_ROOT,
  signal: new AbortController().signal,
  log: silentLogger,
};

test('the source pulls again after an outage and reads every record once', async () => {
  const topic = uniqueName('outage-in');
  const sub = `${topic}-sub`;
  await createTopic(server, topic, sub);
  await publish(server, topic, [{ id: 0 }, { id: 1 }, { id: 2 }]);
  const config = validateConfig<PubsubSourceConfig>(pubsubSource.config, {
    project: PROJECT,
    api_endpoint: server.endpoint,
    subscription: sub,
  });
  assert.ok(config.ok);
  const [reader] = (await pubsubSource
    .create(config.value)
    .open({ ...context, restored: {} })) as SourceReader[];
  assert.ok(reader);
  const got: Row[] = [];
  const signal = new AbortController().signal;
  try {
    const deadline = Date.now() + 20_000;
    while (got.length < 3 && Date.now() < deadline)
      got.push(...((await reader.read(100, signal))?.records ?? []));
    server.unavailable = true;
    const failedBefore = server.calls.length;
    // Wait until the source has met the outage (bounded), then end it.
    while (server.calls.length === failedBefore && Date.now() < deadline) await sleep(50);
    server.unavailable = false;
    await publish(server, topic, [{ id: 3 }, { id: 4 }]);
    while (got.length < 5 && Date.now() < deadline)
      got.push(...((await reader.read(100, signal))?.records ?? []));
    assert.deepEqual(
      got.map((r) => r.id),
      [0, 1, 2, 3, 4],
    );
    await reader.commit?.(reader.position());
    assert.equal(server.unacknowledged(`projects/${PROJECT}/subscriptions/${sub}`), 0);
  } finally {
    server.unavailable = false;
    await reader.close();
  }
});

test('the sink retries a publish through an outage; every record arrives', async () => {
  const topic = uniqueName('outage-out');
  await createTopic(server, topic);
  const config = validateConfig<PubsubSinkConfig>(pubsubSink.config, {
    project: PROJECT,
    api_endpoint: server.endpoint,
    topic,
    retry: { max_attempts: 20, initial_backoff: '50ms', max_backoff: '200ms' },
  });
  assert.ok(config.ok);
  const sink = pubsubSink.create(config.value);
  await sink.open({ ...context, id: 'out', restored: undefined });
  const records: Row[] = Array.from({ length: 10 }, (_, i) => ({ id: i }));
  server.unavailable = true;
  const written = sink.write({ records, times: records.map(() => 0) });
  // Let the first attempts fail, then end the outage (bounded).
  const start = server.calls.length;
  const deadline = Date.now() + 10_000;
  while (server.calls.length === start && Date.now() < deadline) await sleep(20);
  server.unavailable = false;
  assert.equal(await written, undefined);
  await sink.close();
  const stored = server.topics.get(`projects/${PROJECT}/topics/${topic}`) ?? [];
  assert.deepEqual(
    [...new Set(stored.map((m) => (JSON.parse(m.data.toString()) as Row).id))].sort(
      (a, b) => Number(a) - Number(b),
    ),
    records.map((r) => r.id),
  );
});
