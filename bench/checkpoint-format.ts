/**
 * Checkpoint encoding benchmark: the version-2 value codec against `v8.serialize` (version 1).
 *
 * A checkpoint is encoded synchronously at a batch boundary, so its encode time stalls the
 * pipeline. Two realistic operator states are measured, and a checkpoint holding both:
 *
 * - `window`: a window aggregate's snapshot (the shape `window-aggregate.ts` returns) with one
 *   open window of `--groups` groups (default 100,000), each with its key values and the
 *   accumulators of `count(*)`, `sum`, `avg` and `max`;
 * - `dedupe`: a dedupe step's snapshot (`dedupe.ts`: a Map of `--keys` keys, default 1,000,000,
 *   to the time each was first seen) and a `count_distinct` accumulator's Set of the same keys;
 * - `checkpoint`: both in one `CheckpointData`, through `encodeCheckpoint` / `decodeCheckpoint`
 *   (framing and SHA-256 included) — what the job pays.
 *
 * Each figure is the median of `--runs` runs (default 5) after one warm-up, in CPU milliseconds of
 * the process (user + system, so garbage collection on helper threads counts), with a full
 * collection before each when run with `--expose-gc`.
 *
 *   node --expose-gc bench/checkpoint-format.ts [--groups 100000] [--keys 1000000] [--runs 5] [--json]
 */

import { createHash } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { deserialize, serialize } from 'node:v8';
import {
  type CheckpointData,
  decodeCheckpoint,
  encodeCheckpoint,
} from '../packages/core/src/checkpoint/index.ts';
import { decodeValue, encodeValue } from '../packages/core/src/checkpoint/value-codec.ts';
import { median } from './measure.ts';

const { values: args } = parseArgs({
  options: {
    groups: { type: 'string', default: '100000' },
    keys: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
  },
});
const GROUPS = Number(args.groups);
const KEYS = Number(args.keys);
const RUNS = Number(args.runs);
const DEPTH = 2503;

/** A window aggregate's snapshot: one window, `GROUPS` regions with count, sum, avg, max. */
function windowState(): unknown {
  const groups = new Map<string, { keyValues: unknown[]; accumulators: unknown[] }>();
  for (let i = 0; i < GROUPS; i++) {
    const region = `region-${String(i).padStart(6, '0')}`;
    const n = 1 + (i % 37);
    const sum = n * 17.25 + i / 7;
    groups.set(region, { keyValues: [region], accumulators: [n, sum, [sum, n], 20 + (i % 500) / 3] });
  }
  return {
    format: 1,
    shape: 'region|count(*),sum(amount),avg(amount),max(amount)',
    progress: 1_765_000_059_999,
    keyedInput: true,
    store: { windows: [{ start: 1_765_000_000_000, end: 1_765_000_060_000, fired: false, groups }] },
  };
}

/** A dedupe step's snapshot (key → first time) and a distinct Set, `KEYS` order ids each. */
function dedupeState(): unknown {
  const seen = new Map<string, number>();
  const distinct = new Set<string>();
  for (let i = 0; i < KEYS; i++) {
    const key = `order-${(i * 2654435761) % 4294967296}`;
    seen.set(key, 1_765_000_000_000 + i);
    distinct.add(key);
  }
  return { dedupe: { version: 1, watermark: 1_765_000_000_000, state: new Map([['seen', seen]]) }, distinct };
}

function checkpointOf(operators: { [id: string]: unknown }): CheckpointData {
  return {
    id: 1,
    pipeline: 'bench',
    createdAt: 1_765_000_000_000,
    watermark: 1_765_000_059_999,
    sources: { orders: { '0': 123_456_789, '1': 987_654_321 } },
    operators,
    sinks: { out: { path: 'out/part-1.jsonl', length: 1 << 20, nextSeq: 2 } },
  };
}

/** CPU milliseconds (user + system) of `fn`: steadier than wall time on a shared machine. */
function time(fn: () => unknown): number {
  (globalThis as { gc?: () => void }).gc?.();
  const t0 = process.cpuUsage();
  fn();
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / 1000;
}

interface Row {
  state: string;
  v8Encode: number;
  v2Encode: number;
  v8Decode: number;
  v2Decode: number;
  v8Bytes: number;
  v2Bytes: number;
}

/** The version-1 encoder, as it was: v8.serialize behind the header's SHA-256. */
function encodeV1(data: unknown): number {
  const payload = serialize(data);
  createHash('sha256').update(payload).digest();
  return payload.length;
}

function measure(state: string, value: unknown, whole: boolean): Row {
  const v8Bytes = serialize(value);
  const v2Bytes = whole ? encodeCheckpoint(value as CheckpointData) : encodeValue(value, 0, DEPTH).bytes;
  const timings = {
    v8Encode: [] as number[],
    v2Encode: [] as number[],
    v8Decode: [] as number[],
    v2Decode: [] as number[],
  };
  for (let run = 0; run <= RUNS; run++) {
    const t = {
      v8Encode: time(() => (whole ? encodeV1(value) : serialize(value))),
      v2Encode: time(() =>
        whole ? encodeCheckpoint(value as CheckpointData) : encodeValue(value, 0, DEPTH),
      ),
      v8Decode: time(() => deserialize(v8Bytes)),
      v2Decode: time(() => (whole ? decodeCheckpoint(v2Bytes) : decodeValue(v2Bytes, DEPTH))),
    };
    if (run === 0) continue;
    for (const k of Object.keys(t) as (keyof typeof t)[]) timings[k].push(t[k]);
  }
  return {
    state,
    v8Encode: median(timings.v8Encode),
    v2Encode: median(timings.v2Encode),
    v8Decode: median(timings.v8Decode),
    v2Decode: median(timings.v2Decode),
    v8Bytes: v8Bytes.length,
    v2Bytes: v2Bytes.length,
  };
}

const window = windowState();
const dedupe = dedupeState();
const rows = [
  measure(`window (${GROUPS.toLocaleString('en')} groups)`, window, false),
  measure(`dedupe (${KEYS.toLocaleString('en')} keys, Map + Set)`, dedupe, false),
  measure('checkpoint (both, framed, SHA-256)', checkpointOf({ agg: window, dedupe }), true),
];

if (args.json) {
  console.log(
    JSON.stringify(
      { node: process.version, cpu: cpus()[0]?.model, load: loadavg(), runs: RUNS, rows },
      null,
      2,
    ),
  );
} else {
  const ms = (x: number): string => x.toFixed(1);
  const mb = (x: number): string => (x / 1e6).toFixed(1);
  const load = loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');
  console.log(
    `Node ${process.version}, ${cpus()[0]?.model} ×${cpus().length}, load ${load}, median of ${RUNS} runs (CPU ms)`,
  );
  console.log('| state | v8 encode | v2 encode | v2/v8 | v8 decode | v2 decode | v2/v8 | v8 MB | v2 MB |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.state} | ${ms(r.v8Encode)} | ${ms(r.v2Encode)} | ${(r.v2Encode / r.v8Encode).toFixed(2)} | ` +
        `${ms(r.v8Decode)} | ${ms(r.v2Decode)} | ${(r.v2Decode / r.v8Decode).toFixed(2)} | ${mb(r.v8Bytes)} | ${mb(r.v2Bytes)} |`,
    );
  }
}
