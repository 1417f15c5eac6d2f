/**
 * OVER aggregation benchmark: generate (sensor readings) → over_aggregate (per sensor) → discard.
 *
 * Two frames: `rows` — the last ten readings of the sensor (ROWS BETWEEN 10 PRECEDING AND CURRENT
 * ROW) with their sum (retracted as readings leave) and maximum (rebuilt from the frame's rows);
 * `range` — the readings of the last ten seconds (RANGE BETWEEN INTERVAL '10' SECOND PRECEDING)
 * with their sum and count. The engine (Job, the step buffering to the watermark and emitting in
 * time order) runs beside a hand-written loop computing the same aggregates over the same records
 * in the same process, without buffering (the generator's records come in time order); both
 * count the rows they produce, which must agree. Medians of `--runs` after a warm-up,
 * alternating, as records per CPU-second of this process.
 *
 *   node bench/over-aggregate.ts [--records 1000000] [--keys 1000] [--runs 5] [--frame rows|range] [--json]
 */

import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { builtins, Job, parsePipelineYaml, Registry, validateConfig } from '@sluice/core';
import {
  type GenerateConfig,
  generateConfig,
  generatorSettings,
} from '../packages/core/src/connectors/generate-config.ts';
import { RecordGenerator } from '../packages/core/src/connectors/generate-record.ts';
import { compare } from './measure.ts';
import { SCRATCH_DIR } from './scratch-dir.ts';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    keys: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '5' },
    frame: { type: 'string', default: 'rows' },
    json: { type: 'boolean', default: false },
  },
});
if (args.frame !== 'rows' && args.frame !== 'range')
  throw new Error(`--frame is rows or range, not ${args.frame}`);
const RECORDS = Number(args.records);
const KEYS = Number(args.keys);
const RUNS = Number(args.runs);
const ROWS = 10;
const RANGE = 10_000;
const registry = new Registry([builtins]);
const generatorConfig = {
  template: 'sensors',
  count: RECORDS,
  seed: 1,
  keys: KEYS,
  time_step: '1ms',
} as const;

const frame =
  args.frame === 'rows'
    ? `rows: ${ROWS}\n    fields: { total: sum(temperature), hottest: max(temperature) }`
    : `range: ${RANGE}ms\n    fields: { total: sum(temperature), readings: count(*) }`;
const yaml = `
name: bench-over
settings: { checkpoint: { interval: 0s, dir: ${SCRATCH_DIR} }, batch_size: 1024 }
sources:
  sensors:
    type: generate
    template: ${generatorConfig.template}
    count: ${RECORDS}
    seed: ${generatorConfig.seed}
    keys: ${KEYS}
    time_step: ${generatorConfig.time_step}
    event_time: { field: ts, max_out_of_orderness: 1s }
steps:
  - id: over
    type: over_aggregate
    key: [sensor_id]
    ${frame}
sinks:
  out: { type: discard }
`;

async function engine(): Promise<number> {
  const plan = parsePipelineYaml(yaml, `${SCRATCH_DIR}/pipeline.yaml`, { registry });
  const job = await Job.create(plan, { registry, fromScratch: true });
  const result = await job.run();
  return result.metrics.sinks.out.written;
}

/** The same aggregates as a plain loop: per sensor, its frame's readings, oldest first. */
function baseline(): number {
  const config = validateConfig<GenerateConfig>(generateConfig, generatorConfig);
  if (!config.ok) throw new Error(JSON.stringify(config.issues));
  const gen = new RecordGenerator(generatorSettings(config.value));
  const frames = new Map<unknown, { times: number[]; values: number[]; sum: number }>();
  let output = 0;
  for (let i = 0; i < RECORDS; i++) {
    const r = gen.record(i);
    const t = r.ts as number;
    const v = r.temperature as number;
    let f = frames.get(r.sensor_id);
    if (f === undefined) {
      f = { times: [], values: [], sum: 0 };
      frames.set(r.sensor_id, f);
    }
    if (args.frame === 'range')
      while (f.times.length > 0 && f.times[0] < t - RANGE) {
        f.times.shift();
        f.sum -= f.values.shift()!;
      }
    f.times.push(t);
    f.values.push(v);
    f.sum += v;
    if (args.frame === 'rows' && f.values.length > ROWS + 1) {
      f.times.shift();
      f.sum -= f.values.shift()!;
    }
    const row = {
      ...r,
      total: f.sum,
      extra: args.frame === 'rows' ? Math.max(...f.values) : f.values.length,
    };
    if (row.total !== undefined) output++;
  }
  return output;
}

const c = await compare(`over_aggregate (${args.frame})`, RECORDS, RUNS, engine, baseline);
const env = {
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  load: loadavg().map((l) => l.toFixed(1)),
  records: RECORDS,
  keys: KEYS,
  runs: RUNS,
  frame: args.frame,
};
if (args.json) process.stdout.write(`${JSON.stringify({ env, row: c }, null, 2)}\n`);
else {
  const k = (n: number) => `${(n / 1000).toFixed(0)}k`;
  process.stdout.write(
    `Sluice over_aggregate benchmark — Node ${env.node}, ${env.cpu} (${env.cores} cores), load ${env.load.join(' ')}, ${RECORDS} records, ${KEYS} sensors, median of ${RUNS} runs\n\n`,
  );
  process.stdout.write(
    '| frame | engine rec/CPU-s | baseline loop rec/CPU-s | engine/baseline | engine rec/s wall | rows |\n',
  );
  process.stdout.write('|---|---|---|---|---|---|\n');
  process.stdout.write(
    `| ${args.frame === 'rows' ? 'ROWS 10 PRECEDING: sum, max' : 'RANGE 10 s: sum, count'} | ${k(c.engineRate)} | ${k(c.baselineRate)} | ${c.ratio.toFixed(2)} | ${k(c.engineWallRate)} | ${c.output} |\n`,
  );
}
