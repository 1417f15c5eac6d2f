/**
 * The `kafka` source against the real broker: records, metadata and decode failures of a topic
 * written by Kafka's console producer; positions, commits and where a reader resumes; `start`.
 */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import { Admin, Producer } from '@platformatic/kafka';
import { SluiceError } from '@sluice/core';
import {
  type Collected,
  type ConsumedRecord,
  capturingLogger,
  committedOffsets,
  consoleConsume,
  consoleProduce,
  KAFKA_BROKER,
  kafkaAvailable,
  openKafkaReader,
  produce,
  readUntil,
  Topics,
  uniqueName,
} from './test-support.ts';

const available = await kafkaAvailable();
const topics = new Topics();
after(() => topics.cleanup());

/** JSON values 0..n-1 over 3 partitions (explicit), `{ n: i, p }`. */
function numbered(n: number, from = 0) {
  const out = [];
  for (let i = from; i < from + n; i++)
    out.push({ partition: i % 3, value: JSON.stringify({ n: i }), key: `k${i}` });
  return out;
}

const values = (c: Collected) => c.records.map((r) => r.n as number).sort((a, b) => a - b);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('kafka source: console-produced topic', { skip: !available }, () => {
  let name: string;
  let got: Collected;
  let independent: ConsumedRecord[];
  const lines = 40;
  const malformed = new Map([
    [7, 'not json at all'],
    [19, '[1,2,3]'],
    [33, '42'],
  ]);

  before(async () => {
    name = await topics.create('conformance');
    const records = [];
    for (let i = 0; i < lines; i++) {
      records.push({
        key: `key-${i}`,
        value: malformed.get(i) ?? JSON.stringify({ n: i, name: `item ${i}` }),
        headers: { origin: 'console', seq: String(i) },
      });
    }
    await consoleProduce(name, records);
    independent = await consoleConsume(name, { maxMessages: lines, atLeast: lines });
    const reader = await openKafkaReader({ topics: [name], group_id: uniqueName('g') });
    try {
      got = await readUntil(reader, (c) => c.records.length + c.failures.length >= lines);
      // Nothing more arrives.
      const extra = await reader.read(1024, new AbortController().signal);
      assert.equal(extra?.records.length, 0);
    } finally {
      await reader.close();
    }
  });

  test('every well-formed line is a record with its Kafka metadata', async () => {
    assert.equal(got.records.length, lines - malformed.size);
    assert.equal(independent.length, lines);
    const byKey = new Map(independent.map((r) => [r.key, r]));
    for (const r of got.records) {
      const meta = r._kafka as {
        topic: string;
        partition: number;
        offset: number;
        timestamp: number;
        key: string;
        headers: { [k: string]: string };
      };
      assert.equal(meta.topic, name);
      assert.equal(meta.key, `key-${r.n}`);
      assert.deepEqual(meta.headers, { origin: 'console', seq: String(r.n) });
      assert.equal(r.name, `item ${r.n}`);
      const seen = byKey.get(meta.key)!;
      assert.equal(meta.partition, seen.partition, 'same partition as the console consumer sees');
      assert.equal(meta.offset, seen.offset, 'same offset as the console consumer sees');
      assert.ok(Math.abs(meta.timestamp - Date.now()) < 120_000, 'Kafka timestamp');
    }
    assert.equal(new Set(got.records.map((r) => (r._kafka as { partition: number }).partition)).size, 3);
  });

  test('each batch holds one partition, with offsets and Kafka timestamps as times', () => {
    for (const b of got.batches) {
      if (b.records.length === 0 && !b.failures) continue;
      assert.match(b.partition ?? '', new RegExp(`^${name}/[0-2]$`));
      for (let i = 0; i < b.records.length; i++) {
        const meta = b.records[i]._kafka as { partition: number; offset: number; timestamp: number };
        assert.equal(`${name}/${meta.partition}`, b.partition);
        assert.equal(b.offsets?.[i], meta.offset);
        assert.equal(b.times?.[i], meta.timestamp);
      }
      for (let i = 1; i < (b.offsets?.length ?? 0); i++)
        assert.ok((b.offsets![i] as number) > (b.offsets![i - 1] as number));
    }
  });

  test('malformed and non-object JSON become failures with topic, partition and offset', async () => {
    assert.equal(got.failures.length, malformed.size);
    for (const [i, raw] of malformed) {
      const seen = independent.find((r) => r.key === `key-${i}`)!;
      const f = got.failures.find((x) => x.payload === raw);
      assert.ok(f, `failure for line ${i}`);
      assert.equal(f.partition, `${name}/${seen.partition}`);
      assert.equal(f.offset, seen.offset);
      assert.match(
        f.message,
        new RegExp(`topic '${name}' partition ${seen.partition} offset ${seen.offset}`),
      );
    }
    assert.match(got.failures.find((f) => f.payload === '[1,2,3]')!.message, /an array, not a JSON object/);
    assert.match(got.failures.find((f) => f.payload === '42')!.message, /a number, not a JSON object/);
    assert.match(got.failures.find((f) => f.payload === 'not json at all')!.message, /not valid JSON/);
  });
});

describe('kafka source: formats', { skip: !available }, () => {
  test('string and bytes keep the value as text or base64; metadata can be left out', async () => {
    const name = await topics.create('formats', 1);
    await produce(name, [
      { partition: 0, value: 'héllo {not json' },
      { partition: 0, value: '\u0000\u00ff' },
    ]);
    const asString = await openKafkaReader({ topics: [name], group_id: uniqueName('g'), format: 'string' });
    const s = await readUntil(asString, (c) => c.records.length >= 2).finally(() => asString.close());
    assert.equal(s.records[0].value, 'héllo {not json');
    assert.equal((s.records[0]._kafka as { key: unknown }).key, null);
    const asBytes = await openKafkaReader({
      topics: [name],
      group_id: uniqueName('g'),
      format: 'bytes',
      include_metadata: false,
    });
    const b = await readUntil(asBytes, (c) => c.records.length >= 2).finally(() => asBytes.close());
    assert.deepEqual(b.records[0], { value: Buffer.from('héllo {not json').toString('base64') });
    assert.deepEqual(b.records[1], { value: Buffer.from('\u0000\u00ff').toString('base64') });
  });
});

describe('kafka source: transactions and compression', { skip: !available }, () => {
  test('read_committed skips aborted transactions and reads committed ones; read_uncommitted reads both', async () => {
    const name = await topics.create('txn', 1);
    const producer = new Producer({
      clientId: 'sluice-test-txn',
      bootstrapBrokers: [KAFKA_BROKER],
      idempotent: true,
      transactionalId: uniqueName('txn-id'),
    });
    const send = async (values: number[], outcome: 'commit' | 'abort') => {
      const tx = await producer.beginTransaction();
      for (const n of values) {
        await tx.send({
          messages: [{ topic: name, partition: 0, value: Buffer.from(JSON.stringify({ n })) }],
        });
      }
      await (outcome === 'commit' ? tx.commit() : tx.abort());
    };
    try {
      await send([0, 1], 'commit');
      await send([2, 3, 4], 'abort');
      await send([5], 'commit');
      await send([6], 'abort');
    } finally {
      await producer.close();
    }
    await produce(name, [{ partition: 0, value: JSON.stringify({ n: 7 }) }]);
    const committed = await openKafkaReader({ topics: [name], group_id: uniqueName('g') });
    const c = await readUntil(committed, (x) => x.records.some((r) => r.n === 7)).finally(() =>
      committed.close(),
    );
    assert.deepEqual(values(c), [0, 1, 5, 7]);
    const uncommitted = await openKafkaReader({
      topics: [name],
      group_id: uniqueName('g'),
      isolation_level: 'read_uncommitted',
    });
    const u = await readUntil(uncommitted, (x) => x.records.some((r) => r.n === 7)).finally(() =>
      uncommitted.close(),
    );
    assert.deepEqual(values(u), [0, 1, 2, 3, 4, 5, 6, 7]);
  });

  test('compressed batches (gzip, snappy, lz4, zstd) are read with their offsets', async () => {
    const name = await topics.create('compressed', 1);
    const producer = new Producer({ clientId: 'sluice-test-compressed', bootstrapBrokers: [KAFKA_BROKER] });
    try {
      let n = 0;
      for (const compression of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
        const messages = [];
        for (let i = 0; i < 25; i++, n++) {
          messages.push({
            topic: name,
            partition: 0,
            value: Buffer.from(JSON.stringify({ n, pad: 'x'.repeat(100) })),
          });
        }
        await producer.send({ messages, compression });
      }
    } finally {
      await producer.close();
    }
    const reader = await openKafkaReader({ topics: [name], group_id: uniqueName('g') });
    const got = await readUntil(reader, (x) => x.records.length >= 100).finally(() => reader.close());
    assert.deepEqual(values(got), range(0, 100));
    assert.deepEqual(
      got.records.map((r) => (r._kafka as { offset: number }).offset),
      range(0, 100),
    );
  });
});

describe('kafka source: records deleted under the position', { skip: !available }, () => {
  test('a position before the log start (retention, deleteRecords) continues from the earliest offset left, with a warning', async () => {
    const name = await topics.create('out-of-range', 1);
    await produce(
      name,
      Array.from({ length: 50 }, (_, i) => ({ partition: 0, value: JSON.stringify({ n: i }) })),
    );
    // What retention does to a lagging consumer: the first 30 records leave the log.
    const admin = new Admin({ clientId: 'sluice-test-delete', bootstrapBrokers: [KAFKA_BROKER] });
    try {
      await admin.deleteRecords({ topics: [{ name, partitions: [{ partition: 0, offset: 30n }] }] });
    } finally {
      await admin.close();
    }
    const log = capturingLogger();
    const reader = await openKafkaReader(
      { topics: [name], group_id: uniqueName('g') },
      { restored: { [`${name}/0`]: 10 }, log },
    );
    const got = await readUntil(reader, (c) => c.records.length >= 20).finally(() => reader.close());
    assert.deepEqual(values(got), range(30, 50));
    const warning = log.lines.find((l) => l.message.includes('offset out of range'));
    assert.ok(warning, 'the skipped records are reported');
    assert.deepEqual(
      {
        offset: warning.fields?.offset,
        earliest: warning.fields?.earliest,
        skipped: warning.fields?.skipped,
      },
      { offset: 10, earliest: 30, skipped: 20 },
    );
  });
});

describe('kafka source: positions and commits', { skip: !available }, () => {
  const total = 300;
  let name: string;
  let group: string;
  let firstHalf: Collected;
  let checkpoint: { [partition: string]: number };

  before(async () => {
    name = await topics.create('position');
    group = uniqueName('g');
    await produce(name, numbered(total));
    const reader = await openKafkaReader({ topics: [name], group_id: group });
    try {
      // Small reads, so the reader stops inside fetched chunks.
      firstHalf = { records: [], failures: [], batches: [] };
      const signal = new AbortController().signal;
      while (firstHalf.records.length < total / 2) {
        const b = await reader.read(7, signal);
        assert.ok(b);
        firstHalf.records.push(...b.records);
      }
      checkpoint = reader.position() as { [partition: string]: number };
      await sleep(300);
      assert.equal((await committedOffsets(group, name)).size, 0, 'nothing is committed before commit()');
      await reader.commit!(checkpoint);
    } finally {
      await reader.close();
    }
  });

  test('position() is the next offset of every assigned partition after the records returned', () => {
    assert.deepEqual(Object.keys(checkpoint).sort(), [`${name}/0`, `${name}/1`, `${name}/2`]);
    for (let p = 0; p < 3; p++) {
      const offsets = firstHalf.records
        .map((r) => r._kafka as { partition: number; offset: number })
        .filter((m) => m.partition === p)
        .map((m) => m.offset);
      assert.equal(checkpoint[`${name}/${p}`], offsets.length === 0 ? 0 : Math.max(...offsets) + 1);
      assert.deepEqual(offsets, range(0, offsets.length), `partition ${p} read in order from 0`);
    }
    assert.equal(
      Object.values(checkpoint).reduce((a, b) => a + b, 0),
      firstHalf.records.length,
    );
  });

  test('commit(position) commits exactly those offsets to the group', async () => {
    const committed = await committedOffsets(group, name);
    for (let p = 0; p < 3; p++) assert.equal(committed.get(p), checkpoint[`${name}/${p}`]);
  });

  test('a reader restored from the position continues with no gap and no duplicate', async () => {
    // Another group with nothing committed: the offsets come from the checkpoint alone.
    const reader = await openKafkaReader(
      { topics: [name], group_id: uniqueName('g') },
      { restored: checkpoint },
    );
    const rest = await readUntil(reader, (c) => c.records.length >= total - firstHalf.records.length).finally(
      () => reader.close(),
    );
    assert.deepEqual(values({ ...rest, records: [...firstHalf.records, ...rest.records] }), range(0, total));
  });

  test('the checkpoint wins over the group’s committed offsets', async () => {
    // The group has committed `checkpoint`; restoring an earlier checkpoint re-reads from it.
    const earlier = Object.fromEntries(Object.keys(checkpoint).map((k) => [k, 10]));
    const reader = await openKafkaReader({ topics: [name], group_id: group }, { restored: earlier });
    const got = await readUntil(reader, (c) => c.records.length >= total - 30).finally(() => reader.close());
    assert.deepEqual(
      values(got),
      range(0, total).filter((n) => Math.floor(n / 3) >= 10),
    );
  });

  test('with no checkpoint, a reader of the same group resumes from the committed offsets', async () => {
    const log = capturingLogger();
    const reader = await openKafkaReader({ topics: [name], group_id: group }, { log });
    const rest = await readUntil(reader, (c) => c.records.length >= total - firstHalf.records.length).finally(
      () => reader.close(),
    );
    assert.deepEqual(values({ ...rest, records: [...firstHalf.records, ...rest.records] }), range(0, total));
    const starts = log.lines.find((l) => l.message.includes('start at'));
    assert.match(JSON.stringify(starts?.fields), /\(group\)/);
  });
});

describe('kafka source: start', { skip: !available }, () => {
  test('latest: only records produced after the partitions were assigned', async () => {
    const name = await topics.create('latest');
    await produce(name, numbered(30));
    const reader = await openKafkaReader({ topics: [name], group_id: uniqueName('g'), start: 'latest' });
    try {
      const empty = await readUntil(reader, () => Object.keys(reader.position() as object).length === 3);
      assert.equal(empty.records.length, 0);
      assert.deepEqual(Object.values(reader.position() as object), [10, 10, 10]);
      await produce(name, numbered(12, 100));
      const got = await readUntil(reader, (c) => c.records.length >= 12);
      assert.deepEqual(values(got), range(100, 112));
    } finally {
      await reader.close();
    }
  });

  test('a time: the first record at or after it, per partition', async () => {
    const name = await topics.create('at-time');
    const t0 = Date.parse('2025-03-01T00:00:00Z');
    const records = numbered(60).map((r, i) => ({ ...r, timestamp: t0 + i * 1000 }));
    await produce(name, records);
    const from = new Date(t0 + 45_000).toISOString();
    const reader = await openKafkaReader({ topics: [name], group_id: uniqueName('g'), start: from });
    const got = await readUntil(reader, (c) => c.records.length >= 15).finally(() => reader.close());
    assert.deepEqual(values(got), range(45, 60));
    assert.deepEqual(
      got.records.map((r) => (r._kafka as { timestamp: number }).timestamp).sort(),
      range(45, 60).map((i) => t0 + i * 1000),
    );
    // Epoch milliseconds work the same; a time after every record starts at the end.
    const late = await openKafkaReader({
      topics: [name],
      group_id: uniqueName('g'),
      start: String(t0 + 3_600_000),
    });
    const none = await readUntil(late, () => Object.keys(late.position() as object).length === 3).finally(
      () => late.close(),
    );
    assert.equal(none.records.length, 0);
  });
});

describe('kafka source: configuration errors', { skip: !available }, () => {
  test('an unknown topic fails with CONFIG_INVALID naming it (the source never creates topics)', async () => {
    const missing = uniqueName('missing');
    const reader = await openKafkaReader({ topics: [missing], group_id: uniqueName('g') });
    try {
      await assert.rejects(reader.read(10, new AbortController().signal), (err: unknown) => {
        assert.ok(err instanceof SluiceError);
        assert.equal(err.code, 'CONFIG_INVALID');
        assert.equal(err.retryable, false);
        assert.match(err.message, new RegExp(`'${missing}' does not exist`));
        return true;
      });
    } finally {
      await reader.close();
    }
  });

  test('a bad start is rejected when the source opens', async () => {
    await assert.rejects(
      openKafkaReader({ topics: ['x'], group_id: 'g', start: 'yesterday' }),
      (err: unknown) =>
        err instanceof SluiceError && err.code === 'CONFIG_INVALID' && /start/.test(err.message),
    );
  });

  test('a SASL password never appears in errors or logs', async () => {
    const password = 'hunter2-very-secret-password';
    const log = capturingLogger();
    const name = await topics.create('sasl', 1);
    const reader = await openKafkaReader(
      { topics: [name], group_id: uniqueName('g'), sasl: { mechanism: 'PLAIN', username: 'u', password } },
      { log },
    );
    let error: unknown;
    try {
      await reader.read(10, new AbortController().signal);
    } catch (err) {
      error = err;
    } finally {
      await reader.close();
    }
    assert.ok(error instanceof SluiceError, 'the broker has no SASL listener: the read fails');
    // Not in the message, the log, nor anywhere in the error's cause chain.
    const seen = JSON.stringify([inspect(error, { depth: 30 }), log.lines]);
    assert.ok(!seen.includes(password));
  });
});
