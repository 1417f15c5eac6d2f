/**
 * Engine benchmark: generate → map → filter → (keyed tumbling-window count and sum) → discard.
 *
 * Two pipelines run through the real engine (Job, fused operators, sink queue), each beside a
 * hand-written loop doing the same work on the same records in the same process — the
 * baseline the engine is compared with. Each is measured `--runs` times (default 5, after one
 * warm-up) and the median is reported as records per CPU-second (user + system time of this
 * process) and as the engine/baseline ratio.
 *
 *   npm run bench -- [--records 2000000] [--keys 10000] [--runs 5] [--only stateless|windowed] [--json]
 */

import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { builtins, Job, parsePipelineYaml, Registry, validateConfig } from '@sluice/core';
import {
  type GenerateConfig,
  generateConfig,
  generatorSettings,
} from '../packages/core/src/connectors/generate-config.ts';
import { RecordGenerator } from '../packages/core/src/connectors/generate-record.ts';
import { type Comparison, compare } from './measure.ts';
import { SCRATCH_DIR } from './scratch-dir.ts';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '2000000' },
    keys: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});
const RECORDS = Number(args.records);
const KEYS = Number(args.keys);
const RUNS = Number(args.runs);
const registry = new Registry([builtins]);

/** The generator config shared by the engine runs and the baseline loops. */
const generatorConfig = {
  template: 'orders',
  count: RECORDS,
  seed: 1,
  keys: KEYS,
  time_step: '1ms',
} as const;

function yaml(windowed: boolean): string {
  const window = windowed
    ? `
  - id: per-region
    type: aggregate
    key: [region]
    window: { type: tumbling, size: 1m }
    fields: { orders: count(*), revenue: sum(amount_usd) }`
    : '';
  return `
name: bench-${windowed ? 'windowed' : 'stateless'}
settings: { checkpoint: { interval: 0s, dir: ${SCRATCH_DIR} }, batch_size: 1024 }
sources:
  orders:
    type: generate
    template: ${generatorConfig.template}
    count: ${RECORDS}
    seed: ${generatorConfig.seed}
    keys: ${KEYS}
    time_step: ${generatorConfig.time_step}
    event_time: { field: ts, max_out_of_orderness: 1s }
steps:
  - id: normalized
    type: map
    fields: { amount_usd: amount * 1.1, big: amount > 20 }
  - id: big
    type: filter
    where: big AND items > 1${window}
sinks:
  out: { type: discard }
`;
}

async function engine(windowed: boolean): Promise<number> {
  const plan = parsePipelineYaml(yaml(windowed), `${SCRATCH_DIR}/pipeline.yaml`, { registry });
  const job = await Job.create(plan, { registry, fromScratch: true });
  const result = await job.run();
  return result.metrics.sinks.out.written;
}

/** The same work as a plain loop: the ceiling an engine on one thread can approach. */
function baseline(windowed: boolean): number {
  const config = validateConfig<GenerateConfig>(generateConfig, generatorConfig);
  if (!config.ok) throw new Error(JSON.stringify(config.issues));
  const gen = new RecordGenerator(generatorSettings(config.value));
  const windows = new Map<number, Map<unknown, { orders: number; revenue: number }>>();
  let output = 0;
  let watermark = Number.NEGATIVE_INFINITY;
  const fire = (upTo: number) => {
    for (const [end, groups] of windows) {
      if (end - 1 > upTo) continue;
      for (const [region, acc] of groups) {
        const result = { region, window_start: end - 60_000, window_end: end, ...acc };
        if (result.orders > 0) output++;
      }
      windows.delete(end);
    }
  };
  for (let i = 0; i < RECORDS; i++) {
    const r = gen.record(i);
    const t = gen.time;
    const o: { [field: string]: unknown } = {
      ...r,
      amount_usd: (r.amount as number) * 1.1,
      big: (r.amount as number) > 20,
    };
    if (!(o.big && (o.items as number) > 1)) continue;
    if (!windowed) {
      output++;
      continue;
    }
    const end = Math.floor(t / 60_000) * 60_000 + 60_000;
    let groups = windows.get(end);
    if (!groups) {
      groups = new Map();
      windows.set(end, groups);
    }
    let acc = groups.get(o.region);
    if (!acc) {
      acc = { orders: 0, revenue: 0 };
      groups.set(o.region, acc);
    }
    acc.orders++;
    acc.revenue += o.amount_usd as number;
    if ((i & 1023) === 1023) {
      const wm = t - 1001;
      if (wm > watermark) {
        watermark = wm;
        fire(wm);
      }
    }
  }
  fire(Number.POSITIVE_INFINITY);
  return output;
}

interface Row extends Comparison {
  scenario: string;
}

async function scenario(name: string, windowed: boolean): Promise<Row> {
  const c = await compare(
    name,
    RECORDS,
    RUNS,
    () => engine(windowed),
    () => baseline(windowed),
  );
  return { scenario: name, ...c };
}

const rows: Row[] = [];
for (const [name, windowed] of [
  ['stateless', false],
  ['windowed', true],
] as const) {
  if (args.only === undefined || args.only === name) rows.push(await scenario(name, windowed));
}
const env = {
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  records: RECORDS,
  keys: KEYS,
  runs: RUNS,
};
if (args.json) {
  process.stdout.write(`${JSON.stringify({ env, rows }, null, 2)}\n`);
} else {
  const k = (n: number) => `${(n / 1000).toFixed(0)}k`;
  process.stdout.write(
    `Sluice core pipeline benchmark — Node ${env.node}, ${env.cpu} (${env.cores} cores), ${RECORDS} records, ${KEYS} keys, median of ${RUNS} runs\n\n`,
  );
  process.stdout.write(
    '| pipeline | engine rec/CPU-s | baseline loop rec/CPU-s | engine/baseline | engine rec/s wall | records out |\n',
  );
  process.stdout.write('|---|---|---|---|---|---|\n');
  for (const r of rows) {
    process.stdout.write(
      `| ${r.scenario} | ${k(r.engineRate)} | ${k(r.baselineRate)} | ${r.ratio.toFixed(2)} | ${k(r.engineWallRate)} | ${r.output} |\n`,
    );
  }
}
