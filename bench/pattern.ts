/**
 * Pattern benchmark: generate (clicks) → pattern (a three-stage funnel per user) → discard.
 *
 * The funnel: a `/search` visit, then (relaxed contiguity) a `/cart` visit, then a `/checkout`
 * visit, within one minute of the search, skipping past the last row — every search starts a
 * partial match, so a user usually has several at once. The engine (Job, fused operators, the
 * pattern step buffering to the watermark) runs beside a hand-written loop detecting the same
 * funnel on the same records in the same process; the match counts must agree. Each is measured
 * `--runs` times after one warm-up, alternating; medians are reported as records per CPU-second
 * (user + system time of this process).
 *
 * With `--api ts` the same pipeline is built with the TypeScript API's pattern builder
 * (`begin('search').where(…).followedBy('cart')…`), which must make the same plan's operator.
 *
 *   node bench/pattern.ts [--records 1000000] [--keys 1000] [--runs 5] [--api yaml|ts] [--json]
 */

import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import {
  begin,
  builtins,
  discard,
  generate,
  Job,
  type Plan,
  parsePipelineYaml,
  pipeline,
  Registry,
  validateConfig,
} from '@sluice/core';
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
    json: { type: 'boolean', default: false },
    api: { type: 'string', default: 'yaml' },
  },
});
if (args.api !== 'yaml' && args.api !== 'ts') throw new Error(`--api is yaml or ts, not ${args.api}`);
const RECORDS = Number(args.records);
const KEYS = Number(args.keys);
const RUNS = Number(args.runs);
const WITHIN = 60_000;
const registry = new Registry([builtins]);

const generatorConfig = {
  template: 'clicks',
  count: RECORDS,
  seed: 1,
  keys: KEYS,
  time_step: '1ms',
} as const;

const yaml = `
name: bench-pattern
settings: { checkpoint: { interval: 0s, dir: ${SCRATCH_DIR} }, batch_size: 1024 }
sources:
  clicks:
    type: generate
    template: ${generatorConfig.template}
    count: ${RECORDS}
    seed: ${generatorConfig.seed}
    keys: ${KEYS}
    time_step: ${generatorConfig.time_step}
    event_time: { field: ts, max_out_of_orderness: 1s }
steps:
  - id: funnel
    type: pattern
    key: [user_id]
    stages:
      - { name: search, where: "page = '/search'" }
      - { name: cart, where: "page = '/cart'", contiguity: relaxed }
      - { name: checkout, where: "page = '/checkout'", contiguity: relaxed }
    within: ${WITHIN}ms
    measures: { searched: first(search.ts), paid: last(checkout.ts) }
sinks:
  out: { type: discard }
`;

/** The same pipeline in the TypeScript API. */
function typescript(): Plan {
  return pipeline('bench-pattern-ts', { checkpoint: { interval: '0s', dir: SCRATCH_DIR }, batchSize: 1024 })
    .from('clicks', generate({ ...generatorConfig, eventTime: { field: 'ts', maxOutOfOrderness: '1s' } }))
    .pattern(
      'funnel',
      begin('search')
        .where("page = '/search'")
        .followedBy('cart')
        .where("page = '/cart'")
        .followedBy('checkout')
        .where("page = '/checkout'")
        .within(`${WITHIN}ms`),
      { key: ['user_id'], measures: { searched: 'first(search.ts)', paid: 'last(checkout.ts)' } },
    )
    .to('out', discard({}))
    .build(SCRATCH_DIR).plan;
}

async function engine(): Promise<number> {
  const plan =
    args.api === 'ts' ? typescript() : parsePipelineYaml(yaml, `${SCRATCH_DIR}/pipeline.yaml`, { registry });
  const job = await Job.create(plan, { registry, fromScratch: true });
  const result = await job.run();
  return result.metrics.sinks.out.written;
}

/**
 * The same funnel as a plain loop. The three conditions exclude each other, so each partial
 * match is one position (waiting for cart or checkout); an earlier partial is always at least as
 * far as a later one, so the first to complete is the earliest, and skipping past its last row
 * drops every other partial match of the user.
 */
function baseline(): number {
  const config = validateConfig<GenerateConfig>(generateConfig, generatorConfig);
  if (!config.ok) throw new Error(JSON.stringify(config.issues));
  const gen = new RecordGenerator(generatorSettings(config.value));
  const partial = new Map<unknown, { start: number; ts: number; stage: number }[]>();
  let output = 0;
  for (let i = 0; i < RECORDS; i++) {
    const r = gen.record(i);
    const t = gen.time;
    const user = r.user_id;
    const page = r.page;
    let list = partial.get(user);
    if (list !== undefined) {
      while (list.length > 0 && list[0].start + WITHIN <= t) list.shift();
      let done: { start: number; ts: number } | undefined;
      for (const p of list) {
        if (p.stage === 1 && page === '/cart') p.stage = 2;
        else if (p.stage === 2 && page === '/checkout') {
          done = p;
          break;
        }
      }
      if (done !== undefined) {
        const result = {
          user_id: user,
          match_start: done.start,
          match_end: t,
          searched: done.ts,
          paid: r.ts,
        };
        if (result.match_end >= result.match_start) output++;
        partial.delete(user);
        continue;
      }
      if (list.length === 0) partial.delete(user);
    }
    if (page === '/search') {
      if (list === undefined || !partial.has(user)) {
        list = [];
        partial.set(user, list);
      }
      list.push({ start: t, ts: r.ts as number, stage: 1 });
    }
  }
  return output;
}

const c = await compare('the funnel', RECORDS, RUNS, engine, baseline);
const row = {
  engineRate: c.engineRate,
  baselineRate: c.baselineRate,
  engineWallRate: c.engineWallRate,
  matches: c.output,
};
const env = {
  node: process.version,
  api: args.api,
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  records: RECORDS,
  keys: KEYS,
  runs: RUNS,
};
if (args.json) {
  process.stdout.write(`${JSON.stringify({ env, row }, null, 2)}\n`);
} else {
  const k = (n: number) => `${(n / 1000).toFixed(0)}k`;
  process.stdout.write(
    `Sluice pattern benchmark — Node ${env.node}, ${env.cpu} (${env.cores} cores), ${RECORDS} records, ${KEYS} users, median of ${RUNS} runs\n\n`,
  );
  process.stdout.write(
    '| pipeline | engine rec/CPU-s | baseline loop rec/CPU-s | engine/baseline | engine rec/s wall | matches |\n',
  );
  process.stdout.write('|---|---|---|---|---|---|\n');
  process.stdout.write(
    `| funnel (3 stages, within 1m)${args.api === 'ts' ? ', TypeScript API' : ''} | ${k(row.engineRate)} | ${k(row.baselineRate)} | ${(row.engineRate / row.baselineRate).toFixed(2)} | ${k(row.engineWallRate)} | ${row.matches} |\n`,
  );
}
