/**
 * ONNX scoring benchmark (`npm run bench:onnx`): records per second and per CPU-second of a
 * logistic regression over 20 features (trained by `@sluice/ml`, written as ONNX by the test-model
 * script) run by onnxruntime-node, one record per `session.run` against runs of many, both on the
 * session directly and as the `score` step in a whole job (memory source → score → discard), on
 * the event loop and on two worker threads. CPU-seconds count every thread of the process.
 *
 *   npm run bench:onnx -- [--records 100000] [--runs 3]
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { builtins, Job, parsePipelineYaml, Registry } from '@sluice/core';
import { memoryChannel, testing } from '@sluice/core/testing';
import { ml } from '@sluice/ml';
import ort from 'onnxruntime-node';
import { logisticOnnx, trainedLearner } from '../packages/ml/src/onnx-test-model.ts';
import { denseRows } from '../packages/ml/src/synthetic-test-data.ts';
import { measure, median } from './measure.ts';

const { values } = parseArgs({
  options: { records: { type: 'string', default: '100000' }, runs: { type: 'string', default: '3' } },
});
const N = Number(values.records);
const RUNS = Number(values.runs);
const WIDTH = 20;

const model = trainedLearner(7, 5000, WIDTH).toJSON().model as { weights: number[]; bias: number };
const onnx = logisticOnnx(model.weights, model.bias);
const dir = mkdtempSync(join(tmpdir(), 'bench-onnx-'));
const modelPath = join(dir, 'model.onnx');
writeFileSync(modelPath, onnx);

const { xs } = denseRows(20261207, N, WIDTH);
const names = Array.from({ length: WIDTH }, (_, j) => `f${j}`);
const rows = xs.map((x) => {
  const row: { [field: string]: unknown } = {};
  for (let j = 0; j < WIDTH; j++) row[names[j]] = x[j];
  return JSON.parse(JSON.stringify(row)) as { [field: string]: unknown };
});

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** The session alone: N records in runs of `size` rows (pre-encoded Float64Arrays). */
async function sessionPass(session: ort.InferenceSession, size: number): Promise<number> {
  let sum = 0;
  for (let i = 0; i < N; i += size) {
    const n = Math.min(size, N - i);
    const data = new Float64Array(n * WIDTH);
    for (let r = 0; r < n; r++) data.set(xs[i + r], r * WIDTH);
    const out = await session.run({ features: new ort.Tensor('float64', data, [n, WIDTH]) });
    sum += (out.probability.data as Float64Array).length;
  }
  return sum;
}

const registry = new Registry([builtins, testing, ml]);
let jobRuns = 0;
/** The `score` step in a job over N records: engine batches of 1024, model runs of `size`. */
async function jobPass(size: number, workers = 0): Promise<number> {
  const name = `bench-onnx-${process.pid}-${++jobRuns}`;
  const plan = parsePipelineYaml(
    `
name: ${name}
settings: { batch_size: 1024 }
sources: { in: { type: memory, channel: ${name} } }
steps:
  - id: scored
    type: score
    input: in
    model: ${modelPath}
    inputs: { features: [${names.join(', ')}] }
    outputs: { probability: score }
    batch_size: ${size}
    workers: ${workers}
sinks: { out: { type: discard, input: scored } }
`,
    join(dir, 'bench-onnx.yaml'),
    { registry },
  );
  const channel = memoryChannel(name);
  for (let i = 0; i < rows.length; i += 10_000) channel.push('p0', ...rows.slice(i, i + 10_000));
  channel.end();
  const job = await Job.create(plan, { registry });
  await job.run();
  return job.metrics().recordsOut;
}

const lines: string[] = [];
try {
  const session = await ort.InferenceSession.create(onnx, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  for (const [label, run] of [
    ['session.run, 1 record per run', () => sessionPass(session, 1)],
    ['session.run, 1024 records per run', () => sessionPass(session, 1024)],
    ['`score` step in a job, batch_size: 1', () => jobPass(1)],
    ['`score` step in a job, batch_size: 256', () => jobPass(256)],
    ['`score` step in a job, batch_size: 1024', () => jobPass(1024)],
    ['`score` step in a job, batch_size: 1024, workers: 2', () => jobPass(1024, 2)],
  ] as const) {
    const cpu: number[] = [];
    const wall: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const m = await measure(run);
      if (m.output !== N) throw new Error(`${label}: ${m.output} records out of ${N}`);
      cpu.push((N / m.cpuMs) * 1000);
      wall.push((N / m.wallMs) * 1000);
    }
    lines.push(`| ${label} | ${fmt(median(wall))} | ${fmt(median(cpu))} |`);
    console.error(lines.at(-1));
  }
  await session.release();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(
  `ONNX logistic regression, ${WIDTH} float64 features, ${fmt(N)} records, median of ${RUNS} runs, onnxruntime-node ${ort.env.versions.node}, 1 intra-op thread\n`,
);
console.log('| path | records/s (wall) | records/CPU-s |');
console.log('| --- | --- | --- |');
for (const line of lines) console.log(line);
