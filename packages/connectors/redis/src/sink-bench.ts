/**
 * The `redis` sink alone writing `HSET` batches, for a CPU profile (`node --cpu-prof`, or `perf
 * record -g` with `--perf-basic-prof`, which also sees the kernel); `bench/redis.ts` compares it
 * with its peers. The records are written twice and the second pass measured: the first warms the
 * JIT up.
 *
 *   node --cpu-prof packages/connectors/redis/src/sink-bench.ts [records] [depth]
 */

import type { Row } from '@sluice/core';
import { batch, dropKeys, openSink, testClient, uniqueName } from './test-support.ts';

const records = Number(process.argv[2] ?? 300_000);
const depth = Number(process.argv[3] ?? 64);
const prefix = uniqueName('sink-bench');
const data: Row[] = Array.from({ length: records }, (_v, i) => ({ k: i % 1000, v: 'xxx' }));
const sink = await openSink({ mode: 'hash', key: `${prefix}:{k}`, fields: ['v'] });
// A first pass warms the JIT up (as bench/redis.ts's warm-up run); the second is measured.
for (let from = 0; from < records; from += depth) await sink.write(batch(data.slice(from, from + depth)));
const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (let from = 0; from < records; from += depth) await sink.write(batch(data.slice(from, from + depth)));
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
await sink.close();
const client = await testClient();
await dropKeys(client, prefix);
await client.close();
console.log(
  `${records} records, depth ${depth}: ${Math.round(records / (ms / 1000))} rec/s, ${Math.round(records / ((cpu.user + cpu.system) / 1e6))} rec/CPU-s`,
);
