/**
 * Throughput of the `kafka` sink against the real broker, beside the client library's bare
 * produce loop doing the same work (JSON-encode, key, timestamp, send 4,096 records, await the
 * acknowledgement) in the same process and run.
 *
 *   node packages/connectors/kafka/src/sink-bench.ts [--records 400000] [--runs 3]
 *
 * Records per CPU-second count user + system time of this process.
 */

import { parseArgs } from 'node:util';
import { Producer } from '@platformatic/kafka';
import type { Row, Sink } from '@sluice/core';
import { kafkaSink } from './sink.ts';
import {
  createTopic,
  deleteTopics,
  KAFKA_BROKER,
  sinkConfig,
  sinkContext,
  uniqueName,
} from './test-support.ts';

const { values } = parseArgs({
  options: { records: { type: 'string', default: '400000' }, runs: { type: 'string', default: '3' } },
});
const N = Number(values.records);
const RUNS = Number(values.runs);
/** What the runtime's sink queue hands to one write by default (max(1024, 16384 / 4)). */
const WRITE = 4096;

const records: Row[] = [];
const times: number[] = [];
const base = Date.now() - 60_000;
for (let i = 0; i < N; i++) {
  records.push({
    id: i,
    user: `user-${i % 10_000}`,
    amount: Math.round(i * 7.31) / 100,
    currency: 'EUR',
    region: ['eu-west', 'us-east', 'ap-south'][i % 3],
    ts: base + i,
    items: (i % 5) + 1,
    tags: ['web', 'promo'],
    note: 'lorem ipsum dolor sit amet, consectetur',
  });
  times.push(base + i);
}
const bytes = Buffer.byteLength(JSON.stringify(records[0]));

async function measure(run: () => Promise<void>): Promise<{ cpu: number; wall: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await run();
  const c = process.cpuUsage(cpu0);
  return { cpu: (c.user + c.system) / 1e6, wall: (performance.now() - t0) / 1000 };
}

async function bare(topic: string): Promise<void> {
  const producer = new Producer({
    clientId: 'bench-bare',
    bootstrapBrokers: [KAFKA_BROKER],
    idempotent: true,
    producerId: -1n,
    producerEpoch: -1,
  });
  for (let from = 0; from < N; from += WRITE) {
    const messages = [];
    for (let i = from; i < Math.min(N, from + WRITE); i++) {
      const r = records[i];
      messages.push({
        topic,
        key: Buffer.from(r.user as string),
        value: Buffer.from(JSON.stringify(r)),
        timestamp: BigInt(times[i]),
      });
    }
    await producer.send({ messages });
  }
  await producer.close();
}

async function sluice(topic: string, delivery: string): Promise<void> {
  const sink: Sink = kafkaSink.create(
    sinkConfig({ topic, key: 'user', delivery, transactional_id: uniqueName('bench') }),
  );
  await sink.open(sinkContext());
  let checkpoint = 0;
  for (let from = 0, n = 0; from < N; from += WRITE, n++) {
    await sink.write({ records: records.slice(from, from + WRITE), times: times.slice(from, from + WRITE) });
    // A checkpoint every 10 writes (about 40,000 records).
    if (delivery === 'exactly_once' && n % 10 === 9) {
      await sink.prepareCommit!(++checkpoint);
      await sink.commit!(checkpoint);
    }
  }
  if (delivery === 'exactly_once') {
    await sink.prepareCommit!(++checkpoint);
    await sink.commit!(checkpoint);
  }
  await sink.close();
}

const variants: [string, (topic: string) => Promise<void>][] = [
  ['library bare loop (idempotent)', bare],
  ['kafka sink at_least_once', (t) => sluice(t, 'at_least_once')],
  ['kafka sink exactly_once', (t) => sluice(t, 'exactly_once')],
];
const results = new Map<string, { cpu: number; wall: number }[]>();
const created: string[] = [];
for (let run = 0; run < RUNS; run++) {
  for (const [name, fn] of variants) {
    const topic = uniqueName('sink-bench');
    created.push(topic);
    await createTopic(topic, 4);
    const m = await measure(() => fn(topic));
    results.set(name, [...(results.get(name) ?? []), m]);
  }
}
await deleteTopics(...created);

const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`${N} records of ${bytes} bytes (JSON), ${WRITE} per write, 4 partitions, median of ${RUNS}`);
const bareRate = median(results.get(variants[0][0])!.map((m) => N / m.cpu));
for (const [name] of variants) {
  const ms = results.get(name)!;
  const perCpu = median(ms.map((m) => N / m.cpu));
  const perWall = median(ms.map((m) => N / m.wall));
  console.log(
    `${name.padEnd(32)} ${Math.round(perCpu / 1000)}k rec/CPU-s  ${Math.round(perWall / 1000)}k rec/s wall  ${(perCpu / bareRate).toFixed(2)} of bare`,
  );
}
