/**
 * The sink's RESP connection: Redis URLs read as node-redis reads them, and a connection to the
 * machine's Redis that keeps each error reply by the index of its command in a pipelined batch,
 * selects the URL's database and reports a refused AUTH with Redis's reason.
 */

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { RespEncoder } from './resp-encoder.ts';
import { parseRedisUrl, RespConnection, RespSetupError } from './resp-pipeline.ts';
import {
  dropKeys,
  REDIS_URL,
  redisAvailable,
  type TestClient,
  testClient,
  uniqueName,
} from './test-support.ts';

describe('Redis URLs', () => {
  test('host, port, TLS, user, password (percent-decoded) and database', () => {
    assert.deepEqual(parseRedisUrl('redis://127.0.0.1:6379'), { host: '127.0.0.1', port: 6379, tls: false });
    assert.deepEqual(parseRedisUrl('rediss://u:p%40ss@cache.example:6380/3'), {
      host: 'cache.example',
      port: 6380,
      tls: true,
      username: 'u',
      password: 'p@ss',
      database: 3,
    });
    assert.deepEqual(parseRedisUrl('redis://:secret@[::1]'), {
      host: '::1',
      port: 6379,
      tls: false,
      password: 'secret',
    });
    assert.throws(() => parseRedisUrl('http://x'), /scheme/);
    assert.throws(() => parseRedisUrl('redis://x/db'), /database number/);
  });
});

const available = await redisAvailable();
const client: TestClient | undefined = available ? await testClient() : undefined;
const prefix = uniqueName('resp');
after(async () => {
  if (client === undefined) return;
  await dropKeys(client, prefix);
  await client.close();
});

describe('RESP connection to Redis', { skip: !available }, () => {
  const options = (url: string) => ({
    endpoint: parseRedisUrl(url),
    connectTimeout: 5000,
    replyTimeout: 5000,
    name: 'sluice-resp-test',
  });

  test('a pipelined batch: every reply counted, the error reply of the refused command by its index', async () => {
    const r = client as TestClient;
    await r.set(`${prefix}:str`, 'a string');
    const connection = await RespConnection.connect(options(REDIS_URL));
    try {
      const encoder = new RespEncoder(64);
      for (let i = 0; i < 500; i++)
        encoder.command(['HSET', i === 250 ? `${prefix}:str` : `${prefix}:h:${i % 10}`, 'v', `é${i}`]);
      encoder.command(['XADD', `${prefix}:s`, '*', 'a', '1']);
      const result = await connection.send(encoder.bytes(), encoder.count);
      assert.equal(result.lost, undefined);
      assert.equal(result.replied, 501);
      assert.deepEqual(
        [...(result.errors ?? [])].map(([j, m]) => [j, m.split(' ')[0]]),
        [[250, 'WRONGTYPE']],
      );
      assert.equal(await r.hGet(`${prefix}:h:9`, 'v'), 'é499');
      assert.equal(await r.xLen(`${prefix}:s`), 1);
    } finally {
      await connection.close();
    }
    assert.equal(connection.open, false);
  });

  test('setup: SELECT of the URL’s database; a refused AUTH is a RespSetupError with Redis’s reason', async () => {
    const r = client as TestClient;
    const connection = await RespConnection.connect(options(`${REDIS_URL}/2`));
    const encoder = new RespEncoder(64);
    encoder.command(['SET', `${prefix}:db`, 'two']);
    await connection.send(encoder.bytes(), 1);
    await connection.close();
    assert.equal(await r.get(`${prefix}:db`), null, 'not in database 0');
    const db2 = r.duplicate({ database: 2 });
    db2.on('error', () => {});
    await db2.connect();
    try {
      assert.equal(await db2.get(`${prefix}:db`), 'two');
      await db2.del(`${prefix}:db`);
    } finally {
      await db2.close();
    }
    await assert.rejects(
      RespConnection.connect(options(REDIS_URL.replace('redis://', 'redis://nobody:wrong@'))),
      (err: unknown) => err instanceof RespSetupError && /^WRONGPASS/.test(err.message),
    );
  });
});
