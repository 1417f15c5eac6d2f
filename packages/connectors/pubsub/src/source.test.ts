/**
 * The `pubsub` source against the stand-in Pub/Sub server: leases renewed while records wait for
 * the checkpoint, a delivery again of a held message not read twice, the window of unacknowledged
 * messages as backpressure, ordering keys and attributes as metadata, and the subscription made
 * or refused at start.
 */

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PubSub } from '@google-cloud/pubsub';
import {
  type Row,
  SluiceError,
  type SourceReader,
  silentLogger,
  systemClock,
  validateConfig,
} from '@sluice/core';
import { clientConfig } from './connection.ts';
import { pubsubSource } from './source.ts';
import type { PubsubSourceConfig } from './source-config.ts';
import { createTopic, PROJECT, PubSubStandIn, publish, REPO_ROOT, uniqueName } from './test-support.ts';

const server = new PubSubStandIn();
before(() => server.start());
after(() => server.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function open(
  options: { [k: string]: unknown },
  restored: { [p: string]: unknown } = {},
  requestCheckpoint?: () => void,
): Promise<SourceReader> {
  const result = validateConfig<PubsubSourceConfig>(pubsubSource.config, {
    project: PROJECT,
    api_endpoint: server.endpoint,
    ...options,
  });
  assert.ok(result.ok, JSON.stringify(result.ok ? '' : result.issues));
  const readers = await pubsubSource.create(result.value).open({
    id: 'in',
    pipeline: 'pubsub-test',
    restored,
    clock: systemClock,
    baseDir: REPO_ROOT,
    signal: new AbortController().signal,
    log: silentLogger,
    ...(requestCheckpoint ? { requestCheckpoint } : {}),
  });
  assert.equal(readers.length, 1);
  return readers[0] as SourceReader;
}

async function readAtLeast(reader: SourceReader, n: number, timeout = 10_000): Promise<Row[]> {
  const out: Row[] = [];
  const deadline = Date.now() + timeout;
  const signal = new AbortController().signal;
  while (out.length < n && Date.now() < deadline) {
    const batch = await reader.read(100, signal);
    if (batch === null) break;
    out.push(...batch.records);
  }
  return out;
}

const full = (sub: string) => `projects/${PROJECT}/subscriptions/${sub}`;

test('leases of held messages are set on arrival and renewed until the checkpoint acknowledges them', async () => {
  const topic = uniqueName('lease');
  const sub = `${topic}-sub`;
  await createTopic(server, topic, sub);
  await publish(server, topic, [{ id: 1 }, { id: 2 }]);
  const reader = await open({ subscription: sub, ack_deadline: '12s' });
  try {
    const got = await readAtLeast(reader, 2);
    assert.equal(got.length, 2);
    const id = String((got[0]?._pubsub as { message_id?: string } | undefined)?.message_id);
    const modifies = () =>
      server.calls.filter(
        (c) =>
          c.method === 'ModifyAckDeadline' &&
          c.request.subscription === full(sub) &&
          c.request.ackDeadlineSeconds === 12,
      ).length;
    assert.ok(modifies() >= 1, 'the lease is set to ack_deadline as the messages arrive');
    const first = server.leaseEnd(full(sub), id) as number;
    // The renewal comes every third of the deadline (4 s); wait for it, bounded.
    const deadline = Date.now() + 15_000;
    while (modifies() < 2 && Date.now() < deadline) await sleep(100);
    assert.ok(modifies() >= 2, 'the lease is renewed');
    assert.ok((server.leaseEnd(full(sub), id) as number) > first, 'the renewal moved the deadline on');
    await reader.commit?.(reader.position());
    assert.equal(server.unacknowledged(full(sub)), 0, 'commit acknowledged both');
  } finally {
    await reader.close();
  }
});

test('a message delivered again while held is not read twice, and its newest ack id is acknowledged', async () => {
  const topic = uniqueName('again');
  const sub = `${topic}-sub`;
  await createTopic(server, topic, sub);
  await publish(server, topic, [{ id: 1 }, { id: 2 }, { id: 3 }]);
  const reader = await open({ subscription: sub });
  try {
    const read = await readAtLeast(reader, 3);
    assert.equal(read.length, 3);
    const firstId = String((read[0]?._pubsub as { message_id?: string } | undefined)?.message_id);
    const position = reader.position();
    server.expireLeases(full(sub));
    const pulls = server.calls.filter((c) => c.method === 'Pull').length;
    // Wait until the pump pulled the messages again (bounded), then read: nothing new.
    const deadline = Date.now() + 10_000;
    const delivered = () =>
      server.calls.filter((c) => c.method === 'Pull').length > pulls + 1 &&
      (server.leaseEnd(full(sub), firstId) ?? 0) > Date.now();
    while (!delivered() && Date.now() < deadline) await sleep(50);
    const again = await readAtLeast(reader, 1, 500);
    assert.deepEqual(again, [], 'the held messages are not read again');
    await reader.commit?.(position);
    assert.equal(server.unacknowledged(full(sub)), 0, 'acknowledged with the ack ids of the newest delivery');
  } finally {
    await reader.close();
  }
});

test('at most max_outstanding messages are held; an early checkpoint is asked for, and commit makes room', async () => {
  const topic = uniqueName('window');
  const sub = `${topic}-sub`;
  await createTopic(server, topic, sub);
  const records = Array.from({ length: 20 }, (_, i) => ({ id: i }));
  await publish(server, topic, records);
  let requested = 0;
  const reader = await open({ subscription: sub, max_outstanding: 6, pull_batch: 4 }, {}, () => {
    requested++;
  });
  try {
    const first = await readAtLeast(reader, 7, 1500);
    assert.equal(first.length, 6, 'no more than the window is pulled');
    assert.ok(requested > 0, 'an early checkpoint was asked for');
    // Each checkpoint's commit makes room for the next window.
    const all = [...first];
    const deadline = Date.now() + 10_000;
    while (all.length < records.length && Date.now() < deadline) {
      await reader.commit?.(reader.position());
      all.push(...(await readAtLeast(reader, 6, 1500)));
    }
    assert.deepEqual(
      all.map((r) => r.id),
      records.map((r) => r.id),
      'every record once, in publish order',
    );
  } finally {
    await reader.close();
  }
});

test('ordering keys and attributes are metadata; publish time is the batch time', async () => {
  const topic = uniqueName('meta');
  const sub = `${topic}-sub`;
  await createTopic(server, topic, sub);
  const client = new PubSub(clientConfig({ project: PROJECT, api_endpoint: server.endpoint }, REPO_ROOT));
  try {
    const t = client.topic(topic, { messageOrdering: true });
    await t.publishMessage({
      data: Buffer.from('{"id":1}'),
      orderingKey: 'customer-7',
      attributes: { region: 'EU' },
    });
    await t.publishMessage({ data: Buffer.from('{"id":2}') });
  } finally {
    await client.close();
  }
  const reader = await open({ subscription: sub });
  try {
    const got = await readAtLeast(reader, 2);
    const meta = got.map((r) => r._pubsub as { [k: string]: unknown });
    assert.equal(meta[0]?.ordering_key, 'customer-7');
    assert.deepEqual(meta[0]?.attributes, { region: 'EU' });
    assert.equal(meta[1]?.ordering_key, null);
    assert.deepEqual(meta[1]?.attributes, {});
    assert.equal(typeof meta[0]?.message_id, 'string');
    assert.ok(Math.abs(Number(meta[0]?.publish_time) - Date.now()) < 60_000, 'publish time in epoch ms');
  } finally {
    await reader.close();
  }
});

test('a missing subscription is created on `topic`, or refused without it', async () => {
  const topic = uniqueName('create');
  await createTopic(server, topic);
  await assert.rejects(
    open({ subscription: `${topic}-none` }),
    (err: unknown) =>
      err instanceof SluiceError && err.code === 'CONFIG_INVALID' && /does not exist/.test(err.message),
  );
  const reader = await open({ subscription: `${topic}-made`, topic, ordering: true, ack_deadline: '30s' });
  await reader.close();
  const created = server.calls.find(
    (c) => c.method === 'CreateSubscription' && c.request.name === full(`${topic}-made`),
  );
  assert.equal(created?.request.ackDeadlineSeconds, 30);
  assert.equal(created?.request.enableMessageOrdering, true);
  assert.equal(created?.request.topic, `projects/${PROJECT}/topics/${topic}`);
});
