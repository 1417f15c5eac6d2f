/**
 * A broker restart while the `kafka` source reads: the reader backs off (capped), reconnects and
 * delivers every record. It stops the shared broker, so it runs only when asked:
 * `SLUICE_KAFKA_RESTART_TEST=1` (other Kafka tests running at the same time would see the
 * outage). It starts the broker again before it ends, whatever happens.
 */

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Row } from '@sluice/core';

const enabled = process.env.SLUICE_KAFKA_RESTART_TEST === '1';
if (!enabled)
  console.log(
    'skipped: broker restart test (set SLUICE_KAFKA_RESTART_TEST=1 to stop and restart the broker)',
  );
// Loaded only when the test runs: a skipped file stays cheap.
const support = enabled ? await import('./test-support.ts') : undefined;
const available = enabled && (await support!.kafkaAvailable());

const topics: string[] = [];
after(async () => {
  if (!available) return;
  await support!.services('up', 'kafka');
  if (topics.length > 0) await support!.deleteTopics(...topics);
});

describe('kafka source: broker restart', { skip: !available }, () => {
  test('the reader retries with capped backoff while the broker is down and loses nothing', {
    timeout: 180_000,
  }, async () => {
    const { capturingLogger, createTopic, openKafkaReader, produce, services, uniqueName } = support!;
    const name = uniqueName('restart');
    topics.push(name);
    await createTopic(name, 3);
    const before = [];
    for (let n = 0; n < 3000; n++) before.push({ partition: n % 3, value: JSON.stringify({ n }) });
    await produce(name, before);

    const log = capturingLogger();
    const reader = await openKafkaReader(
      { topics: [name], group_id: uniqueName('g'), max_buffered_records: 500 },
      { log },
    );
    const records: Row[] = [];
    const signal = new AbortController().signal;
    const readSome = async (until: () => boolean, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      while (!until() && Date.now() < deadline) {
        const b = await reader.read(100, signal);
        records.push(...(b?.records ?? []));
      }
    };
    try {
      await readSome(() => records.length >= 1000, 10_000);
      await reader.commit!(reader.position());
      await services('down', 'kafka');
      // Reading goes on (empty batches) while the broker is down; the buffered records come out.
      await readSome(() => false, 4_000);
      await services('up', 'kafka');
      const after = [];
      for (let n = 3000; n < 4000; n++) after.push({ partition: n % 3, value: JSON.stringify({ n }) });
      await produce(name, after);
      await readSome(() => new Set(records.map((r) => r.n)).size === 4000, 60_000);
      await reader.commit!(reader.position());
    } finally {
      await reader.close();
    }
    const seen = new Set(records.map((r) => r.n as number));
    assert.equal(seen.size, 4000, 'every record delivered');
    assert.equal(records.length, 4000, 'and none twice: the reader kept its offsets across the outage');
    const retries = log.lines.filter((l) => l.message.includes('retrying'));
    assert.ok(retries.length > 0, 'the outage was retried');
    for (const r of retries)
      assert.ok(((r.fields?.delay as number | undefined) ?? 0) <= 10_000, 'backoff capped');
  });
});
