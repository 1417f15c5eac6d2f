/**
 * Online ML benchmark (`npm run bench:ml`): learn+predict records per CPU-second for each model of
 * `@sluice/ml` on the same generated data (20 numeric features, a 0/1 label from a fixed logistic
 * rule), and the prequential accuracy of logistic regression after one pass beside batch-trained
 * baselines on the same data: scikit-learn's LogisticRegression (when `python3` with sklearn is
 * installed) and our own batch Newton fit.
 *
 *   npm run bench:ml -- [--records 200000] [--runs 5] [--only <model name part>,…]
 *
 * `--only` runs the rows whose name contains one of the given parts (and the baseline, logistic
 * regression with SGD) and stops after the model table. The drift rows run the `features` path
 * with a drift detector per pass (`DriftWatch`, as `learn_predict` with `drift:` uses it) after
 * each prediction: the cost of watching the error stream and of a forked candidate.
 *
 * scikit-learn comes from Debian's `python3-sklearn` (`apt-get install -y python3-sklearn`); the
 * script runs `/usr/bin/python3` when it exists (or `$SLUICE_PYTHON`), and says when it is
 * unavailable.
 *
 * Two paths per model: `model` — predict then learn on pre-encoded Float64Arrays (the model's own
 * cost); `features` — from a record object through the feature spec (Welford standardization of
 * 20 fields), then predict and learn, as the `learn_predict` step does per record.
 */

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { builtins, Job, parsePipelineYaml, Registry } from '@sluice/core';
import { memoryChannel, testing } from '@sluice/core/testing';
import { FeatureSpec, Learner, type ModelConfig, ml } from '@sluice/ml';
import { DriftWatch, errorOf } from '../packages/ml/src/drift-watch.ts';
import type { DriftConfig } from '../packages/ml/src/models/drift.ts';
import { logisticNewton } from '../packages/ml/src/models/test-support.ts';
import { denseRows } from '../packages/ml/src/synthetic-test-data.ts';
import { measure, median } from './measure.ts';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '200000' },
    runs: { type: 'string', default: '5' },
    only: { type: 'string' },
  },
});
const ONLY = values.only?.split(',').map((s) => s.trim());
const N = Number(values.records);
const RUNS = Number(values.runs);
const WIDTH = 20;

const { xs, ys } = denseRows(20261207, N, WIDTH);
const names = Array.from({ length: WIDTH }, (_, j) => `f${j}`);
// Records as a source gives them: parsed from JSON text. (Built by adding 21 fields one by one
// they would be dictionary-mode objects, which V8 copies and reads ten times slower.)
const rows = xs.map((x, i) => {
  const row: { [field: string]: unknown } = { y: ys[i] === 1 };
  for (let j = 0; j < WIDTH; j++) row[names[j]] = x[j];
  return JSON.parse(JSON.stringify(row)) as { [field: string]: unknown };
});
// Multinomial NB needs counts: the same data made non-negative (|x|).
const counts = xs.map((x) => x.map(Math.abs));

const MODELS: { name: string; config: ModelConfig; data?: Float64Array[]; drift?: DriftConfig }[] = [
  { name: 'logistic_regression (sgd)', config: { type: 'logistic_regression' } },
  {
    name: 'logistic_regression (sgd), drift: adwin, on_drift: reset',
    config: { type: 'logistic_regression' },
    drift: { detector: 'adwin' },
  },
  {
    name: 'logistic_regression (sgd), drift: adwin, on_drift: fork',
    config: { type: 'logistic_regression' },
    drift: { detector: 'adwin', on_drift: 'fork' },
  },
  { name: 'softmax_regression (sgd, 2 classes)', config: { type: 'softmax_regression' } },
  {
    name: 'logistic_regression (adam)',
    config: { type: 'logistic_regression', optimizer: 'adam', learning_rate: 0.01 },
  },
  { name: 'linear_regression (sgd)', config: { type: 'linear_regression', learning_rate: 0.01 } },
  { name: 'gaussian_nb', config: { type: 'gaussian_nb' } },
  { name: 'multinomial_nb', config: { type: 'multinomial_nb' }, data: counts },
  { name: 'streaming_kmeans (k = 8)', config: { type: 'streaming_kmeans', k: 8 } },
  { name: 'ewma_zscore', config: { type: 'ewma_zscore' } },
  { name: 'hoeffding_tree', config: { type: 'hoeffding_tree' } },
  { name: 'half_space_trees (25 trees, height 8)', config: { type: 'half_space_trees' } },
];

/** Models that take the label as a class's text. */
const classLabel = (type: ModelConfig['type']) =>
  type === 'gaussian_nb' ||
  type === 'multinomial_nb' ||
  type === 'hoeffding_tree' ||
  type === 'softmax_regression';

const rawSpec = new FeatureSpec(names.map((f) => ({ numeric: f, standardize: false })));
const stdSpec = new FeatureSpec(names.map((f) => ({ numeric: f })));

/** One prequential pass on pre-encoded vectors; returns how many predictions were right (a check). */
function modelPass(config: ModelConfig, data: Float64Array[]): number {
  const learner = Learner.create(config, rawSpec);
  let right = 0;
  for (let i = 0; i < data.length; i++) {
    const p = learner.predict(data[i]);
    if (p.value === (ys[i] === 1) || p.value === String(ys[i])) right++;
    learner.learn(data[i], classLabel(config.type) ? String(ys[i]) : ys[i]);
  }
  return right;
}

/** One prequential pass from record objects through the standardizing feature spec (with `drift`, watched as learn_predict does). */
function featurePass(config: ModelConfig, drift?: DriftConfig): number {
  let learner = Learner.create(config, stdSpec);
  const watch = drift === undefined ? undefined : new DriftWatch(drift, config, stdSpec);
  let right = 0;
  for (let i = 0; i < rows.length; i++) {
    let x = learner.encode(rows[i], true);
    const p = learner.predict(x);
    if (p.value === (ys[i] === 1) || p.value === String(ys[i])) right++;
    const label = classLabel(config.type) ? String(ys[i]) : ys[i];
    if (watch !== undefined) {
      const seen = watch.observe(
        learner,
        rows[i],
        label,
        p.value === null ? undefined : errorOf(learner.type, p.value, label),
      );
      if (seen.learner !== learner) {
        learner = seen.learner;
        if (seen.learn) x = learner.encode(rows[i], true);
      }
      if (!seen.learn) continue;
    }
    learner.learn(x, label);
  }
  return right;
}

async function rate(pass: () => number): Promise<number> {
  pass(); // warm-up: compile the hot loops
  const rates: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const m = await measure(pass);
    rates.push(N / (m.cpuMs / 1000));
  }
  return median(rates);
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

console.log(
  `@sluice/ml benchmark: ${fmt(N)} records, ${WIDTH} features, median of ${RUNS} runs, Node ${process.version}`,
);
console.log('');
console.log('| model | learn+predict rec/CPU-s (model) | (through features) |');
console.log('|---|---|---|');
for (const m of MODELS) {
  if (ONLY !== undefined && m !== MODELS[0] && !ONLY.some((part) => m.name.includes(part))) continue;
  const model = m.drift !== undefined ? Number.NaN : await rate(() => modelPass(m.config, m.data ?? xs));
  const through = m.data ? Number.NaN : await rate(() => featurePass(m.config, m.drift));
  const show = (v: number) => (Number.isNaN(v) ? '—' : fmt(v));
  console.log(`| ${m.name} | ${show(model)} | ${show(through)} |`);
}
if (ONLY !== undefined) process.exit(0);

// The learn_predict step in a whole job: memory source → learn_predict → discard.
const registry = new Registry([builtins, testing, ml]);
let jobRuns = 0;
async function jobPass(): Promise<number> {
  const name = `bench-ml-${process.pid}-${++jobRuns}`;
  const plan = parsePipelineYaml(
    `
name: ${name}
settings: { batch_size: 1024 }
sources: { in: { type: memory, channel: ${name} } }
steps:
  - id: scored
    type: learn_predict
    input: in
    model: { type: logistic_regression }
    label: y
    features: [${names.map((f) => `{ numeric: ${f} }`).join(', ')}]
sinks: { out: { type: discard, input: scored } }
`,
    join(tmpdir(), 'bench-ml.yaml'),
    { registry },
  );
  const channel = memoryChannel(name);
  for (let i = 0; i < rows.length; i += 10_000) channel.push('p0', ...rows.slice(i, i + 10_000));
  channel.end();
  const job = await Job.create(plan, { registry });
  await job.run();
  return N;
}
await jobPass();
const jobRates: number[] = [];
for (let r = 0; r < RUNS; r++) {
  const m = await measure(jobPass);
  jobRates.push(N / (m.cpuMs / 1000));
}
console.log(
  `| logistic_regression (sgd), learn_predict step in a job (memory source → discard, batches of 1024) | — | ${fmt(median(jobRates))} |`,
);

// Prequential accuracy after one pass, beside batch fits on the same data.
const online = {
  sgd: featurePass({ type: 'logistic_regression' }) / N,
  adam: featurePass({ type: 'logistic_regression', optimizer: 'adam', learning_rate: 0.01 }) / N,
  tree: featurePass({ type: 'hoeffding_tree' }) / N,
};
const accuracyOf = (w: number[]) => {
  let right = 0;
  for (let i = 0; i < N; i++) {
    let z = w[WIDTH];
    for (let j = 0; j < WIDTH; j++) z += w[j] * xs[i][j];
    if (z >= 0 === (ys[i] === 1)) right++;
  }
  return right / N;
};
const newton = accuracyOf(
  logisticNewton(xs.slice(0, Math.min(N, 50_000)), ys.slice(0, Math.min(N, 50_000)), 0),
);

let sklearn: number | string;
const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-ml-'));
try {
  const csv = join(dir, 'data.csv');
  writeFileSync(csv, xs.map((x, i) => `${Array.from(x).join(',')},${ys[i]}`).join('\n'));
  const script = [
    'import sys, numpy as np',
    'from sklearn.linear_model import LogisticRegression',
    'd = np.loadtxt(sys.argv[1], delimiter=",")',
    'X, y = d[:, :-1], d[:, -1]',
    'm = LogisticRegression(C=1e6, max_iter=1000).fit(X, y)',
    'print(m.score(X, y))',
  ].join('\n');
  // Debian's python3-sklearn installs into the system Python, which a pyenv shim may hide.
  const python =
    process.env.SLUICE_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
  const run = spawnSync(python, ['-c', script, csv], { encoding: 'utf8' });
  sklearn =
    run.status === 0
      ? Number(run.stdout.trim())
      : `unavailable (${(run.stderr || run.error?.message || '').trim().split('\n').at(-1)})`;
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const pct = (a: number) => `${(100 * a).toFixed(2)}%`;
console.log('');
console.log('| logistic regression accuracy | value |');
console.log('|---|---|');
console.log(
  `| prequential, one pass, SGD (each record predicted before it is learned) | ${pct(online.sgd)} |`,
);
console.log(`| prequential, one pass, Adam | ${pct(online.adam)} |`);
console.log(`| prequential, one pass, hoeffding_tree (defaults) | ${pct(online.tree)} |`);
console.log(
  `| batch: scikit-learn LogisticRegression (lbfgs, C=1e6), fit on all records, scored on them | ${typeof sklearn === 'number' ? pct(sklearn) : sklearn} |`,
);
console.log(
  `| batch: our Newton fit on the first ${fmt(Math.min(N, 50_000))} records, scored on all | ${pct(newton)} |`,
);
if (typeof sklearn === 'number')
  console.log(
    `\nSGD prequential minus scikit-learn batch: ${(100 * (online.sgd - sklearn)).toFixed(2)} points`,
  );
