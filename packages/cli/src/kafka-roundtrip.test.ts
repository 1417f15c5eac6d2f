/**
 * `sluice run` over Kafka end to end: sensor readings produced with Kafka's console producer to
 * a 3-partition topic → kafka source (event time from `ts`) → validate → keyed tumbling-window
 * aggregate → kafka sink keyed by sensor, with dead letters to a Kafka topic. The output, read
 * back with the console consumer, must be exactly the window results computed here from the
 * input, and every input that fails must appear once as a dead letter with its reason and its
 * Kafka coordinates.
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  type ConsumedRecord,
  consoleConsume,
  consoleProduce,
  KAFKA_BROKER,
  kafkaAvailable,
  Topics,
  uniqueName,
} from '@sluice/kafka/testing';
import { Cli, canonical, tempDir } from './cli-test-support.ts';
import { endOffsets, finalMetrics } from './kafka-cli-test-support.ts';

const available = await kafkaAvailable();
const topics = new Topics();
after(() => topics.cleanup());

const T0 = Date.UTC(2026, 0, 1);
const WINDOW_MS = 10_000;
const SENSORS = ['s0', 's1', 's2', 's3', 's4', 's5'];
/** Event time of the records that close every window: far beyond the data. */
const CLOSE_AT = T0 + 3_600_000;

interface Reading {
  sensor: string;
  value: number;
  ts: string;
}

/** What a bad input is, and the dead letter it must give. */
interface BadInput {
  key: string;
  value: string;
  step: 'in' | 'valid';
  code: string;
  /** What the dead letter's message must say. */
  reason: RegExp;
}

/**
 * The readings: per sensor 40 over 80 s of event time, each up to 3 s earlier than its place in
 * the stream (less than `max_out_of_orderness`, so none is late), values in quarters so every
 * sum is exact whatever the order of addition.
 */
function makeReadings(): Reading[] {
  let seed = 20260101;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const readings: Reading[] = [];
  for (let i = 0; i < 40; i++) {
    for (const [n, sensor] of SENSORS.entries()) {
      const ts = T0 + i * 2_000 + n * 50 - Math.floor(random() * 3_000);
      const value = Math.round((random() * 200 - 50) * 4) / 4;
      readings.push({ sensor, value, ts: new Date(Math.max(T0, ts)).toISOString() });
    }
  }
  return readings;
}

const bad: BadInput[] = [
  {
    key: 's1',
    value: '{"sensor":"s1","value":',
    step: 'in',
    code: 'DECODE_FAILED',
    reason: /not valid JSON/,
  },
  { key: 's2', value: 'temperature=12', step: 'in', code: 'DECODE_FAILED', reason: /not valid JSON/ },
  { key: 's3', value: '[1,2,3]', step: 'in', code: 'DECODE_FAILED', reason: /not a JSON object/ },
  {
    key: 's4',
    value: '{"sensor":"s4","value":1.5,"ts":"yesterday"}',
    step: 'in',
    code: 'EVENT_TIME_INVALID',
    reason: /'ts'/,
  },
  {
    key: 's0',
    value: '{"sensor":"s0","ts":"2026-01-01T00:00:05.000Z"}',
    step: 'valid',
    code: 'SCHEMA_VIOLATION',
    reason: /value/,
  },
  {
    key: 's5',
    value: '{"sensor":"s5","value":"high","ts":"2026-01-01T00:00:15.000Z"}',
    step: 'valid',
    code: 'SCHEMA_VIOLATION',
    reason: /value must be number/,
  },
  {
    key: 's2',
    value: '{"sensor":2,"value":3.5,"ts":"2026-01-01T00:00:25.000Z"}',
    step: 'valid',
    code: 'SCHEMA_VIOLATION',
    reason: /sensor must be string/,
  },
];

interface WindowResult {
  sensor: string;
  window_start: number;
  window_end: number;
  readings: number;
  total: number;
  lowest: number;
  highest: number;
}

/** The window results, computed from the readings independently of the engine. */
function expectedWindows(readings: readonly Reading[]): WindowResult[] {
  const windows = new Map<string, WindowResult>();
  for (const r of readings) {
    const start = Math.floor(Date.parse(r.ts) / WINDOW_MS) * WINDOW_MS;
    const id = `${r.sensor}|${start}`;
    const w = windows.get(id);
    if (w === undefined) {
      windows.set(id, {
        sensor: r.sensor,
        window_start: start,
        window_end: start + WINDOW_MS,
        readings: 1,
        total: r.value,
        lowest: r.value,
        highest: r.value,
      });
    } else {
      w.readings++;
      w.total += r.value;
      w.lowest = Math.min(w.lowest, r.value);
      w.highest = Math.max(w.highest, r.value);
    }
  }
  return [...windows.values()];
}

function pipeline(input: string, output: string, deadLetters: string, group: string): string {
  return `
name: kafka-roundtrip
settings:
  checkpoint: { interval: 1s, dir: ./.sluice }
sources:
  in:
    type: kafka
    brokers: ['${KAFKA_BROKER}']
    topics: ['${input}']
    group_id: '${group}'
    heartbeat_interval: 300ms
    event_time: { field: ts, max_out_of_orderness: 5s, idle_timeout: 60s }
steps:
  - id: valid
    type: validate
    schema:
      type: object
      required: [sensor, value, ts]
      properties:
        sensor: { type: string }
        value: { type: number }
        ts: { type: string, format: date-time }
  - id: per-sensor
    type: aggregate
    key: [sensor]
    window: { type: tumbling, size: 10s }
    on_late: dead_letter
    fields:
      readings: count(*)
      total: sum(value)
      lowest: min(value)
      highest: max(value)
sinks:
  out: { type: kafka, brokers: ['${KAFKA_BROKER}'], topic: '${output}', key: sensor }
dead_letter: { type: kafka, brokers: ['${KAFKA_BROKER}'], topic: '${deadLetters}', key: code }
`;
}

test('kafka → validate → window aggregate → kafka through `sluice run`', { skip: !available }, async (t) => {
  const [input, output, deadTopic] = await Promise.all([
    topics.create('rt-in', 3),
    topics.create('rt-out', 3),
    topics.create('rt-dead', 1),
  ]);

  // Readings, with the bad inputs spread among them, then one closing record per sensor.
  const readings = makeReadings();
  const lines: { key: string; value: string }[] = readings.map((r) => ({
    key: r.sensor,
    value: JSON.stringify(r),
  }));
  for (const [i, b] of bad.entries()) lines.splice(10 + i * 31, 0, { key: b.key, value: b.value });
  const closing = SENSORS.map((sensor) => ({ sensor, value: 0, ts: new Date(CLOSE_AT).toISOString() }));
  for (const c of closing) lines.push({ key: c.sensor, value: JSON.stringify(c) });
  await consoleProduce(input, lines);

  // Where each input landed, as an independent client sees it.
  const produced = await consoleConsume(input, {
    maxMessages: lines.length,
    idleMs: 10_000,
    atLeast: lines.length,
  });
  assert.equal(produced.length, lines.length, 'the console consumer reads back every input');
  const closingPartitions = new Set(
    produced
      .filter((r) => r.value!.includes(`"ts":"${new Date(CLOSE_AT).toISOString()}"`))
      .map((r) => r.partition),
  );
  assert.equal(closingPartitions.size, 3, 'the closing records reach every partition (sensor keys)');

  const dir = await tempDir(t, 'sluice-kafka-rt-');
  await writeFile(join(dir, 'pipeline.yaml'), pipeline(input, output, deadTopic, uniqueName('rt-g')));
  const expected = expectedWindows(readings);
  const cli = new Cli(['run', 'pipeline.yaml'], { cwd: dir, limitMs: 90_000 });
  let results: ConsumedRecord[];
  try {
    await cli.waitForLog('pipeline started', 30_000);
    // Blocks until every expected result is there: the closing records fire every data window.
    // `atLeast`: a console consumer slow to join its group is read again, not taken for no results.
    results = await consoleConsume(output, {
      maxMessages: expected.length,
      idleMs: 45_000,
      atLeast: expected.length,
    });
  } finally {
    cli.kill('SIGTERM');
  }
  const ended = await cli.exited;
  assert.equal(ended.code, 0, `sluice run exits 0 on SIGTERM\n${ended.stderr}`);
  assert.match(ended.stderr, /"msg":"pipeline stopped"/);

  // The results: exactly the windows computed here, each keyed by its sensor.
  assert.deepEqual(
    canonical(results.map((r) => JSON.parse(r.value!))),
    canonical(expected),
    'window results read back with the console consumer',
  );
  for (const r of results) assert.equal(r.key, JSON.parse(r.value!).sensor, 'message key = sensor');

  // The dead letters: each bad input once, with its reason and Kafka coordinates.
  const letters = (
    await consoleConsume(deadTopic, { maxMessages: bad.length, idleMs: 10_000, atLeast: bad.length })
  ).map((r) => ({ key: r.key, ...JSON.parse(r.value!) }) as Record<string, unknown>);
  const badAt = bad.map((b) => {
    const at = produced.filter((r) => r.value === b.value);
    assert.equal(at.length, 1, `bad input ${b.value} was produced once`);
    return { ...b, partition: at[0].partition, offset: at[0].offset };
  });
  assert.deepEqual(
    canonical(letters.map((l) => ({ step: l.step, code: l.code, partition: l.partition, offset: l.offset }))),
    canonical(
      badAt.map((b) => ({
        step: b.step,
        code: b.code,
        partition: `${input}/${b.partition}`,
        offset: b.offset,
      })),
    ),
    'dead letters: one per bad input, at its partition and offset',
  );
  for (const b of badAt) {
    const letter = letters.find((l) => l.partition === `${input}/${b.partition}` && l.offset === b.offset)!;
    assert.equal(letter.key, b.code, 'dead-letter key = code');
    assert.equal(letter.source, 'in');
    assert.match(String(letter.message), b.reason, `reason of ${b.value}: ${letter.message}`);
    if (b.code === 'DECODE_FAILED') {
      assert.equal(letter.payload, b.value, 'an undecodable value is kept as its text');
    } else {
      const { _kafka, ...payload } = letter.payload as Record<string, unknown>;
      assert.deepEqual(payload, JSON.parse(b.value), 'the record as read');
      assert.deepEqual(
        { partition: (_kafka as ConsumedRecord).partition, offset: (_kafka as ConsumedRecord).offset },
        { partition: b.partition, offset: b.offset },
      );
    }
  }

  // Nothing else was written to either topic.
  const ends = await endOffsets([output, deadTopic]);
  assert.equal(ends.get(output), expected.length, 'records in the output topic');
  assert.equal(ends.get(deadTopic), bad.length, 'records in the dead-letter topic');

  // Accounting: every input went through validation or became a dead letter. What validation
  // passed is in the results, except the closing records (their windows are still open).
  const m = finalMetrics(ended.stderr);
  const aggregated = results.reduce((n, r) => n + (JSON.parse(r.value!) as WindowResult).readings, 0);
  assert.equal(aggregated, readings.length);
  assert.deepEqual(
    { in: m.records_in, out: m.records_out, dead: m.dead_letters, late: m.late },
    { in: lines.length, out: expected.length, dead: bad.length, late: 0 },
    'final metrics of the run',
  );
  assert.equal(m.records_in, aggregated + closing.length + letters.length, 'in = validated + dead letters');
  t.diagnostic(`${lines.length} inputs → ${results.length} window results, ${letters.length} dead letters`);
});
