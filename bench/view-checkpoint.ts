/**
 * What a `view` costs in each checkpoint: the view's whole table is written into every checkpoint
 * (plus its newest `checkpoint_changes` changes). A bounded `generate` of N orders → `view` keyed
 * by `order_id` (N rows); the job's final checkpoint then holds the whole view. Reports that
 * checkpoint's duration (snapshot, encode, fsync'd write) and size, the view sink's share of it
 * (`Job.stateSizes()`), with `checkpoint_changes` 0 and 1,000, medians over `--runs`.
 *
 *   node bench/view-checkpoint.ts                       # 10k, 100k, 400k rows, 3 runs each
 *   node bench/view-checkpoint.ts --rows 100000 --runs 5
 *   node bench/view-checkpoint.ts --key region --rows 100000   # 8 rows: the ring is the cost
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { builtins, Job, parsePipelineYaml, Registry } from '@sluice/core';
import { server } from '@sluice/server';
import { median } from './measure.ts';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '10000,100000,400000' },
    runs: { type: 'string', default: '3' },
    /** `order_id` (one row per order) or `region` (8 rows, each updated over and over). */
    key: { type: 'string', default: 'order_id' },
  },
});

async function once(rows: number, changes: number) {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-view-ck-'));
  try {
    const yaml = `
name: bench-view-checkpoint
settings: { checkpoint: { interval: 0s, dir: ${JSON.stringify(join(dir, 'ck'))} } }
sources:
  orders: { type: generate, template: orders, count: ${rows}, seed: 1 }
sinks:
  latest: { type: view, key: [${args.key}], checkpoint_changes: ${changes} }
`;
    const registry = new Registry([builtins, server]);
    const plan = parsePipelineYaml(yaml, join(dir, 'p.yaml'), { registry });
    const job = await Job.create(plan, { registry, fromScratch: true });
    await job.run();
    const last = job.checkpointHistory().at(-1)!;
    return { ms: last.durationMs, bytes: last.bytes, view: job.stateSizes()!.sinks.latest.bytes };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const runs = Number(args.runs);
console.log(
  `# ${cpus().length} × ${cpus()[0]?.model}, Node ${process.version}, load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
console.log(`key ${args.key}`);
console.log(
  'records\tcheckpoint_changes\tcheckpoint ms (median)\tcheckpoint bytes\tview bytes\tview bytes/record',
);
for (const rows of args.rows.split(',').map(Number)) {
  for (const changes of [0, 1000]) {
    const results = [];
    for (let i = 0; i < runs; i++) results.push(await once(rows, changes));
    const r = results[0];
    console.log(
      `${rows}\t${changes}\t${median(results.map((x) => x.ms)).toFixed(0)}\t${r.bytes}\t${r.view}\t${(r.view / rows).toFixed(1)}`,
    );
  }
}
console.log(
  `# load after: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
