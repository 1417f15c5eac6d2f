import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { murmur2 as libraryMurmur2 } from '@platformatic/kafka';
import { DELETE, INSERT, type RowKind, UPDATE_AFTER, UPDATE_BEFORE, validateConfig } from '@sluice/core';
import { murmur2, murmur2Text, partitioner } from './producer-partitioner.ts';
import type { TopicInfo } from './producer-topic.ts';
import { kafkaSink } from './sink.ts';
import { type KafkaSinkConfig, kafkaSinkConfig } from './sink-config.ts';
import { BATCH_OVERHEAD, bytesOf, chunkEnds, RecordEncoder } from './sink-encode.ts';

function config(options: { [k: string]: unknown }): KafkaSinkConfig {
  const result = validateConfig<KafkaSinkConfig>(kafkaSinkConfig, { topic: 't', ...options });
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.value;
}

const topic: TopicInfo = {
  partitions: 3,
  maxMessageBytes: 1000,
  compacted: false,
  createTime: true,
  maxAheadMs: 3_600_000,
  maxBehindMs: Number.MAX_SAFE_INTEGER,
  retentionMs: 7 * 24 * 3_600_000,
};

const text = (b: Buffer | string | undefined) => (typeof b === 'string' ? b : b?.toString('utf8'));

describe('murmur2 partitioner', () => {
  test('matches the Java client on its own test vectors', () => {
    // org.apache.kafka.common.utils.UtilsTest#testMurmur2
    const cases: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, hash] of cases) assert.equal(murmur2(Buffer.from(key)), hash, key);
  });

  test('matches the client library on random keys of every length', () => {
    for (let length = 0; length < 64; length++) {
      for (let i = 0; i < 20; i++) {
        const key = randomBytes(length);
        assert.equal(murmur2(key), libraryMurmur2(key), key.toString('hex'));
      }
    }
  });

  test('text hashes as its UTF-8 bytes, ASCII or not, short or long', () => {
    for (const t of [
      '',
      'foobar',
      'user-1234',
      'ключ',
      '😀',
      `a${'\udc00'}`,
      'k'.repeat(256),
      'k'.repeat(257),
    ]) {
      assert.equal(murmur2Text(t), murmur2(Buffer.from(t)), JSON.stringify(t.slice(0, 10)));
    }
  });

  test('keys hash to a non-negative number; key-less messages rotate', () => {
    const choose = partitioner('murmur2_hash');
    assert.equal(choose(Buffer.from('foobar')), -790332482 & 0x7fffffff);
    assert.equal(choose('foobar'), -790332482 & 0x7fffffff);
    assert.deepEqual([choose(undefined), choose(undefined), choose(undefined)], [0, 1, 2]);
    const rr = partitioner('round_robin');
    assert.deepEqual([rr(Buffer.from('a')), rr(Buffer.from('a')), rr(undefined)], [0, 1, 2]);
  });
});

describe('record encoder', () => {
  test('json: a record given with its text is written as that text; the others are serialized', () => {
    const enc = new RecordEncoder(config({ key: 'user' }), 'out');
    enc.topicInfo = topic;
    const now = Date.now();
    const records = [
      { user: 'ann', amount: 1, _kafka: { topic: 'in', partition: 0 } },
      { user: 'bob', amount: 2 },
    ];
    const texts = ['{ "user": "ann", "amount": 1.0 }', undefined];
    const batch = enc.encode({ records, times: [now, now], texts }, now);
    assert.equal(batch.rejections, undefined);
    const [a, b] = batch.messages;
    assert.equal(a.value, texts[0], 'spelling kept, metadata never in the text');
    assert.equal(a.valueBytes, Buffer.byteLength(texts[0]!));
    assert.equal(b.value, '{"user":"bob","amount":2}');
    assert.deepEqual([a.key, b.key], ['ann', 'bob']);
    assert.deepEqual([a.keyBytes, b.keyBytes], [3, 3]);
  });

  test('json values without the _kafka field; keys, headers and timestamps', () => {
    const enc = new RecordEncoder(
      config({ key: 'user', headers: { region: 'region', n: 'n * 2', missing: 'nullif(1, 1)' } }),
      'out',
    );
    enc.topicInfo = topic;
    const now = Date.now();
    const records = [
      { user: 'u1', region: 'eu', n: 1, _kafka: { topic: 'in', partition: 0 } },
      { user: 42, region: 'us', n: 2.5 },
      { user: null, region: 'eu', n: 0 },
    ];
    const batch = enc.encode({ records, times: [now, now - 1, now - 2] }, now);
    assert.equal(batch.rejections, undefined);
    assert.deepEqual(batch.indexes, [0, 1, 2]);
    const [a, b, c] = batch.messages;
    assert.deepEqual(JSON.parse(text(a.value)!), { user: 'u1', region: 'eu', n: 1 });
    assert.equal(text(a.key), 'u1');
    assert.equal(text(b.key), '42');
    assert.equal(c.key, undefined);
    assert.deepEqual(
      [...a.headers!].map(([k, v]) => [text(k), text(v)]),
      [
        ['region', 'eu'],
        ['n', '2'],
      ],
    );
    assert.equal(text(b.headers!.get([...b.headers!.keys()][1])), '5');
    assert.equal(a.timestamp, now);
    assert.equal(b.timestamp, now - 1);
  });

  test('bytesOf: text, numbers, booleans, JSON, NULL', () => {
    assert.equal(text(bytesOf('é')), 'é');
    assert.equal(text(bytesOf(1.5)), '1.5');
    assert.equal(text(bytesOf(false)), 'false');
    assert.equal(text(bytesOf({ a: [1] })), '{"a":[1]}');
    assert.equal(bytesOf(null), undefined);
    assert.equal(bytesOf(undefined), undefined);
  });

  test('string format writes the value field; NULL is a tombstone; other values are rejected', () => {
    const enc = new RecordEncoder(config({ format: 'string', timestamp: 'now' }), 'out');
    const batch = enc.encode(
      { records: [{ value: 'hello' }, { value: null }, { value: 3 }, { other: 'x' }], times: [0, 0, 0, 0] },
      0,
    );
    assert.deepEqual(batch.indexes, [0, 1]);
    assert.equal(text(batch.messages[0].value), 'hello');
    assert.equal(batch.messages[1].value, undefined);
    assert.equal(batch.messages[0].timestamp, undefined);
    assert.deepEqual(
      batch.rejections?.map((r) => r.index),
      [2, 3],
    );
    assert.match(
      batch.rejections![0].message,
      /field `value` is a number, not text.*CAST\(value AS VARCHAR\)/,
    );
    assert.match(batch.rejections![1].message, /no field `value`/);
  });

  test('a failing key or header expression rejects that record only', () => {
    const enc = new RecordEncoder(config({ key: 'upper(name)', headers: { h: '10 / d' } }), 'out');
    const now = Date.now();
    const batch = enc.encode(
      {
        records: [{ name: 'a', d: 2 }, { name: 5, d: 1 }, { d: 1 }, { name: 'b', d: 0 }],
        times: [now, now, now, now],
      },
      now,
    );
    assert.deepEqual(batch.indexes, [0]);
    assert.deepEqual(
      batch.rejections?.map((r) => r.index),
      [1, 2, 3],
    );
    assert.match(batch.rejections![0].message, /^key: /);
    assert.match(batch.rejections![1].message, /^key: .*name/);
    assert.match(batch.rejections![2].message, /^headers\.h: /);
  });

  test('records Kafka would refuse are rejected before sending', () => {
    const enc = new RecordEncoder(config({ key: 'k' }), 'out');
    enc.topicInfo = { ...topic, compacted: true };
    const now = Date.now();
    const big = 'x'.repeat(1000);
    const batch = enc.encode(
      {
        records: [{ k: 'a' }, { k: null }, { k: 'b', big }, { k: 'c' }, { k: 'd' }, { k: 'e' }],
        times: [now, now, now, now + 4_000_000, -5, Number.NaN],
      },
      now,
    );
    assert.deepEqual(batch.indexes, [0, 5]);
    assert.equal(batch.messages[1].timestamp, undefined, 'a time that is no number: the time of sending');
    const reasons = batch.rejections!.map((r) => [r.index, r.message]);
    assert.match(String(reasons[0][1]), /compacted.*needs a key/);
    assert.match(String(reasons[1][1]), /accepts at most 1000 per record batch/);
    assert.match(String(reasons[2][1]), /outside what topic 't' accepts/);
    assert.match(String(reasons[3][1]), /before 1970/);
    assert.ok(batch.sizes.every((s) => s + BATCH_OVERHEAD <= 1000));
  });

  test('timestamp: an expression per record; NULL is the time of writing; a failure rejects the record', () => {
    const enc = new RecordEncoder(config({ timestamp: 'coalesce(created, ts + 1000)' }), 'out');
    enc.topicInfo = topic;
    const now = Date.parse('2025-06-01T12:00:00Z');
    const batch = enc.encode(
      {
        records: [
          { ts: now - 5000 },
          { created: '2025-06-01T11:00:00Z' },
          { created: null, ts: null },
          { created: 'yesterday' },
          { other: 1 },
          { created: true },
        ],
        times: [0, 0, 0, 0, 0, 0],
      },
      now,
    );
    assert.deepEqual(batch.indexes, [0, 1, 2]);
    assert.deepEqual(
      batch.messages.map((m) => m.timestamp),
      [now - 4000, now - 3_600_000, undefined],
    );
    const reasons = batch.rejections!.map((r) => [r.index, r.message]);
    assert.deepEqual(
      reasons.map(([i]) => i),
      [3, 4, 5],
    );
    assert.match(String(reasons[0][1]), /^timestamp: 'yesterday' is not a time/);
    assert.match(String(reasons[1][1]), /^timestamp: .*\bts\b/);
    assert.match(String(reasons[2][1]), /^timestamp: true is not a time/);
  });

  test('timestamp: event_time and now are keywords; an expression that cannot give a time is refused', () => {
    const now = Date.now();
    const stamp = (timestamp: string) => {
      const enc = new RecordEncoder(config({ timestamp }), 'out');
      return enc.encode({ records: [{ event_time: 5, now: 6 }], times: [now - 1] }, now).messages[0]
        .timestamp;
    };
    assert.equal(stamp('event_time'), now - 1);
    assert.equal(stamp('now'), undefined, 'the time of writing');
    assert.equal(stamp('"event_time"'), 5, 'a quoted name reads the field');
    assert.throws(() => new RecordEncoder(config({ timestamp: 'a = 1' }), 'out'), {
      code: 'CONFIG_INVALID',
      path: 'timestamp',
      message: /boolean/,
    });
    assert.throws(() => new RecordEncoder(config({ timestamp: 'ts +' }), 'out'), { path: 'timestamp' });
  });

  test('timestamps older than the topic’s retention are reported once; not fresh ones, nor under LogAppendTime', () => {
    const now = Date.now();
    const hour = 3_600_000;
    const expiredWrites = (info: TopicInfo, times: number[][], timestamp = 'event_time') => {
      const enc = new RecordEncoder(config({ timestamp }), 'out');
      enc.topicInfo = info;
      const seen: number[] = [];
      enc.onExpired = (t) => seen.push(t);
      for (const batch of times) {
        enc.encode({ records: batch.map(() => ({ ts: now - 3 * hour })), times: batch }, now);
      }
      return seen;
    };
    const day = { ...topic, retentionMs: 24 * hour };
    assert.deepEqual(expiredWrites(day, [[now - hour, now - 2 * hour]]), [], 'fresh');
    assert.deepEqual(
      expiredWrites(day, [[now - hour, now - 30 * hour, now - 40 * hour], [now - 50 * hour]]),
      [now - 30 * hour],
      'the first expired timestamp, once',
    );
    assert.deepEqual(expiredWrites({ ...day, retentionMs: 2 * hour }, [[now]], 'ts'), [now - 3 * hour]);
    assert.deepEqual(expiredWrites(day, [[now - 30 * hour]], 'now'), []);
    assert.deepEqual(expiredWrites({ ...day, createTime: false }, [[now - 30 * hour]]), [], 'LogAppendTime');
    assert.deepEqual(
      expiredWrites({ ...day, retentionMs: undefined }, [[now - 30 * hour]]),
      [],
      'kept for ever',
    );
  });

  test('a record that cannot be JSON is rejected', () => {
    const enc = new RecordEncoder(config({}), 'out');
    const batch = enc.encode({ records: [{ n: 1n }], times: [0] }, 0);
    assert.equal(batch.messages.length, 0);
    assert.match(batch.rejections![0].message, /cannot be written as JSON/);
  });

  test('changelog: upsert — rows under their key, tombstones for deletes, no message for a replaced update-before', () => {
    const enc = new RecordEncoder(config({ key: 'region', changelog: 'upsert' }), 'out');
    enc.topicInfo = topic;
    const rows = [
      { region: 'eu', n: 1 }, // insert
      { region: 'eu', n: 1 }, // update-before, replaced by the next
      { region: 'eu', n: 2 }, // update-after
      { region: 'us', n: 5 }, // update-before with no update-after: retracted
      { region: 'ap', n: 3 }, // delete
      { region: null, n: 0 }, // delete without a key: rejected
      { region: 'us', n: 6 }, // update-after of another key than the update-before before it
    ];
    const kinds: RowKind[] = [
      INSERT,
      UPDATE_BEFORE,
      UPDATE_AFTER,
      UPDATE_BEFORE,
      DELETE,
      DELETE,
      UPDATE_AFTER,
    ];
    const batch = enc.encode({ records: rows, times: rows.map(() => 1000), kinds }, 1000);
    assert.deepEqual(
      batch.messages.map((m) => [m.key, text(m.value) ?? null]),
      [
        ['eu', '{"region":"eu","n":1}'],
        ['eu', '{"region":"eu","n":2}'],
        ['us', null],
        ['ap', null],
        ['us', '{"region":"us","n":6}'],
      ],
    );
    assert.deepEqual(batch.indexes, [0, 2, 3, 4, 6]);
    assert.deepEqual(
      batch.rejections?.map((r) => r.index),
      [5],
    );
    assert.match(batch.rejections![0].message, /tombstone/);
  });

  test('changelog: upsert without a key is refused when the sink is created; without changelog, kinds are not read', () => {
    assert.throws(() => kafkaSink.create(config({ changelog: 'upsert' })), {
      code: 'CONFIG_INVALID',
      path: 'key',
    });
    const plain = new RecordEncoder(config({ key: 'region' }), 'out');
    plain.topicInfo = topic;
    const batch = plain.encode({ records: [{ region: 'eu' }], times: [0], kinds: [DELETE] }, 0);
    assert.equal(text(batch.messages[0].value), '{"region":"eu"}');
  });

  test('a bad expression fails when the config is checked', () => {
    assert.throws(() => new RecordEncoder(config({ key: 'a +' }), 'out'), {
      code: 'EXPR_SYNTAX',
      path: 'key',
    });
  });
});

test('chunkEnds splits by bytes, at least one message per chunk', () => {
  assert.deepEqual(chunkEnds([], 10), []);
  assert.deepEqual(chunkEnds([4, 4, 4], 10), [2, 3]);
  assert.deepEqual(chunkEnds([20, 1, 1], 10), [1, 3]);
  assert.deepEqual(chunkEnds([5, 5, 5, 5], 10), [2, 4]);
});
