/**
 * SQL tables on the real Kafka broker: `METADATA` columns read each record's partition, offset,
 * timestamp and key (the timestamp as the event time of a WATERMARK), and a `PRIMARY KEY (…) NOT
 * ENFORCED` on the table written makes the `kafka` sink write an upsert changelog under that key.
 * What the job read and wrote is checked against what the test produced, computed here on its own.
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { builtins, Job, Registry, type Row } from '@sluice/core';
import { memorySinkStore, testing } from '@sluice/core/testing';
import { kafka } from '@sluice/kafka';
import {
  KAFKA_BROKER,
  kafkaAvailable,
  openKafkaReader,
  produce,
  readUntil,
  Topics,
  uniqueName,
} from '@sluice/kafka/testing';
import { compileSql } from './index.ts';

const available = await kafkaAvailable();
const topics = new Topics();
const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  await topics.cleanup();
});

const registry = new Registry([builtins, testing, kafka]);

async function waitFor(what: string, cond: () => boolean, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('SQL over kafka', { skip: !available }, () => {
  test('METADATA columns read the coordinates of each record; PRIMARY KEY makes the sink write upserts', async () => {
    const input = await topics.create('sql-in', 2);
    const output = await topics.create('sql-out', 1);
    const store = uniqueName('rows');
    const dir = await mkdtemp(join(tmpdir(), 'sluice-sql-kafka-'));
    dirs.push(dir);
    const produced = [
      { partition: 0, key: 'a1', timestamp: 1_000, value: '{"bidder":"ann","price":10}' },
      { partition: 1, key: 'b1', timestamp: 2_000, value: '{"bidder":"bob","price":20}' },
      { partition: 0, key: 'a2', timestamp: 3_000, value: '{"bidder":"ann","price":5}' },
      { partition: 1, key: 'b2', timestamp: 4_000, value: '{"bidder":"cy","price":7}' },
      { partition: 0, key: 'a3', timestamp: 5_000, value: '{"bidder":"bob","price":1}' },
    ];
    await produce(input, produced);
    const script = `
CREATE TABLE bids (
  bidder STRING,
  price DOUBLE,
  part INT METADATA FROM 'partition' VIRTUAL,
  offset BIGINT METADATA VIRTUAL,
  ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  k STRING METADATA FROM 'key' VIRTUAL,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH ('connector' = 'kafka', 'brokers' = '${KAFKA_BROKER}', 'topics' = '${input}',
  'group_id' = '${uniqueName('g')}', 'start' = 'earliest');

CREATE TABLE seen (bidder STRING, part INT, offset BIGINT, ts BIGINT, k STRING)
WITH ('connector' = 'memory', 'store' = '${store}');

CREATE TABLE totals (bidder STRING, n BIGINT, total DOUBLE, PRIMARY KEY (bidder) NOT ENFORCED)
WITH ('connector' = 'kafka', 'brokers' = '${KAFKA_BROKER}', 'topic' = '${output}');

EXECUTE STATEMENT SET BEGIN
INSERT INTO seen SELECT bidder, part, offset, ts, k FROM bids;
INSERT INTO totals SELECT bidder, count(*), sum(price) FROM bids GROUP BY bidder;
END;`;
    const plan = compileSql(script, join(dir, 'q.sql'), { registry });
    const sink = plan.sinks.find((s) => s.id === 'totals');
    assert.deepEqual(sink?.config, {
      brokers: [KAFKA_BROKER],
      topic: output,
      changelog: 'upsert',
      key: 'bidder',
    });
    assert.equal((plan.sources[0].config as { include_metadata?: unknown }).include_metadata, true);

    const job = await Job.create(plan, { registry });
    const done = job.run();
    const rows = memorySinkStore(store);
    try {
      await waitFor('the rows of every produced record', () => rows.written.length >= produced.length);
    } finally {
      job.stop();
      await done;
    }
    // The coordinates, worked out from what was produced: offsets count per partition from 0.
    const expected: Row[] = [];
    const next = new Map<number, number>();
    for (const p of produced) {
      const offset = next.get(p.partition) ?? 0;
      next.set(p.partition, offset + 1);
      const { bidder } = JSON.parse(p.value) as { bidder: string };
      expected.push({ bidder, part: p.partition, offset, ts: p.timestamp, k: p.key });
    }
    const order = (a: Row, b: Row) => Number(a.ts) - Number(b.ts);
    assert.deepEqual(rows.written.map((w) => w.record).sort(order), expected.sort(order));

    // The upsert topic: each message under its bidder; the last per key is the bidder's total.
    const reader = await openKafkaReader({
      topics: [output],
      group_id: uniqueName('check'),
      start: 'earliest',
    });
    try {
      const totals = new Map<string, { n: number; total: number }>();
      for (const p of produced) {
        const { bidder, price } = JSON.parse(p.value) as { bidder: string; price: number };
        const t = totals.get(bidder) ?? { n: 0, total: 0 };
        totals.set(bidder, { n: t.n + 1, total: t.total + price });
      }
      const last = new Map<string, Row>();
      await readUntil(reader, (c) => {
        for (const r of c.records.splice(0)) {
          const meta = r._kafka as { key: string };
          const { _kafka: _, ...row } = r;
          assert.equal(meta.key, row.bidder, 'the message key is the primary key');
          last.set(meta.key, row);
        }
        return [...totals].every(([b, t]) => last.get(b)?.n === t.n);
      });
      assert.deepEqual(
        Object.fromEntries(last),
        Object.fromEntries([...totals].map(([bidder, t]) => [bidder, { bidder, ...t }])),
      );
    } finally {
      await reader.close?.();
    }
  });
});

describe('SQL kafka tables, compiled only', () => {
  const table = (column: string, options = '') =>
    `CREATE TABLE t (a BIGINT, ${column}) WITH ('connector' = 'kafka', 'topics' = 'x', 'group_id' = 'g'${options});
CREATE TABLE o (a BIGINT) WITH ('connector' = 'file', 'path' = './o.jsonl');
INSERT INTO o SELECT a FROM t;`;
  const reading = (column: string) =>
    `CREATE TABLE t (a BIGINT, ${column}) WITH ('connector' = 'kafka', 'topics' = 'x', 'group_id' = 'g');
CREATE TABLE o (a BIGINT, ts BIGINT) WITH ('connector' = 'file', 'path' = './o.jsonl');
INSERT INTO o SELECT a, ts FROM t;`;
  const failure = (text: string) => {
    try {
      compileSql(text, 'q.sql', { registry });
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
    return 'compiled';
  };

  test('an unknown metadata key names the near one and those the source gives', () => {
    assert.equal(
      failure(table("p INT METADATA FROM 'partiton'")),
      "a 'kafka' source has no metadata key 'partiton' — did you mean 'partition'?; it has 'topic', 'partition', 'offset', 'timestamp', 'key', 'headers'",
    );
  });

  test('a metadata column with the metadata turned off is refused at the option', () => {
    assert.equal(
      failure(table("p INT METADATA FROM 'partition'", ", 'include_metadata' = 'false'")),
      "the METADATA column 'p' needs 'include_metadata' = 'true': remove 'include_metadata' from the options of table 't' (it is set for you), or set it so",
    );
  });

  test('a metadata column is a field of the map after the source, and the source keeps its options', () => {
    const plan = compileSql(reading("ts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp'"), 'q.sql', { registry });
    assert.deepEqual(plan.sources[0].config, { topics: ['x'], group_id: 'g', include_metadata: true });
    assert.deepEqual(plan.steps[0].config, { select: ['a'], fields: { ts: '_kafka.timestamp' } });
  });
});
