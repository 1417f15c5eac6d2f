/**
 * What a `view` costs in checkpoints, with its rows in memory (`store: memory`, the whole table
 * in every checkpoint) and on disk (`store: disk`, SQLite: a checkpoint commits the rows changed
 * since the last one). For each view size N and each store, in the same invocation:
 *
 * 1. load: a bounded `generate` of N orders → `view` keyed by `order_id` (N rows), run to its
 *    end; its final checkpoint holds every row either way. Reports records per CPU-second of the
 *    whole job (source, view, checkpoint) and that checkpoint's duration.
 * 2. next: the job restarted from that checkpoint with `--changed` more orders (default 1,000):
 *    the restore time (`Job.create`: memory decodes the whole table, disk opens its store) and
 *    its final checkpoint's duration — for disk this one also copies the load's large
 *    transaction from SQLite's WAL into the database (its first WAL checkpoint).
 * 3. again, `--changed` more: the final checkpoint's duration and bytes with N rows held and
 *    `--changed` changed — the steady-state cost, which is what the store changes.
 *
 * Medians over `--runs`; `Job.checkpointHistory()` gives each checkpoint's duration (snapshot,
 * encode, fsync'd write) and size, `Job.stateSizes()` the view sink's share.
 *
 *   node bench/view-checkpoint.ts                          # 10k, 100k, 400k rows, 3 runs each
 *   node bench/view-checkpoint.ts --rows 100000 --runs 5 --store disk
 *   node bench/view-checkpoint.ts --key region --rows 100000   # 8 rows: the ring is the cost
 */

import { mkdtemp, rm, stat } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { builtins, Job, parsePipelineYaml, Registry } from '@sluice/core';
import { server } from '@sluice/server';
import { cpuMsSince, median } from './measure.ts';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '10000,100000,400000' },
    runs: { type: 'string', default: '3' },
    store: { type: 'string', default: 'memory,disk' },
    changed: { type: 'string', default: '1000' },
    /** `order_id` (one row per order) or `region` (8 rows, each updated over and over). */
    key: { type: 'string', default: 'order_id' },
    checkpoint_changes: { type: 'string', default: '1000' },
  },
});

const registry = new Registry([builtins, server]);

function job(dir: string, store: string, count: number): Promise<Job> {
  const yaml = `
name: bench-view-checkpoint
settings: { checkpoint: { interval: 0s, dir: ${JSON.stringify(join(dir, 'ck'))} } }
sources:
  orders: { type: generate, template: orders, count: ${count}, seed: 1 }
sinks:
  latest: { type: view, key: [${args.key}], store: ${store}, checkpoint_changes: ${args.checkpoint_changes} }
`;
  return Job.create(parsePipelineYaml(yaml, join(dir, 'p.yaml'), { registry }), { registry });
}

async function once(rows: number, store: string) {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-view-ck-'));
  try {
    const cpu = process.cpuUsage();
    const load = await job(dir, store, rows);
    await load.run();
    const loadCpuMs = cpuMsSince(cpu);
    const loaded = load.checkpointHistory().at(-1)!;

    const changed = Number(args.changed);
    const restoreStart = performance.now();
    const next = await job(dir, store, rows + changed);
    const restoreMs = performance.now() - restoreStart;
    await next.run();
    const first = next.checkpointHistory().at(-1)!;
    const again = await job(dir, store, rows + 2 * changed);
    await again.run();
    const last = again.checkpointHistory().at(-1)!;
    const storeFile = join(dir, 'ck', 'bench-view-checkpoint', 'sinks', 'latest', 'view.sqlite');
    let storeBytes = 0;
    if (store === 'disk') for (const f of [storeFile, `${storeFile}-wal`]) storeBytes += (await stat(f)).size;
    return {
      perCpuS: rows / (loadCpuMs / 1000),
      loadMs: loaded.durationMs,
      loadBytes: loaded.bytes,
      restoreMs,
      firstMs: first.durationMs,
      ms: last.durationMs,
      bytes: last.bytes,
      view: again.stateSizes()!.sinks.latest.bytes,
      storeBytes,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const runs = Number(args.runs);
console.log(
  `# ${cpus().length} × ${cpus()[0]?.model}, Node ${process.version}, load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
console.log(
  `key ${args.key}, ${args.changed} changed after the load, checkpoint_changes ${args.checkpoint_changes}`,
);
console.log(
  '| rows | store | load records/CPU-s | load checkpoint ms | load checkpoint bytes | restore ms | next checkpoint ms | checkpoint ms after changes | checkpoint bytes | view bytes | store bytes (file + WAL) |',
);
console.log('| --: | :-- | --: | --: | --: | --: | --: | --: | --: | --: | --: |');
for (const rows of args.rows.split(',').map(Number)) {
  // Interleaved, so both stores see the same stretch of the machine's load.
  const results = new Map<string, Awaited<ReturnType<typeof once>>[]>();
  const stores = args.store.split(',');
  for (let i = 0; i < runs; i++)
    for (const store of stores) results.set(store, [...(results.get(store) ?? []), await once(rows, store)]);
  for (const store of stores) {
    const r = results.get(store)!;
    const m = (f: (x: (typeof r)[number]) => number) => fmt(median(r.map(f)));
    console.log(
      `| ${fmt(rows)} | ${store} | ${m((x) => x.perCpuS)} | ${m((x) => x.loadMs)} | ${m((x) => x.loadBytes)} | ${m((x) => x.restoreMs)} | ${m((x) => x.firstMs)} | ${m((x) => x.ms)} | ${m((x) => x.bytes)} | ${m((x) => x.view)} | ${m((x) => x.storeBytes)} |`,
    );
  }
}
console.log(
  `# load after: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
