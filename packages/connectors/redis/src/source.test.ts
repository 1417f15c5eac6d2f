/**
 * The `redis` source against the machine's Redis, beyond the conformance suite: workers sharing a
 * group, taking over a dead worker's entries, poison entries, the acknowledgement window, entry
 * decoding, pub/sub, config checks and an outage.
 */

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { type Row, SluiceError, validateConfig } from '@sluice/core';
import { OutageProxy } from '@sluice/core/testing';
import { redisSource } from './source.ts';
import type { RedisSourceConfig } from './source-config.ts';
import { REDIS_HOST, redisAvailable, type TestClient, testClient, uniqueName } from './test-support.ts';
import { addEntries, openSource, readAtLeast } from './test-support-source.ts';

const available = await redisAvailable();
const client: TestClient | undefined = available ? await testClient() : undefined;
const streams: string[] = [];
after(async () => {
  if (client === undefined) return;
  if (streams.length > 0) await client.del(streams);
  await client.close();
});

function fresh(what: string): string {
  const stream = uniqueName(what);
  streams.push(stream);
  return stream;
}

const rows = (from: number, to: number): Row[] =>
  Array.from({ length: to - from }, (_, i) => ({ id: from + i }));
const ids = (records: Row[]) => records.map((r) => Number(r.id)).sort((a, b) => a - b);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function pendingCount(stream: string, group: string): Promise<number> {
  const summary = (await (client as TestClient).sendCommand(['XPENDING', stream, group])) as [
    number,
    ...unknown[],
  ];
  return Number(summary[0]);
}

describe('redis stream source', { skip: !available }, () => {
  test('entries become records from their fields, timed by their ids; acknowledged only at commit', async () => {
    const r = client as TestClient;
    const stream = fresh('fields');
    await r.xAdd(stream, '1700000000000-0', { device: 'a', temp: '21.5' });
    await r.xAdd(stream, '1700000000500-0', { device: 'b', temp: '19' });
    const reader = await openSource({ stream, group: 'g', start: '0' });
    try {
      const batch = await reader.read(10, new AbortController().signal);
      assert.deepEqual(batch?.records, [
        { device: 'a', temp: '21.5' },
        { device: 'b', temp: '19' },
      ]);
      assert.deepEqual(batch?.times, [1700000000000, 1700000000500]);
      assert.deepEqual(batch?.offsets, ['1700000000000-0', '1700000000500-0']);
      assert.equal(await pendingCount(stream, 'g'), 2, 'read, not acknowledged');
      await reader.commit?.(reader.position());
      assert.equal(await pendingCount(stream, 'g'), 0, 'acknowledged at the commit');
    } finally {
      await reader.close();
    }
  });

  test('a restart reads its pending entries again except those the restored checkpoint covers', async () => {
    const r = client as TestClient;
    const stream = fresh('restart');
    await addEntries(r, stream, rows(0, 10));
    const options = { stream, group: 'g', consumer: 'w', start: '0' };
    const first = await openSource(options);
    const before = await readAtLeast(first, 10);
    assert.deepEqual(ids(before.records), range(0, 10));
    const checkpoint = first.position();
    await addEntries(r, stream, rows(10, 15));
    const afterCheckpoint = await readAtLeast(first, 5);
    assert.deepEqual(ids(afterCheckpoint.records), range(10, 15));
    await first.close(); // a crash: the checkpoint was durable, its commit never ran
    await addEntries(r, stream, rows(15, 20));
    const second = await openSource(options, { restored: checkpoint });
    try {
      const again = await readAtLeast(second, 10);
      assert.deepEqual(
        ids(again.records),
        range(10, 20),
        'after the checkpoint once more, then the new ones',
      );
      const extra = await second.read(64, new AbortController().signal);
      assert.deepEqual(extra?.records, []);
      assert.equal(await pendingCount(stream, 'g'), 10, 'the covered entries were acknowledged at open');
    } finally {
      await second.close();
    }
  });

  test('two workers in one group share the entries: each read by one of them', async () => {
    const r = client as TestClient;
    const stream = fresh('shared');
    const a = await openSource({ stream, group: 'g', consumer: 'a', start: '0' });
    const b = await openSource({ stream, group: 'g', consumer: 'b', start: '0' });
    try {
      await addEntries(r, stream, rows(0, 200));
      const got: Row[][] = [[], []];
      const signal = new AbortController().signal;
      for (let i = 0; i < 50 && got[0].length + got[1].length < 200; i++) {
        // Small reads, alternately, as two busy workers would.
        got[0].push(...((await a.read(8, signal))?.records ?? []));
        got[1].push(...((await b.read(8, signal))?.records ?? []));
      }
      assert.ok(got[0].length > 0 && got[1].length > 0, `both worked (${got[0].length} / ${got[1].length})`);
      assert.deepEqual(ids([...got[0], ...got[1]]), range(0, 200), 'every entry once');
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('entries a dead worker left pending longer than claim_idle are taken over by another', async () => {
    const r = client as TestClient;
    const stream = fresh('claim');
    await addEntries(r, stream, rows(0, 20));
    const dead = await openSource({ stream, group: 'g', consumer: 'dead', start: '0' });
    assert.equal((await readAtLeast(dead, 20)).records.length, 20);
    await dead.close(); // dies with 20 entries pending
    await addEntries(r, stream, rows(20, 25));
    await sleep(300);
    const alive = await openSource({ stream, group: 'g', consumer: 'alive', claim_idle: '250ms' });
    try {
      const got = await readAtLeast(alive, 25);
      assert.deepEqual(ids(got.records), range(0, 25), 'the dead worker’s entries and the new ones');
      await alive.commit?.(alive.position());
      assert.equal(await pendingCount(stream, 'g'), 0);
    } finally {
      await alive.close();
    }
  });

  test('an entry delivered more than max_deliveries times goes to the dead letters with the count', async () => {
    const r = client as TestClient;
    const stream = fresh('poison');
    await addEntries(r, stream, rows(0, 3));
    const options = { stream, group: 'g', consumer: 'w', start: '0', max_deliveries: 2 };
    // Two runs that crash before any checkpoint: each delivery counts.
    for (let run = 0; run < 2; run++) {
      const reader = await openSource(options);
      const got = await readAtLeast(reader, 3);
      assert.deepEqual(ids(got.records), [0, 1, 2], `run ${run} reads them`);
      await reader.close();
    }
    const third = await openSource(options);
    try {
      const got = await readAtLeast(third, 3);
      assert.deepEqual(got.records, []);
      assert.equal(got.failures.length, 3);
      assert.match(got.failures[0]?.message ?? '', /was delivered 3 times, more than max_deliveries \(2\)/);
      assert.deepEqual(JSON.parse(got.failures[0]?.payload ?? ''), { id: '0' });
      await third.commit?.(third.position());
      assert.equal(await pendingCount(stream, 'g'), 0, 'acknowledged with the checkpoint');
    } finally {
      await third.close();
    }
  });

  test('half of max_pending unacknowledged asks for a checkpoint; at max_pending nothing more is read', async () => {
    const r = client as TestClient;
    const stream = fresh('window');
    await addEntries(r, stream, rows(0, 30));
    let requests = 0;
    const reader = await openSource(
      { stream, group: 'g', start: '0', max_pending: 10 },
      { requestCheckpoint: () => requests++ },
    );
    try {
      const signal = new AbortController().signal;
      assert.equal((await reader.read(4, signal))?.records.length, 4);
      assert.equal(requests, 0);
      assert.equal((await reader.read(4, signal))?.records.length, 4);
      assert.ok(requests > 0, 'a checkpoint was asked for');
      assert.equal((await reader.read(64, signal))?.records.length, 2, 'up to the window');
      assert.equal((await reader.read(64, signal))?.records.length, 0, 'a full window reads nothing');
      await reader.commit?.(reader.position());
      assert.equal((await reader.read(64, signal))?.records.length, 10, 'the commit opened the window');
    } finally {
      await reader.close();
    }
  });

  test('a lost connection fails the read with SOURCE_UNAVAILABLE; once back, nothing is lost or read twice', async () => {
    const r = client as TestClient;
    const stream = fresh('outage');
    const proxy = new OutageProxy(REDIS_HOST);
    await proxy.up();
    const reader = await openSource({ url: `redis://${proxy.address}`, stream, group: 'g', start: '0' });
    try {
      await addEntries(r, stream, rows(0, 10));
      const before = await readAtLeast(reader, 10);
      await proxy.down();
      await addEntries(r, stream, rows(10, 20));
      await assert.rejects(reader.read(64, new AbortController().signal), (err: unknown) => {
        assert.ok(err instanceof SluiceError);
        assert.equal(err.code, 'SOURCE_UNAVAILABLE');
        assert.equal(err.retryable, true);
        return true;
      });
      await proxy.up();
      const after: Row[] = [];
      const deadline = Date.now() + 10_000;
      while (after.length < 10 && Date.now() < deadline) {
        try {
          after.push(...(await readAtLeast(reader, 10 - after.length, 500)).records);
        } catch {
          await sleep(100); // the client is still reconnecting: the runtime retries the read
        }
      }
      assert.deepEqual(ids([...before.records, ...after]), range(0, 20));
    } finally {
      await reader.close();
      await proxy.down();
    }
  });

  test('config: the options each mode needs, and no options of the other mode', () => {
    const create = (options: { [k: string]: unknown }) => () => {
      const checked = validateConfig<RedisSourceConfig>(redisSource.config, options);
      assert.ok(checked.ok, JSON.stringify(checked));
      redisSource.create(checked.value);
    };
    assert.throws(create({ stream: 's' }), /needs `group`/);
    assert.throws(create({ group: 'g' }), /needs `stream`/);
    assert.throws(
      create({ stream: 's', group: 'g', format: 'text' }),
      /`format: text` is for `mode: pubsub`/,
    );
    assert.throws(create({ mode: 'pubsub' }), /needs `channels`/);
    assert.throws(create({ mode: 'pubsub', channels: ['c'], group: 'g' }), /`group` is for `mode: stream`/);
    assert.throws(create({ stream: 's', group: 'g', claim_idle: 'soon' }), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.path, 'claim_idle');
      return true;
    });
  });
});

describe('redis pub/sub source', { skip: !available }, () => {
  test('messages on subscribed channels and patterns become records; what is not JSON is a dead letter; an idle subscription stays open', async () => {
    const r = client as TestClient;
    const prefix = uniqueName('pubsub');
    const reader = await openSource({ mode: 'pubsub', channels: [`${prefix}:alerts`, `${prefix}:sensor:*`] });
    try {
      await r.publish(`${prefix}:alerts`, JSON.stringify({ level: 'high' }));
      await r.publish(`${prefix}:sensor:7`, JSON.stringify({ temp: 30 }));
      await r.publish(`${prefix}:other`, JSON.stringify({ not: 'subscribed' }));
      await r.publish(`${prefix}:alerts`, 'not json');
      const got = await readAtLeast(reader, 3);
      assert.deepEqual(got.records, [{ level: 'high' }, { temp: 30 }]);
      assert.equal(got.failures.length, 1);
      assert.match(got.failures[0]?.message ?? '', /message on channel '.*:alerts' is not valid JSON/);
      assert.equal(reader.position(), null, 'nothing to resume');
    } finally {
      await reader.close();
    }
    const text = await openSource({
      mode: 'pubsub',
      channels: [`${prefix}:t`],
      format: 'text',
      reply_timeout: '1s',
    });
    try {
      // Idle for longer than reply_timeout: the PINGs keep the subscription open.
      await sleep(2500);
      await r.publish(`${prefix}:t`, 'hello');
      assert.deepEqual((await readAtLeast(text, 1)).records, [{ channel: `${prefix}:t`, message: 'hello' }]);
    } finally {
      await text.close();
    }
  });
});
