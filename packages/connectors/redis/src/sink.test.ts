/**
 * The `redis` sink against the machine's Redis, beyond the conformance suite: what each mode's
 * options write, upserts and deletes by key, refusals in the middle of a batch, and the config
 * checks.
 */

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { DELETE, INSERT, SluiceError, UPDATE_AFTER, UPDATE_BEFORE, validateConfig } from '@sluice/core';
import { batchCommands } from './commands.ts';
import { type RedisSinkConfig, sinkPlan } from './sink-config.ts';
import { redisSink } from './sink-spec.ts';
import {
  batch,
  dropKeys,
  keysOf,
  openSink,
  REDIS_URL,
  redisAvailable,
  type TestClient,
  testClient,
  uniqueName,
} from './test-support.ts';

const available = await redisAvailable();
const client: TestClient | undefined = available ? await testClient() : undefined;
const prefixes: string[] = [];
after(async () => {
  if (client === undefined) return;
  for (const p of prefixes) await dropKeys(client, p);
  await client.close();
});

function fresh(what: string): string {
  const prefix = uniqueName(what);
  prefixes.push(prefix);
  return prefix;
}

function redisClient(): TestClient {
  if (client === undefined) throw new Error('no Redis');
  return client;
}

describe('redis sink', { skip: !available }, () => {
  test('hash: fields as text, a NULL field removed, `fields` limits what is written', async () => {
    const r = redisClient();
    const p = fresh('hash');
    const sink = await openSink({ mode: 'hash', key: `${p}:user:{id}` });
    const at = new Date(Date.UTC(2026, 11, 7));
    await sink.write(
      batch([{ id: 1, name: 'Ada', score: 2.5, vip: true, tags: ['x'], seen: at, nick: 'a' }]),
    );
    await sink.write(batch([{ id: 1, name: 'Ada L', nick: null }]));
    await sink.close();
    assert.deepEqual(
      { ...(await r.hGetAll(`${p}:user:1`)) },
      {
        id: '1',
        name: 'Ada L',
        score: '2.5',
        vip: 'true',
        tags: '["x"]',
        seen: '2026-12-07T00:00:00.000Z',
      },
    );
    const only = await openSink({ mode: 'hash', key: `${p}:only:{id}`, fields: ['name'] });
    await only.write(batch([{ id: 2, name: 'Bo', secret: 'no' }]));
    await only.close();
    assert.deepEqual({ ...(await r.hGetAll(`${p}:only:2`)) }, { name: 'Bo' });
  });

  test('hash: a changelog replaces a key’s hash on update and deletes it; upserts merge by key', async () => {
    const r = redisClient();
    const p = fresh('hash-changes');
    const sink = await openSink({ mode: 'hash', key: `${p}:{region}` });
    await sink.write(
      batch(
        [
          { region: 'eu', total: 1, extra: 'x' },
          { region: 'us', total: 5 },
        ],
        [INSERT, INSERT],
      ),
    );
    await sink.write(
      batch(
        [
          { region: 'eu', total: 1, extra: 'x' },
          { region: 'eu', total: 3 },
          { region: 'us', total: 5 },
          { region: 'ap', total: 7 },
          { region: 'ap', total: 8 },
        ],
        [UPDATE_BEFORE, UPDATE_AFTER, DELETE, UPDATE_AFTER, UPDATE_AFTER],
      ),
    );
    await sink.close();
    assert.deepEqual(await keysOf(r, p), [`${p}:ap`, `${p}:eu`]);
    assert.deepEqual(
      { ...(await r.hGetAll(`${p}:eu`)) },
      { region: 'eu', total: '3' },
      'the old field is gone',
    );
    assert.deepEqual(
      { ...(await r.hGetAll(`${p}:ap`)) },
      { region: 'ap', total: '8' },
      'the last upsert wins',
    );
  });

  test('hash: an update replaces the hash in one command, so no reader sees the key missing', () => {
    const config = validateConfig<RedisSinkConfig>(redisSink.config, { mode: 'hash', key: 'k:{region}' });
    assert.ok(config.ok);
    const plan = sinkPlan(config.value);
    const { commands, refused } = batchCommands(
      batch(
        [
          { region: 'eu', total: 1, extra: 'x' },
          { region: 'eu', total: 3, extra: null },
          { region: 'us', total: 5 },
          { region: 'ap', total: 2 },
        ],
        [UPDATE_BEFORE, UPDATE_AFTER, UPDATE_BEFORE, UPDATE_AFTER],
      ),
      plan,
      config.value,
    );
    assert.equal(refused.size, 0);
    assert.deepEqual(
      commands.map((c) =>
        c.args[0] === 'EVAL' ? [c.index, 'EVAL', ...c.args.slice(3)] : [c.index, ...c.args],
      ),
      [
        [1, 'EVAL', 'k:eu', 'region', 'eu', 'total', '3'],
        [2, 'DEL', 'k:us'],
        [3, 'HSET', 'k:ap', 'region', 'ap', 'total', '2'],
      ],
      'the old row of the same key is replaced atomically; an update that moves the key deletes the old one',
    );
  });

  test('string: the record as JSON or one field, with a TTL; a delete removes the key', async () => {
    const r = redisClient();
    const p = fresh('string');
    const json = await openSink({ mode: 'string', key: `${p}:json:{id}` });
    await json.write(batch([{ id: 1, name: 'Ada' }], [INSERT]));
    await json.write(
      batch(
        [
          { id: 2, name: 'Bo' },
          { id: 1, name: 'Ada' },
        ],
        [INSERT, DELETE],
      ),
    );
    await json.close();
    assert.equal(await r.get(`${p}:json:1`), null);
    assert.deepEqual(JSON.parse(String(await r.get(`${p}:json:2`))), { id: 2, name: 'Bo' });
    const field = await openSink({ mode: 'string', key: `${p}:total:{id}`, value_field: 'total', ttl: '1h' });
    const refused = await field.write(
      batch([
        { id: 3, total: 42 },
        { id: 4, total: null },
      ]),
    );
    await field.close();
    assert.equal(await r.get(`${p}:total:3`), '42');
    const ttl = await r.pTTL(`${p}:total:3`);
    assert.ok(ttl > 3_500_000 && ttl <= 3_600_000, `expires in about an hour (${ttl} ms)`);
    assert.deepEqual(refused, [{ index: 1, message: "value field 'total' is NULL" }]);
  });

  test('sorted_set: a leaderboard by member template; an upsert moves the score, a delete removes the member', async () => {
    const r = redisClient();
    const p = fresh('board');
    const sink = await openSink({
      mode: 'sorted_set',
      key: `${p}:{game}`,
      member: '{player}',
      score_field: 'points',
    });
    await sink.write(
      batch([
        { game: 'chess', player: 'ada', points: 10 },
        { game: 'chess', player: 'bo', points: 7 },
        { game: 'go', player: 'cy', points: 3 },
      ]),
    );
    await sink.write(
      batch(
        [
          { game: 'chess', player: 'bo', points: 7 },
          { game: 'chess', player: 'bo', points: 12 },
          { game: 'go', player: 'cy', points: 3 },
          { game: 'chess', player: 'di', points: 1 },
        ],
        [UPDATE_BEFORE, UPDATE_AFTER, DELETE, UPDATE_AFTER],
      ),
    );
    await sink.close();
    assert.deepEqual(await r.zRangeWithScores(`${p}:chess`, 0, -1, { REV: true }), [
      { value: 'bo', score: 12 },
      { value: 'ada', score: 10 },
      { value: 'di', score: 1 },
    ]);
    assert.equal(await r.exists(`${p}:go`), 0, 'the last member removed, the key is gone');
  });

  test('stream: entries in order with their fields; MAXLEN ~ trims the stream as it grows', async () => {
    const r = redisClient();
    const p = fresh('stream');
    const sink = await openSink({ mode: 'stream', key: `${p}:events`, maxlen: 10, fields: ['n'] });
    const records = Array.from({ length: 2000 }, (_, n) => ({ n, other: 'not written' }));
    for (let i = 0; i < records.length; i += 500) await sink.write(batch(records.slice(i, i + 500)));
    await sink.close();
    const length = await r.xLen(`${p}:events`);
    assert.ok(length >= 10 && length < 2000, `trimmed to about 10 entries (${length})`);
    const last = await r.xRevRange(`${p}:events`, '+', '-', { COUNT: 3 });
    assert.deepEqual(
      last.map((e) => ({ ...e.message })),
      [{ n: '1999' }, { n: '1998' }, { n: '1997' }],
    );
  });

  test('publish: one message per record on the channel its template names', async () => {
    const r = redisClient();
    const p = fresh('publish');
    const subscriber = r.duplicate();
    subscriber.on('error', () => {});
    await subscriber.connect();
    const got: [string, string][] = [];
    await subscriber.pSubscribe(`${p}:*`, (message, channel) => got.push([channel, message]));
    try {
      const sink = await openSink({ mode: 'publish', channel: `${p}:{room}`, value_field: 'text' });
      await sink.write(
        batch([
          { room: 'a', text: 'hi' },
          { room: 'b', text: 'yo' },
          { room: 'a', text: 'bye' },
        ]),
      );
      await sink.close();
      for (let i = 0; i < 50 && got.length < 3; i++) await new Promise((res) => setTimeout(res, 20));
      assert.deepEqual(got, [
        [`${p}:a`, 'hi'],
        [`${p}:b`, 'yo'],
        [`${p}:a`, 'bye'],
      ]);
    } finally {
      await subscriber.close();
    }
  });

  test('records Redis refuses go to the dead letters with its reason; the rest of the batch is written in order', async () => {
    const r = redisClient();
    const p = fresh('wrongtype');
    await r.set(`${p}:2`, 'a string');
    await r.rPush(`${p}:4`, 'a list');
    const sink = await openSink({ mode: 'hash', key: `${p}:{id}` });
    const refused = await sink.write(
      batch([{ id: 1, v: 'a' }, { id: 2, v: 'b' }, { v: 'no id' }, { id: 4, v: 'd' }, { id: 1, v: 'a2' }]),
    );
    await sink.close();
    assert.deepEqual(
      refused?.map((x) => x.index),
      [1, 2, 3],
    );
    assert.match(refused?.[0]?.message ?? '', /^Redis refused HSET: WRONGTYPE/);
    assert.match(refused?.[1]?.message ?? '', /field 'id' of template '.*' is missing/);
    assert.match(refused?.[2]?.message ?? '', /WRONGTYPE/);
    assert.deepEqual(
      { ...(await r.hGetAll(`${p}:1`)) },
      { id: '1', v: 'a2' },
      'the later write of a key wins',
    );
    assert.equal(await r.get(`${p}:2`), 'a string', 'the refused key is left as it was');
  });

  test('a WRONGTYPE in the middle of a pipelined batch: that record dead-lettered with the reason, every other written — the same at batch sizes 1, 7 and 1000', async () => {
    const r = redisClient();
    // 1000 records over 300 keys (later records overwrite earlier ones of their key), two of them
    // to keys holding a string: HSET on those is refused by Redis in the middle of the pipeline.
    const records = Array.from({ length: 1000 }, (_v, i) => ({ id: i % 300, v: `v${i}-é€😀`, n: i }));
    const blocked = new Set([137, 277]);
    const expected = new Map<number, { id: string; v: string; n: string }>();
    for (const x of records)
      if (!blocked.has(x.id)) expected.set(x.id, { id: String(x.id), v: x.v, n: String(x.n) });
    for (const size of [1, 7, 1000]) {
      const p = fresh(`mid-batch-${size}`);
      for (const id of blocked) await r.set(`${p}:${id}`, 'a string');
      const sink = await openSink({ mode: 'hash', key: `${p}:{id}` });
      const refused: { index: number; message: string }[] = [];
      for (let from = 0; from < records.length; from += size)
        for (const x of (await sink.write(batch(records.slice(from, from + size)))) ?? [])
          refused.push({ index: from + x.index, message: x.message });
      await sink.close();
      assert.deepEqual(
        refused.map((x) => x.index),
        records.flatMap((x, i) => (blocked.has(x.id) ? [i] : [])),
        `batch size ${size}: the records of the blocked keys are refused, and only they`,
      );
      for (const x of refused)
        assert.match(
          x.message,
          /^Redis refused HSET: WRONGTYPE Operation against a key holding the wrong kind of value$/,
        );
      for (const [id, hash] of expected)
        assert.deepEqual({ ...(await r.hGetAll(`${p}:${id}`)) }, hash, `batch size ${size}: key ${id}`);
      for (const id of blocked) assert.equal(await r.get(`${p}:${id}`), 'a string');
    }
  });

  test('the spec takes changelogs in hash, string and sorted_set modes, and upserts by the template’s fields', () => {
    const config = (options: { [k: string]: unknown }) => {
      const checked = validateConfig<RedisSinkConfig>(redisSink.config, options);
      assert.ok(checked.ok);
      return checked.value;
    };
    const changelog = redisSink.changelog;
    assert.ok(changelog?.upsertKey);
    assert.deepEqual(changelog.consumes(config({ mode: 'hash', key: 'k:{a}' })), [
      'append',
      'upsert',
      'retract',
    ]);
    assert.deepEqual(changelog.consumes(config({ mode: 'stream', key: 's' })), ['append']);
    assert.deepEqual(changelog.consumes(config({ mode: 'publish', channel: 'c' })), ['append']);
    assert.deepEqual(changelog.consumes(config({ mode: 'sorted_set', key: 'b', score_field: 's' })), [
      'append',
      'retract',
    ]);
    assert.deepEqual(changelog.upsertKey(config({ mode: 'hash', key: 'k:{a}:{b}' })), {
      path: 'key',
      fields: ['a', 'b'],
    });
    assert.deepEqual(
      changelog.upsertKey(
        config({ mode: 'sorted_set', key: 'b:{game}', member: '{player}', score_field: 's' }),
      ),
      { path: 'key', fields: ['game', 'player'] },
    );
  });

  test('config errors name the option: a missing key, an option of another mode, a broken template', () => {
    const create = (options: { [k: string]: unknown }) => {
      const checked = validateConfig<RedisSinkConfig>(redisSink.config, { url: REDIS_URL, ...options });
      assert.ok(checked.ok, JSON.stringify(checked));
      return () => redisSink.create(checked.value);
    };
    const fails = (options: { [k: string]: unknown }, path: string, message: RegExp) =>
      assert.throws(create(options), (err: unknown) => {
        assert.ok(err instanceof SluiceError);
        assert.equal(err.code, 'CONFIG_INVALID');
        assert.equal(err.path, path);
        assert.match(err.message, message);
        return true;
      });
    fails({ mode: 'hash' }, 'key', /needs `key`/);
    fails({ mode: 'publish', key: 'k' }, 'key', /not an option of `mode: publish`/);
    fails({ mode: 'hash', key: 'k', ttl: '1m' }, 'ttl', /not an option of `mode: hash`/);
    fails({ mode: 'sorted_set', key: 'b' }, 'score_field', /needs `score_field`/);
    fails({ mode: 'hash', key: 'user:{id' }, 'key', /unclosed \{/);
    fails({ mode: 'hash', key: 'user:{a b}' }, 'key', /not a field name/);
    assert.doesNotThrow(create({ mode: 'hash', key: 'literal:{{x}}:{id}' }));
  });
});
