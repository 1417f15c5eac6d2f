/**
 * A Redis outage while the sink writes, made with a TCP proxy in front of the machine's Redis
 * (which other sessions share, so it is never stopped): the proxy drops every connection and
 * refuses new ones for a while, then comes back on the same port. A write started during the
 * outage retries with backoff and resolves once Redis has every record; one that outlasts its
 * retries fails with SINK_UNAVAILABLE.
 */

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { SluiceError } from '@sluice/core';
import { OutageProxy } from '@sluice/core/testing';
import {
  batch,
  dropKeys,
  keptLog,
  openSink,
  REDIS_HOST,
  redisAvailable,
  type TestClient,
  testClient,
  uniqueName,
} from './test-support.ts';

const available = await redisAvailable();
const client: TestClient | undefined = available ? await testClient() : undefined;
const prefix = uniqueName('outage');
after(async () => {
  if (client === undefined) return;
  await dropKeys(client, prefix);
  await client.close();
});

const rows = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => ({ id: from + i, v: `v${from + i}` }));

describe('redis sink through an outage', { skip: !available }, () => {
  test('a write during an outage retries with backoff and resolves once Redis has every record', async () => {
    const r = client as TestClient;
    const proxy = new OutageProxy(REDIS_HOST);
    await proxy.up();
    const log = keptLog();
    const key = `${prefix}:entries`;
    const sink = await openSink(
      {
        url: `redis://${proxy.address}`,
        mode: 'stream',
        key,
        retry: { initial_backoff: '50ms', max_backoff: '200ms', max_attempts: 100 },
      },
      log,
    );
    try {
      assert.equal(await sink.write(batch(rows(0, 100))), undefined);
      await proxy.down();
      const during = sink.write(batch(rows(100, 200)));
      await new Promise((res) => setTimeout(res, 1000));
      await proxy.up();
      assert.equal(await during, undefined, 'nothing refused');
      assert.equal(await sink.write(batch(rows(200, 300))), undefined);
    } finally {
      await sink.close();
      await proxy.down();
    }
    const ids = (await r.xRange(key, '-', '+')).map((e) => Number(e.message.id));
    assert.deepEqual(
      ids,
      rows(0, 300).map((x) => x.id),
      'every record once, in order',
    );
    assert.ok(
      log.lines.some((l) => l.level === 'warn' && /retrying/.test(l.message)),
      'the retries are logged',
    );
  });

  test('an outage longer than the retries fails the write with SINK_UNAVAILABLE', async () => {
    const proxy = new OutageProxy(REDIS_HOST);
    await proxy.up();
    const log = keptLog();
    const sink = await openSink(
      {
        url: `redis://${proxy.address}`,
        mode: 'hash',
        key: `${prefix}:{id}`,
        retry: { initial_backoff: '20ms', max_backoff: '50ms', max_attempts: 4 },
      },
      log,
    );
    try {
      await proxy.down();
      await assert.rejects(sink.write(batch(rows(0, 5))), (err: unknown) => {
        assert.ok(err instanceof SluiceError);
        assert.equal(err.code, 'SINK_UNAVAILABLE');
        assert.match(err.message, /command\(s\) not written/);
        return true;
      });
    } finally {
      await sink.abort();
      await proxy.down();
    }
  });

  test('a server that cannot be reached fails the open with SINK_UNAVAILABLE after the retries, naming no secret', async () => {
    const proxy = new OutageProxy(REDIS_HOST);
    await proxy.up();
    await proxy.down(); // a port on which nothing listens now
    const secret = `pw-${process.pid}-do-not-leak`;
    const log = keptLog();
    try {
      await assert.rejects(
        openSink(
          {
            url: `redis://:${secret}@${proxy.address}`,
            mode: 'hash',
            key: `${prefix}:{id}`,
            retry: { initial_backoff: '10ms', max_backoff: '20ms', max_attempts: 3 },
          },
          log,
        ),
        (err: unknown) => {
          assert.ok(err instanceof SluiceError);
          assert.equal(err.code, 'SINK_UNAVAILABLE');
          assert.match(err.message, /cannot connect to Redis at 127\.0\.0\.1:\d+/);
          assert.ok(!err.message.includes(secret));
          return true;
        },
      );
      assert.equal(log.lines.filter((l) => /retrying/.test(l.message)).length, 2, 'two retries logged');
      assert.ok(!JSON.stringify(log.lines).includes(secret), 'no secret in the logs');
    } finally {
      await proxy.down();
    }
  });
});

describe('redis sink against a server that never answers', () => {
  test('the open fails with SINK_UNAVAILABLE after reply_timeout, on each attempt', async () => {
    // A TCP server that accepts connections and never answers: a hung Redis.
    const sockets: Socket[] = [];
    const server = createServer((s) => sockets.push(s)).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const started = performance.now();
    try {
      await assert.rejects(
        openSink({
          url: `redis://127.0.0.1:${port}`,
          mode: 'hash',
          key: 'k:{id}',
          reply_timeout: '1s',
          retry: { initial_backoff: '10ms', max_backoff: '20ms', max_attempts: 2 },
        }),
        (err: unknown) => {
          assert.ok(err instanceof SluiceError);
          assert.equal(err.code, 'SINK_UNAVAILABLE');
          assert.match(err.message, /timeout/i);
          return true;
        },
      );
      const ms = performance.now() - started;
      assert.ok(ms >= 1900 && ms < 10_000, `two attempts of about 1s each (${Math.round(ms)} ms)`);
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });
});
