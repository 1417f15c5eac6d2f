/**
 * The `kafka` sink's message timestamps against the real broker: each `timestamp` mode read back
 * with Kafka's console consumer, a topic that stamps records itself (LogAppendTime), and the
 * warning when written timestamps are older than the topic's `retention.ms`.
 */

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Row } from '@sluice/core';
import { kafkaSink } from './sink.ts';
import {
  type CapturingLogger,
  capturingLogger,
  consoleConsume,
  createTopic,
  deleteTopics,
  kafkaAvailable,
  sinkConfig,
  sinkContext,
  uniqueName,
} from './test-support.ts';

const available = await kafkaAvailable();
const created: string[] = [];
after(() => (created.length > 0 ? deleteTopics(...created) : undefined));

async function topic(name: string, configs: { [name: string]: string } = {}): Promise<string> {
  created.push(name);
  await createTopic(name, 1, configs);
  return name;
}

/** Writes `records` (event times `times`) through a fresh sink; returns its rejections' indexes. */
async function write(
  options: { [k: string]: unknown },
  records: Row[],
  times: number[],
  log: CapturingLogger = capturingLogger(),
): Promise<{ rejected: { index: number; message: string }[]; log: CapturingLogger }> {
  const sink = kafkaSink.create(sinkConfig(options));
  await sink.open(sinkContext({ log }));
  try {
    return { rejected: (await sink.write({ records, times })) ?? [], log };
  } finally {
    await sink.close();
  }
}

const HOUR = 3_600_000;
const expiredWarnings = (log: CapturingLogger) =>
  log.lines.filter((l) => l.level === 'warn' && /longer ago than the topic keeps/.test(l.message));

describe('kafka sink: message timestamps (real broker)', { skip: !available }, () => {
  test('event_time, now, an expression and a LogAppendTime topic: each lands as stated', async () => {
    const prefix = uniqueName('sink-ts');
    const [eventTopic, nowTopic, exprTopic, appendTopic] = await Promise.all([
      topic(`${prefix}-event`),
      topic(`${prefix}-now`),
      topic(`${prefix}-expr`),
      topic(`${prefix}-append`, { 'message.timestamp.type': 'LogAppendTime' }),
    ]);
    const base = Date.now() - 2 * 60_000;
    const times = [base, base + 1, base + 2];
    const created = ['2025-03-01T10:00:00Z', '2025-03-01T10:00:01.5Z', 'not a time'];
    const records = (mode: string) => times.map((_, i) => ({ mode, id: i, created: created[i] }));
    const before = Date.now();
    const results = await Promise.all([
      write({ topic: eventTopic }, records('event'), times),
      write({ topic: nowTopic, timestamp: 'now' }, records('now'), times),
      write({ topic: exprTopic, timestamp: 'created' }, records('expr'), times),
      write({ topic: appendTopic }, records('append'), times),
    ]);
    const afterWrites = Date.now();
    assert.deepEqual(
      results.map((r) => r.rejected.map((j) => j.index)),
      [[], [], [2], []],
    );
    assert.match(results[2].rejected[0].message, /^timestamp: 'not a time' is not a time/);

    const read = await consoleConsume(`${prefix}-.*`, {
      include: true,
      maxMessages: 11,
      idleMs: 10_000,
      atLeast: 11,
    });
    assert.equal(read.length, 11);
    const stamps = (mode: string) =>
      read
        .map((m) => ({ value: JSON.parse(m.value!) as { mode: string; id: number }, timestamp: m.timestamp }))
        .filter((m) => m.value.mode === mode)
        .sort((a, b) => a.value.id - b.value.id)
        .map((m) => m.timestamp);
    assert.deepEqual(stamps('event'), times, 'event_time: the event times');
    assert.deepEqual(stamps('expr'), [Date.parse(created[0]), Date.parse(created[1])], 'the expression');
    for (const mode of ['now', 'append']) {
      const got = stamps(mode);
      assert.equal(got.length, 3);
      for (const t of got)
        assert.ok(t >= before - 1000 && t <= afterWrites + 1000, `${mode}: ${t} written now`);
    }
  });

  test('timestamps older than retention.ms are warned about once; fresh ones, -1 and LogAppendTime are not', async () => {
    const prefix = uniqueName('sink-ts-retention');
    const [hour, forever, append] = await Promise.all([
      topic(`${prefix}-hour`, { 'retention.ms': String(HOUR) }),
      topic(`${prefix}-forever`, { 'retention.ms': '-1' }),
      topic(`${prefix}-append`, { 'retention.ms': String(HOUR), 'message.timestamp.type': 'LogAppendTime' }),
    ]);
    const now = Date.now();
    const rows = (n: number) => Array.from({ length: n }, (_, i) => ({ id: i }));

    const fresh = await write({ topic: hour }, rows(2), [now - 60_000, now - 30 * 60_000]);
    assert.deepEqual(expiredWarnings(fresh.log), [], 'fresh timestamps: no warning');

    const log = capturingLogger();
    const sink = kafkaSink.create(sinkConfig({ topic: hour }));
    await sink.open(sinkContext({ log }));
    try {
      await sink.write({ records: rows(3), times: [now - 60_000, now - 2 * HOUR, now - 3 * HOUR] });
      await sink.write({ records: rows(1), times: [now - 5 * HOUR] });
    } finally {
      await sink.close();
    }
    const warnings = expiredWarnings(log);
    assert.equal(warnings.length, 1, 'one warning however many old records');
    assert.deepEqual(
      { ...warnings[0].fields, fix: undefined },
      {
        sink: 'out',
        topic: hour,
        timestamp: new Date(now - 2 * HOUR).toISOString(),
        timestamp_option: 'event_time',
        retention_ms: HOUR,
        fix: undefined,
      },
    );
    assert.match(String(warnings[0].fields?.fix), /timestamp: now/);

    for (const kept of [forever, append]) {
      const r = await write({ topic: kept }, rows(1), [now - 30 * 24 * HOUR]);
      assert.deepEqual(expiredWarnings(r.log), [], `${kept}: nothing is deleted by age`);
    }
  });
});
