/**
 * The core's conformance suites run by the `kafka` sink (both delivery modes) and source against
 * the real broker (`scripts/services.sh up kafka`): skipped with a reason when it is not
 * reachable, a failure under CI=true.
 */

import { after } from 'node:test';
import type { Row } from '@sluice/core';
import { sinkConformance, sourceConformance } from '@sluice/core/testing';
import { kafkaSink } from './sink.ts';
import { kafkaSource } from './source.ts';
import {
  KAFKA_BROKER,
  KAFKA_HOST,
  kafkaAvailable,
  openKafkaReader,
  produce,
  REPO_ROOT,
  Topics,
  uniqueName,
} from './test-support.ts';

const available = await kafkaAvailable();
const skip = available ? false : `kafka not reachable at ${KAFKA_BROKER}`;
const topics = new Topics();
after(() => topics.cleanup());
// A consumer closed while its group is rejoining (the two-worker case closes two members of one
// group mid-rebalance) can be left by @platformatic/kafka with its membership active: it then
// schedules a heartbeat every 300 ms on closed connections for ever, and this file never exits
// (seen once in a CI run, 2026-12-07; the library gives no way to cancel it from outside). Until
// that is fixed at its source, the file ends itself once every test has reported.
after(() => {
  setTimeout(() => process.exit(), 10_000).unref();
});

/**
 * Every record of a topic as a `read_committed` consumer sees it now, with its key: read by a
 * fresh group from the earliest offset until three reads in a row bring nothing (once it has read
 * something, or after ten seconds).
 */
async function consume(topic: string): Promise<{ key: string | null; value: string | null }[]> {
  const reader = await openKafkaReader({
    topics: [topic],
    group_id: uniqueName('conformance-read'),
    start: 'earliest',
    format: 'string',
    static_membership: false,
  });
  const out: { key: string | null; value: string | null }[] = [];
  const signal = new AbortController().signal;
  try {
    // Quiet reads count only once something was read or ten seconds have passed: the fresh
    // group's first reads can come back empty while it joins (on a loaded machine, for seconds).
    const started = Date.now();
    for (let quiet = 0, rounds = 0; quiet < 3 && rounds < 400; rounds++) {
      const batch = await reader.read(1024, signal);
      if (batch === null) break;
      const settled = out.length > 0 || Date.now() - started > 10_000;
      quiet = batch.records.length === 0 ? (settled ? quiet + 1 : 0) : 0;
      for (const r of batch.records) {
        const meta = r._kafka as { key: string | null };
        out.push({ key: meta.key, value: r.value as string | null });
      }
    }
  } finally {
    await reader.close();
  }
  return out;
}

for (const delivery of ['at_least_once', 'exactly_once'] as const) {
  sinkConformance({
    spec: kafkaSink,
    label: `kafka ${delivery}`,
    skip,
    baseDir: REPO_ROOT,
    changelog: true,
    // A record without the key field: its key expression fails, so the sink refuses it.
    refused: { record: { id: 1000, amount: 1 }, reason: /name/ },
    // No `server`: a client reconnects to the address the broker advertises, past any proxy.
    plugin: '@sluice/kafka',
    async target({ changelog }) {
      // One partition, so that reading back keeps the order of the writes.
      const topic = await topics.create(`conformance-${delivery}`, 1);
      const options = {
        brokers: [KAFKA_BROKER],
        topic,
        delivery,
        transactional_id: uniqueName('conformance-tx'),
        ...(changelog ? { changelog: 'upsert', key: 'CAST(id AS VARCHAR)' } : { key: 'name' }),
      };
      return {
        options,
        async read() {
          const messages = await consume(topic);
          if (!changelog) return messages.map((m) => JSON.parse(m.value ?? 'null') as Row);
          const table = new Map<string | null, Row>();
          for (const m of messages) {
            if (m.value === null) table.delete(m.key);
            else table.set(m.key, JSON.parse(m.value) as Row);
          }
          return [...table.values()];
        },
      };
    },
    async secret() {
      // The SASL listener refuses a wrong password: the sink fails at open.
      const secret = `wrong-${process.pid}-do-not-leak`;
      return {
        secret,
        options: {
          brokers: [`${KAFKA_HOST}:9094`],
          topic: uniqueName('conformance-secret'),
          delivery,
          sasl: { mechanism: 'PLAIN', username: 'sluice', password: secret },
          retry: { max_attempts: 1 },
        },
      };
    },
  });
}

sourceConformance({
  spec: kafkaSource,
  skip,
  baseDir: REPO_ROOT,
  upstreamPositions: true,
  plugin: '@sluice/kafka',
  // One consumer group: its members share the topic's three partitions.
  sharedWork: {},
  async input() {
    const topic = await topics.create('conformance-in', 3);
    let n = 0;
    return {
      options: {
        brokers: [KAFKA_BROKER],
        topics: [topic],
        group_id: uniqueName('conformance-g'),
        start: 'earliest',
        include_metadata: false,
        static_membership: false,
        heartbeat_interval: '300ms',
      },
      async write(records) {
        await produce(
          topic,
          records.map((r) => ({ partition: n++ % 3, value: JSON.stringify(r) })),
        );
      },
      async writeMalformed(count) {
        await produce(
          topic,
          Array.from({ length: count }, () => ({ partition: n++ % 3, value: 'not json' })),
        );
      },
    };
  },
});
