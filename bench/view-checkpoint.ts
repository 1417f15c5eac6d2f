/**
 * What a `view` costs in checkpoints, with its rows in memory (`store: memory`, the whole table
 * in every checkpoint) and on disk (`store: disk`, SQLite: a checkpoint commits the rows changed
 * since the last one). For each view size N and each store, in the same invocation:
 *
 * 1. load: an unbounded `generate` of orders → `view` keyed by `order_id`, as fast as it goes,
 *    stopped (`Job.stop()`: drain, final checkpoint) once the view holds N rows. Reports records
 *    per CPU-second of the whole job (source, view, checkpoint) and that final checkpoint's
 *    duration and size — every row, either way.
 * 2. steady: the job restarted from that checkpoint (`Job.create` timed: memory decodes the whole
 *    table, disk opens its store) with the source at `--rate` records a second (default 10,000)
 *    and a checkpoint every `--interval` ms (default 100), so ~1,000 rows change between two
 *    checkpoints; stopped after `--checkpoints` (default 12). Reports the first checkpoint (for
 *    disk it also copies the load's large transaction from SQLite's WAL into the database) and
 *    the median duration and size of the others — the steady-state cost, which the store changes.
 *
 * Medians over `--runs`; `Job.checkpointHistory()` gives each checkpoint's duration (snapshot,
 * encode, fsync'd write) and size. Stores interleave, so both see the same stretch of load.
 *
 *   node bench/view-checkpoint.ts                          # 10k, 100k, 400k rows, 3 runs each
 *   node bench/view-checkpoint.ts --rows 100000 --runs 5 --store disk
 */

import { mkdtemp, rm, stat } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { builtins, Job, parsePipelineYaml, Registry } from '@sluice/core';
import { server, viewTable } from '@sluice/server';
import { cpuMsSince, median } from './measure.ts';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '10000,100000,400000' },
    runs: { type: 'string', default: '3' },
    store: { type: 'string', default: 'memory,disk' },
    rate: { type: 'string', default: '10000' },
    interval: { type: 'string', default: '100' },
    checkpoints: { type: 'string', default: '12' },
    checkpoint_changes: { type: 'string', default: '1000' },
  },
});

const registry = new Registry([builtins, server]);

function job(dir: string, store: string, steady: boolean): Promise<Job> {
  const yaml = `
name: bench-view-checkpoint
settings: { checkpoint: { interval: ${steady ? `${args.interval}ms` : '0s'}, dir: ${JSON.stringify(join(dir, 'ck'))} } }
sources:
  orders: { type: generate, template: orders, count: 1000000000, seed: 1${steady ? `, rate: ${args.rate}` : ''} }
sinks:
  latest: { type: view, key: [order_id], store: ${store}, checkpoint_changes: ${args.checkpoint_changes} }
`;
  return Job.create(parsePipelineYaml(yaml, join(dir, 'p.yaml'), { registry }), { registry });
}

/** Runs `j` until `done()` (polled every 2 ms), then stops it and waits for its end. */
async function runUntil(j: Job, done: () => boolean): Promise<void> {
  const running = j.run();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (done()) {
        clearInterval(timer);
        resolve();
      }
    }, 2);
  });
  j.stop();
  await running;
}

async function once(rows: number, store: string) {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-view-ck-'));
  try {
    const cpu = process.cpuUsage();
    const load = await job(dir, store, false);
    await runUntil(load, () => (viewTable('bench-view-checkpoint', 'latest')?.size ?? 0) >= rows);
    const loadCpuMs = cpuMsSince(cpu);
    const loadedRows = viewTable('bench-view-checkpoint', 'latest')!.offset;
    const loaded = load.checkpointHistory().at(-1)!;

    const restoreStart = performance.now();
    const steady = await job(dir, store, true);
    const restoreMs = performance.now() - restoreStart;
    const wanted = Number(args.checkpoints);
    await runUntil(steady, () => steady.checkpointHistory().length >= wanted);
    const [first, ...rest] = steady.checkpointHistory();
    const table = viewTable('bench-view-checkpoint', 'latest')!;
    const perCheckpoint = (table.offset - loadedRows) / steady.checkpointHistory().length;
    const storeFile = join(dir, 'ck', 'bench-view-checkpoint', 'sinks', 'latest', 'view.sqlite');
    let storeBytes = 0;
    if (store === 'disk') for (const f of [storeFile, `${storeFile}-wal`]) storeBytes += (await stat(f)).size;
    return {
      perCpuS: loadedRows / (loadCpuMs / 1000),
      loadMs: loaded.durationMs,
      loadBytes: loaded.bytes,
      restoreMs,
      firstMs: first.durationMs,
      ms: median(rest.map((c) => c.durationMs)),
      bytes: median(rest.map((c) => c.bytes)),
      storeBytes,
      endRows: table.size,
      perCheckpoint,
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
  `steady: ${args.rate} records/s, a checkpoint every ${args.interval} ms, ${args.checkpoints} checkpoints; checkpoint_changes ${args.checkpoint_changes}`,
);
console.log(
  '| rows | store | load records/CPU-s | load checkpoint ms | load checkpoint bytes | restore ms | first steady checkpoint ms | steady checkpoint ms | steady checkpoint bytes | changes per checkpoint | rows at end | store bytes (file + WAL) |',
);
console.log('| --: | :-- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |');
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
      `| ${fmt(rows)} | ${store} | ${m((x) => x.perCpuS)} | ${m((x) => x.loadMs)} | ${m((x) => x.loadBytes)} | ${m((x) => x.restoreMs)} | ${m((x) => x.firstMs)} | ${m((x) => x.ms)} | ${m((x) => x.bytes)} | ${m((x) => x.perCheckpoint)} | ${m((x) => x.endRows)} | ${m((x) => x.storeBytes)} |`,
    );
  }
}
console.log(
  `# load after: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
