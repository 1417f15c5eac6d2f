/**
 * A broker restart while the `kafka` sink writes: writes and a commit issued while the broker is
 * down are retried with capped backoff and finish once it is back; nothing is lost, and the
 * exactly-once sink's transactions hold every record once. It stops the shared broker, so it runs
 * only when asked: `SLUICE_KAFKA_RESTART_TEST=1` (`npm run test:disruptive`). It starts the broker
 * again before it ends, whatever happens.
 */

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Row, Sink } from '@sluice/core';

const enabled = process.env.SLUICE_KAFKA_RESTART_TEST === '1';
if (!enabled)
  console.log(
    'skipped: sink broker restart test (set SLUICE_KAFKA_RESTART_TEST=1 to stop and restart the broker)',
  );
// Loaded only when the test runs: a skipped file stays cheap.
const support = enabled ? await import('./test-support.ts') : undefined;
const sinkModule = enabled ? await import('./sink.ts') : undefined;
const available = enabled && (await support!.kafkaAvailable());

const MAX_BACKOFF_MS = 1_000;

const topics: string[] = [];
after(async () => {
  if (!available) return;
  await support!.services('up', 'kafka');
  if (topics.length > 0) await support!.deleteTopics(...topics);
});

const rows = (from: number, to: number): Row[] =>
  Array.from({ length: to - from }, (_, i) => ({ n: from + i, key: `k${(from + i) % 31}` }));

async function write(sink: Sink, records: Row[]): Promise<void> {
  assert.equal(await sink.write({ records, times: records.map(() => Date.now()) }), undefined);
}

describe('kafka sink: broker restart', { skip: !available }, () => {
  test('writes and a commit during the outage are retried with capped backoff; at-least-once loses nothing, exactly-once holds each record once', {
    timeout: 240_000,
  }, async (t) => {
    const {
      capturingLogger,
      createTopic,
      openKafkaReader,
      readUntil,
      services,
      sinkConfig,
      sinkContext,
      uniqueName,
    } = support!;
    const { kafkaSink } = sinkModule!;
    const alo = uniqueName('sink-restart-alo');
    const eos = uniqueName('sink-restart-eos');
    topics.push(alo, eos);
    await createTopic(alo, 3);
    await createTopic(eos, 3);
    // Enough attempts to outlast a restart (~10 s) whatever the jitter draws; each wait ≤ 1 s.
    const retry = { max_attempts: 200, initial_backoff: '100ms', max_backoff: `${MAX_BACKOFF_MS}ms` };
    const log = capturingLogger();
    const atLeastOnce = kafkaSink.create(sinkConfig({ topic: alo, key: 'key', retry }));
    const exactlyOnce = kafkaSink.create(
      sinkConfig({
        topic: eos,
        key: 'key',
        retry,
        delivery: 'exactly_once',
        transactional_id: uniqueName('txn'),
      }),
    );
    await atLeastOnce.open(sinkContext({ id: 'alo', log }));
    await exactlyOnce.open(sinkContext({ id: 'eos', log }));
    try {
      await write(atLeastOnce, rows(0, 1000));
      await write(exactlyOnce, rows(0, 1000));
      await exactlyOnce.prepareCommit!(1);

      await services('down', 'kafka');
      // Issued while the broker is down; they retry while it restarts.
      const during = Promise.all([
        write(atLeastOnce, rows(1000, 2000)),
        (async () => {
          await exactlyOnce.commit!(1);
          await write(exactlyOnce, rows(1000, 2000));
        })(),
      ]);
      const restarted = services('up', 'kafka');
      await Promise.all([during, restarted]);

      await write(atLeastOnce, rows(2000, 3000));
      await write(exactlyOnce, rows(2000, 3000));
      await exactlyOnce.prepareCommit!(2);
      await exactlyOnce.commit!(2);
    } finally {
      await atLeastOnce.close();
      await exactlyOnce.close();
    }

    const retries = log.lines.filter((l) => l.message === 'kafka sink: request failed; retrying');
    for (const sink of ['alo', 'eos'])
      assert.ok(
        retries.some((l) => l.fields?.sink === sink),
        `the ${sink} sink retried during the outage`,
      );
    for (const r of retries)
      assert.ok((r.fields?.delay as number) <= MAX_BACKOFF_MS, `backoff capped: ${JSON.stringify(r.fields)}`);
    t.diagnostic(
      `retries logged: ${retries.length} (alo ${retries.filter((r) => r.fields?.sink === 'alo').length}, ` +
        `eos ${retries.filter((r) => r.fields?.sink === 'eos').length}); last: ${retries.at(-1)?.fields?.error}`,
    );

    const readAll = async (topic: string, isolation: 'read_committed' | 'read_uncommitted') => {
      const reader = await openKafkaReader({
        topics: [topic],
        group_id: uniqueName('g'),
        isolation_level: isolation,
      });
      try {
        const got = await readUntil(reader, (c) => new Set(c.records.map((r) => r.n)).size >= 3000, 60_000);
        // A duplicate would have arrived by now too: read on until three reads in a row find
        // nothing (each waits ~200 ms at most; bounded at 50 reads).
        for (let reads = 0, empty = 0; empty < 3 && reads < 50; reads++) {
          const batch = await reader.read(1024, new AbortController().signal);
          if (batch && batch.records.length > 0) {
            got.records.push(...batch.records);
            empty = 0;
          } else empty++;
        }
        return got.records.map((r) => r.n as number);
      } finally {
        await reader.close();
      }
    };
    const all = Array.from({ length: 3000 }, (_, i) => i);
    const aloRead = await readAll(alo, 'read_uncommitted');
    assert.deepEqual(
      [...new Set(aloRead)].sort((a, b) => a - b),
      all,
      'at-least-once: no record missing',
    );
    const eosRead = await readAll(eos, 'read_committed');
    assert.deepEqual(
      eosRead.sort((a, b) => a - b),
      all,
      'exactly-once: read_committed sees every record exactly once',
    );
  });
});
