/**
 * Where the `redis` sink's CPU per record goes, in one process, alternating: `floor` — a raw
 * Node socket writing one prebuilt batch of `depth` HSETs and counting the replies (what any
 * Node client pays per round trip); `encode` — the sink's encoding of each batch (`writeCommands`
 * into a `RespEncoder`) without I/O; `raw+encode` — both; `sink` — the sink's `write`. The same
 * records as `bench/redis.ts` (`{ k, v: 'xxx' }` over 1,000 keys, `HSET <prefix>:{k} v xxx`).
 * Prints nanoseconds of CPU (user + system, all threads) per record, the median of `runs`.
 *
 *   node packages/connectors/redis/src/sink-split-bench.ts [records] [depth] [runs]
 */

import { connect } from 'node:net';
import { loadavg } from 'node:os';
import { type Row, validateConfig } from '@sluice/core';
import { writeCommands } from './commands.ts';
import { RespEncoder } from './resp-encoder.ts';
import { type RedisSinkConfig, sinkPlan } from './sink-config.ts';
import { redisSink } from './sink-spec.ts';
import { batch, dropKeys, openSink, REDIS_URL, testClient, uniqueName } from './test-support.ts';

const records = Number(process.argv[2] ?? 600_000);
const depth = Number(process.argv[3] ?? 64);
const runs = Number(process.argv[4] ?? 5);
const prefix = uniqueName('split-bench');
const data: Row[] = Array.from({ length: records }, (_v, i) => ({ k: i % 1000, v: 'xxx' }));
const options = { url: REDIS_URL, mode: 'hash', key: `${prefix}:{k}`, fields: ['v'] };
const checked = validateConfig<RedisSinkConfig>(redisSink.config, options);
if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
const config = checked.value;
const plan = sinkPlan(config, 'bench');
const encoder = new RespEncoder();

function encode(from: number): void {
  const records = data.slice(from, from + depth);
  encoder.reset();
  writeCommands(batch(records), plan, config, encoder);
}

// A raw socket whose replies are counted by their line ends (each HSET reply is one `:n\r\n`).
const url = new URL(REDIS_URL);
let wanted = 0;
let seen = 0;
let done: (() => void) | undefined;
const socket = connect({
  host: url.hostname,
  port: Number(url.port || 6379),
  onread: {
    buffer: Buffer.allocUnsafe(64 * 1024),
    callback: (bytes: number, buf: Uint8Array): boolean => {
      for (let i = 0; i < bytes; i++) if (buf[i] === 10) seen++;
      if (seen >= wanted && done !== undefined) {
        const d = done;
        done = undefined;
        d();
      }
      return true;
    },
  },
});
await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
socket.setNoDelay(true);
function roundTrip(bytes: Uint8Array): Promise<void> {
  seen = 0;
  wanted = depth;
  const replied = new Promise<void>((resolve) => {
    done = resolve;
  });
  socket.write(bytes);
  return replied;
}
encode(0);
const prebuilt = Buffer.from(encoder.bytes());

const sink = await openSink(options);
const variants: [string, () => Promise<void> | void][] = [
  [
    'floor',
    async () => {
      for (let from = 0; from < records; from += depth) await roundTrip(prebuilt);
    },
  ],
  [
    'encode',
    () => {
      for (let from = 0; from < records; from += depth) encode(from);
    },
  ],
  [
    'raw+encode',
    async () => {
      for (let from = 0; from < records; from += depth) {
        encode(from);
        await roundTrip(encoder.bytes());
      }
    },
  ],
  [
    'sink',
    async () => {
      for (let from = 0; from < records; from += depth)
        await sink.write(batch(data.slice(from, from + depth)));
    },
  ],
];
const results = new Map<string, number[]>(variants.map(([name]) => [name, []]));
for (const [, run] of variants) await run(); // warm-up
for (let r = 0; r < runs; r++)
  for (const [name, run] of variants) {
    const cpu0 = process.cpuUsage();
    await run();
    const cpu = process.cpuUsage(cpu0);
    results.get(name)?.push(((cpu.user + cpu.system) * 1000) / records);
  }
await sink.close();
socket.end();
const client = await testClient();
await dropKeys(client, prefix);
await client.close();
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? Number.NaN;
console.log(`${records} records, depth ${depth}, median of ${runs}, load ${loadavg()[0].toFixed(1)}`);
for (const [name, ns] of results)
  console.log(
    `${name.padEnd(10)} ${median(ns).toFixed(0)} ns CPU per record (runs: ${ns.map((x) => x.toFixed(0)).join(', ')})`,
  );
