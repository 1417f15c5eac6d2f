/**
 * Redis sink: the `redis` sink (`mode: hash`) writing records as `HSET key v xxx`, beside
 * `redis-benchmark` sending the same command at the same pipeline depth over one connection, and
 * a bare node-redis loop (the same commands, one `sendCommand` each, issued a batch at a time),
 * in the same invocation (the issue's target: the sink at least 70% of `redis-benchmark` at the
 * same pipeline depth).
 *
 * - `sluice` — `redisSink.create(…)`, `write` of batches of `--depth` records (each batch one
 *   pipeline), records `{ k, v: 'xxx' }` over 1,000 keys (`key: <prefix>:s:{k}`, `fields: [v]`);
 * - `bare` — node-redis `sendCommand(['HSET', key, 'v', 'xxx'])` for `--depth` keys at once,
 *   awaited together: the client library's best (the sink wrote through it until issue 12; it
 *   now encodes its batches itself, `resp-pipeline.ts`);
 * - `redis-benchmark` — `redis-benchmark -c 1 -P <depth> -r 1000 HSET <prefix>:b:__rand_int__ v xxx`:
 *   one connection, `depth` commands in flight; its CPU time (user + system) from the shell's
 *   `times`, its rate as it reports it.
 *
 * Rates are records per CPU-second of the client (this process for `sluice` and `bare`, the
 * redis-benchmark process for it) and per second of wall time; the three alternate within each
 * run and the median of `--runs` is reported. The server (Redis on 127.0.0.1:6379, shared) runs
 * on the same machine and its CPU is not counted. Keys are deleted after each run.
 *
 *   node bench/redis.ts [--records 200000] [--runs 5] [--depth 64] [--variants sluice,bare,redis-benchmark] [--json]
 */

import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { type Row, silentLogger, systemClock, validateConfig } from '@sluice/core';
import { redisSink } from '@sluice/redis';
import { createClient } from 'redis';
import type { Static } from 'typebox';
import { measure, median } from './measure.ts';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '200000' },
    runs: { type: 'string', default: '5' },
    depth: { type: 'string', default: '64' },
    variants: { type: 'string', default: 'sluice,bare,redis-benchmark' },
    json: { type: 'boolean', default: false },
  },
});
const records = Number(values.records);
const runs = Number(values.runs);
const depth = Number(values.depth);
const URL = 'redis://127.0.0.1:6379';
const prefix = `sluice-bench:${process.pid}`;
const KEYS = 1000;

type Variant = 'sluice' | 'bare' | 'redis-benchmark';
interface Result {
  cpuMs: number;
  wallMs: number;
}

const data: Row[] = Array.from({ length: records }, (_v, i) => ({ k: i % KEYS, v: 'xxx' }));

async function sluice(): Promise<Result> {
  const checked = validateConfig<Static<typeof redisSink.config>>(redisSink.config, {
    url: URL,
    mode: 'hash',
    key: `${prefix}:s:{k}`,
    fields: ['v'],
  });
  if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
  const sink = redisSink.create(checked.value);
  await sink.open({
    id: 'bench',
    restored: undefined,
    clock: systemClock,
    baseDir: '.',
    signal: new AbortController().signal,
    log: silentLogger,
  });
  const m = await measure(async () => {
    for (let from = 0; from < records; from += depth) {
      const batch = data.slice(from, from + depth);
      const refused = await sink.write({ records: batch, times: batch.map(() => 0) });
      if (refused) throw new Error(`refused: ${refused[0]?.message}`);
    }
    return records;
  });
  await sink.close();
  return m;
}

async function bare(): Promise<Result> {
  const client = createClient({ url: URL });
  client.on('error', () => {});
  await client.connect();
  const keys = Array.from({ length: KEYS }, (_v, k) => `${prefix}:n:${k}`);
  const m = await measure(async () => {
    for (let from = 0; from < records; from += depth) {
      const to = Math.min(records, from + depth);
      const replies: Promise<unknown>[] = [];
      for (let i = from; i < to; i++)
        replies.push(client.sendCommand(['HSET', keys[i % KEYS] as string, 'v', 'xxx']));
      await Promise.all(replies);
    }
    return records;
  });
  await client.close();
  return m;
}

function redisBenchmark(): Result {
  const command = `redis-benchmark -h 127.0.0.1 -p 6379 -c 1 -P ${depth} -n ${records} -r ${KEYS} -q HSET '${prefix}:b:__rand_int__' v xxx; times`;
  const out = execFileSync('bash', ['-c', command], { encoding: 'utf8' });
  const rate = /([\d.]+) requests per second/.exec(out);
  // `times`: the shell's own user and system time, then its children's.
  const times = [...out.matchAll(/(\d+)m([\d.]+)s (\d+)m([\d.]+)s/g)].at(-1);
  if (!rate || !times) throw new Error(`unexpected redis-benchmark output:\n${out}`);
  const cpuS = Number(times[1]) * 60 + Number(times[2]) + Number(times[3]) * 60 + Number(times[4]);
  return { cpuMs: cpuS * 1000, wallMs: (records / Number(rate[1])) * 1000 };
}

async function cleanup(): Promise<void> {
  const client = createClient({ url: URL });
  client.on('error', () => {});
  await client.connect();
  const keys: string[] = [];
  for await (const page of client.scanIterator({ MATCH: `${prefix}:*`, COUNT: 1000 })) keys.push(...page);
  for (let i = 0; i < keys.length; i += 1000) await client.unlink(keys.slice(i, i + 1000));
  await client.close();
}

const ALL: readonly Variant[] = ['sluice', 'bare', 'redis-benchmark'];
// `--variants sluice,redis-benchmark` leaves node-redis out of the process: its garbage and
// compiled code are then not the sink's neighbours (redis-benchmark is always the base).
const variants: Variant[] = ALL.filter(
  (v) => v === 'redis-benchmark' || values.variants.split(',').includes(v),
);
const run = (v: Variant): Promise<Result> | Result =>
  v === 'sluice' ? sluice() : v === 'bare' ? bare() : redisBenchmark();
const results = new Map<Variant, Result[]>(variants.map((v) => [v, []]));
try {
  for (const v of variants) await run(v); // warm-up
  for (let i = 0; i < runs; i++)
    for (const v of variants) {
      (results.get(v) as Result[]).push(await run(v));
      await cleanup();
    }
} finally {
  await cleanup();
}

const rows = variants.map((v) => {
  const r = results.get(v) as Result[];
  return {
    variant: v,
    cpuRate: median(r.map((x) => records / (x.cpuMs / 1000))),
    wallRate: median(r.map((x) => records / (x.wallMs / 1000))),
  };
});
const base = rows.find((r) => r.variant === 'redis-benchmark') as (typeof rows)[number];
const summary = {
  records,
  runs,
  depth,
  node: process.version,
  cpus: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
  load: loadavg()
    .map((l) => l.toFixed(1))
    .join(' '),
  rows: rows.map((r) => ({
    ...r,
    cpuRatio: r.cpuRate / base.cpuRate,
    wallRatio: r.wallRate / base.wallRate,
  })),
};
if (values.json) console.log(JSON.stringify(summary));
else {
  console.log(
    `redis sink, HSET, ${records} records, pipeline depth ${depth}, median of ${runs}; ${summary.node}, ${summary.cpus}, load ${summary.load}`,
  );
  console.log('| client | rec/CPU-s | rec/s (wall) | / redis-benchmark (CPU) | / redis-benchmark (wall) |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of summary.rows)
    console.log(
      `| ${r.variant} | ${Math.round(r.cpuRate).toLocaleString('en')} | ${Math.round(r.wallRate).toLocaleString('en')} | ${r.cpuRatio.toFixed(2)} | ${r.wallRatio.toFixed(2)} |`,
    );
}
