import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Row, Sink } from '@sluice/core';
import { kafkaSink } from './sink.ts';
import type { KafkaSinkState } from './sink-config.ts';
import {
  capturingLogger,
  consoleConsume,
  kafkaAvailable,
  sinkConfig,
  sinkContext,
  Topics,
  uniqueName,
} from './test-support.ts';

const available = await kafkaAvailable();
const topics = new Topics();
after(() => topics.cleanup());

/** Records `{ id, phase }` with ids from..to-1. */
function records(phase: string, from: number, to: number): { records: Row[]; times: number[] } {
  const out: Row[] = [];
  const times: number[] = [];
  for (let id = from; id < to; id++) {
    out.push({ id, phase });
    times.push(Date.now());
  }
  return { records: out, times };
}

async function write(sink: Sink, batch: { records: Row[]; times: number[] }): Promise<void> {
  assert.equal(await sink.write({ records: batch.records, times: batch.times }), undefined);
}

const ids = (messages: { value: string | null }[]) =>
  messages.map((m) => (JSON.parse(m.value!) as { id: number }).id).sort((a, b) => a - b);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('kafka sink, exactly once (real broker)', { skip: !available }, () => {
  test('a checkpoint’s records stay invisible to read_committed until its commit; crashes before and after a durable checkpoint leave every record exactly once', async () => {
    const topic = await topics.create('sink-eos', 3);
    // A committed record in another topic: a read_committed consumer that returns it has fetched
    // (so an empty answer from the transactional topic means "invisible", not "not read yet").
    const marker = await topics.create('sink-eos-marker', 1);
    const markerSink = kafkaSink.create(sinkConfig({ topic: marker, format: 'string' }));
    await markerSink.open(sinkContext());
    await markerSink.write({ records: [{ value: 'marker' }], times: [Date.now()] });
    await markerSink.close();
    const pipeline = uniqueName('eos');
    const config = sinkConfig({ topic, key: 'CAST(id AS VARCHAR)', delivery: 'exactly_once' });
    const open = async (restored: unknown) => {
      const log = capturingLogger();
      const sink = kafkaSink.create(config);
      await sink.open(sinkContext({ pipeline, restored, log }));
      return { sink, log };
    };

    // Incarnation 1: checkpoint 1 holds A and completes.
    const { sink: first } = await open(undefined);
    const empty = (await first.prepareCommit!(0)) as KafkaSinkState;
    assert.deepEqual(empty, { transactionalId: `sluice-${pipeline}-out`, prepared: null });
    await write(first, records('A', 0, 50));
    const state1 = (await first.prepareCommit!(1)) as KafkaSinkState;
    assert.equal(state1.prepared?.records, 50);
    const [hidden, raw] = await Promise.all([
      consoleConsume(`${topic}|${marker}`, { isolation: 'read_committed', idleMs: 6000, include: true }),
      consoleConsume(topic, { isolation: 'read_uncommitted', maxMessages: 50, idleMs: 10_000 }),
    ]);
    assert.deepEqual(
      hidden.map((m) => m.value),
      ['marker'],
      'prepared but not committed: invisible to read_committed',
    );
    assert.deepEqual(ids(raw), range(0, 50), 'yet written and acknowledged');
    await first.commit!(1);
    assert.deepEqual(
      ids(
        await consoleConsume(topic, {
          isolation: 'read_committed',
          maxMessages: 50,
          idleMs: 10_000,
          atLeast: 50,
        }),
      ),
      range(0, 50),
    );

    // B is prepared at checkpoint 2, which never becomes durable: the job crashes.
    await write(first, records('B', 50, 90));
    await first.prepareCommit!(2);

    // Incarnation 2 restores checkpoint 1: its transaction was committed already; opening fences
    // incarnation 1 and aborts its open transaction (B). The job replays B.
    const { sink: second, log: log2 } = await open(state1);
    assert.ok(log2.lines.some((l) => /was committed before the restart/.test(l.message)));
    await assert.rejects(first.commit!(2), { code: 'CONFIG_INVALID', path: 'transactional_id' });
    await first.close();
    await write(second, records('B', 50, 90));
    await write(second, records('C', 90, 120));
    const state2 = (await second.prepareCommit!(2)) as KafkaSinkState;
    assert.equal(state2.prepared?.records, 70);
    assert.ok(
      BigInt(state2.prepared!.producerEpoch) > BigInt(state1.prepared!.producerEpoch) ||
        state2.prepared!.producerId !== state1.prepared!.producerId,
    );

    // Checkpoint 2 is durable, then the job crashes before commit(2). Incarnation 3 restores
    // checkpoint 2 and commits its transaction: B and C become visible without a replay.
    const { sink: third, log: log3 } = await open(state2);
    assert.ok(
      log3.lines.some((l) => /committed the transaction the restored checkpoint prepared/.test(l.message)),
    );
    await second.close();
    await write(third, records('D', 120, 140));
    await third.prepareCommit!(3);
    await third.commit!(3);
    await third.close();

    const [committed, everything] = await Promise.all([
      consoleConsume(topic, { isolation: 'read_committed', idleMs: 6000, atLeast: 140 }),
      consoleConsume(topic, { isolation: 'read_uncommitted', idleMs: 6000, atLeast: 140 }),
    ]);
    assert.deepEqual(ids(committed), range(0, 140), 'read_committed: every record exactly once');
    assert.equal(
      everything.length,
      180,
      'the aborted first copy of B is in the log, filtered by read_committed',
    );
  });

  test('close() aborts records written after the last checkpoint', async () => {
    const topic = await topics.create('sink-eos-close', 1);
    const config = sinkConfig({
      topic,
      delivery: 'exactly_once',
      transactional_id: uniqueName('txn'),
      compression: 'lz4',
    });
    const sink = kafkaSink.create(config);
    await sink.open(sinkContext());
    await write(sink, records('A', 0, 10));
    await sink.prepareCommit!(1);
    await sink.commit!(1);
    await write(sink, records('B', 10, 20));
    await sink.close();
    const [committed, everything] = await Promise.all([
      consoleConsume(topic, { isolation: 'read_committed', idleMs: 6000, atLeast: 10 }),
      consoleConsume(topic, { isolation: 'read_uncommitted', idleMs: 6000, atLeast: 20 }),
    ]);
    assert.deepEqual(ids(committed), range(0, 10));
    assert.equal(everything.length, 20);
  });

  test('a transaction_timeout above the broker’s maximum fails the open with CONFIG_INVALID', async () => {
    const topic = await topics.create('sink-eos-timeout', 1);
    const sink = kafkaSink.create(
      sinkConfig({
        topic,
        delivery: 'exactly_once',
        transactional_id: uniqueName('txn'),
        transaction_timeout: '20m',
      }),
    );
    await assert.rejects(sink.open(sinkContext()), { code: 'CONFIG_INVALID', path: 'transaction_timeout' });
    await sink.close();
  });
});
