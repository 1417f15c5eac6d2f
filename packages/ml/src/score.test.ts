import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Job, type Logger, ManualClock, parsePipelineYaml, type Row } from '@sluice/core';
import { memoryChannel, memorySinkStore } from '@sluice/core/testing';
import { FeatureSpec } from './features.ts';
import type { Learner } from './learner.ts';
import { FIXTURES, TEST_MODELS } from './onnx-test-model.ts';
import { modelVersion } from './score.ts';
import { denseRows } from './synthetic-test-data.ts';
import { registry, runSteps } from './test-support.ts';

const MODEL_A = join(FIXTURES, 'logistic-a.onnx');
const MODEL_B = join(FIXTURES, 'logistic-b.onnx');
const MODEL_3 = join(FIXTURES, 'logistic-3.onnx');

/** The package's own learner behind a fixture, to predict what the ONNX model must score. */
function learner(name: keyof typeof TEST_MODELS): Learner {
  return TEST_MODELS[name]();
}

/** Seeded rows `f0…f3` with an event time and an id. */
function rows(seed: number, n: number): Row[] {
  const { xs } = denseRows(seed, n, 4);
  return xs.map((x, i) => ({ id: i, ts: Date.UTC(2026, 0, 1) + i, f0: x[0], f1: x[1], f2: x[2], f3: x[3] }));
}

function scoreYaml(model: string, batchSize: number, extra = ''): string {
  return `
  - id: scored
    type: score
    input: in
    model: ${model}
    inputs: { features: [f0, f1, f2, f3] }
    outputs: { probability: p }
    batch_size: ${batchSize}${extra}`;
}

function assertScoredBy(results: readonly Row[], name: keyof typeof TEST_MODELS, path: string): void {
  const own = learner(name);
  const version = modelVersion(readFileSync(path));
  for (const r of results) {
    const expected = own.predict(own.encode(r, false)).score!;
    assert.ok(Math.abs((r.p as number) - expected) <= 1e-6, `record ${r.id}: ${r.p} vs ${expected}`);
    assert.equal(r.model_version, version);
  }
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('score (ONNX)', () => {
  test('scores equal the package’s own logistic-regression predictions within 1e-6', async () => {
    const input = rows(21, 300);
    const { results, dead } = await runSteps(scoreYaml(MODEL_A, 64), input, 50, undefined, 'scored');
    assert.equal(dead.length, 0);
    assert.deepEqual(
      results.map((r) => r.id),
      input.map((r) => r.id),
    );
    assertScoredBy(results, 'logistic-a', MODEL_A);
    // The scores spread over the range: the model is not constant.
    const ps = results.map((r) => r.p as number);
    assert.ok(Math.min(...ps) < 0.3 && Math.max(...ps) > 0.7);
  });

  test('run batch sizes 1, 7 and 1024 and engine batch sizes give the same output', async () => {
    const input = rows(22, 200);
    const outputs = [];
    for (const [run, engine] of [
      [1, 13],
      [7, 100],
      [1024, 1],
      [1024, 500],
    ])
      outputs.push((await runSteps(scoreYaml(MODEL_A, run), input, engine, undefined, 'scored')).results);
    for (const other of outputs.slice(1)) assert.deepEqual(other, outputs[0]);
    assert.equal(outputs[0].length, 200);
  });

  test('on worker threads (workers: 2) the output is the event-loop run’s', async () => {
    const input = rows(28, 400);
    const inline = await runSteps(scoreYaml(MODEL_A, 32), input, 50, undefined, 'scored');
    const threaded = await runSteps(
      scoreYaml(MODEL_A, 32, '\n    workers: 2'),
      input,
      50,
      undefined,
      'scored',
    );
    assert.equal(threaded.results.length, 400);
    assert.deepEqual(threaded.results, inline.results);
    assertScoredBy(threaded.results, 'logistic-a', MODEL_A);
  });

  test('a checkpoint, a crash and a restore give the same output as a straight run', async () => {
    const input = rows(26, 300);
    const straight = await runSteps(scoreYaml(MODEL_A, 16), input, 20, undefined, 'scored');
    const interrupted = await runSteps(
      scoreYaml(MODEL_A, 16),
      input,
      20,
      { checkpointAt: 120, crashAt: 200 },
      'scored',
    );
    assert.equal(straight.results.length, 300);
    assert.deepEqual(interrupted.results, straight.results);
  });

  test('columns may be features: a hashed category feeds its buckets as the package encodes them', async () => {
    const features = [
      { numeric: 'f0', standardize: false },
      { numeric: 'f1', standardize: false },
      { hashed: 'shop', buckets: 2, missing: 'dead_letter' },
    ] as const;
    const input = rows(27, 120).map((r, i) => ({ ...r, shop: `s${i % 7}` }));
    const yaml = scoreYaml(MODEL_A, 16).replace('[f0, f1, f2, f3]', JSON.stringify(features));
    const { results, dead } = await runSteps(yaml, input, 30, undefined, 'scored');
    assert.equal(dead.length, 0);
    assert.equal(results.length, 120);
    const spec = new FeatureSpec(features as never);
    const own = learner('logistic-a');
    const x = new Float64Array(spec.width);
    const seen = new Set<number>();
    for (const r of results) {
      spec.encode(r, spec.initialState(), x, false);
      const expected = own.predict(x).score!;
      assert.ok(Math.abs((r.p as number) - expected) <= 1e-6, `record ${r.id}: ${r.p} vs ${expected}`);
      seen.add(x[2]);
    }
    // Both buckets are used: the hashed columns really vary.
    assert.deepEqual([...seen].sort(), [0, 1]);
  });

  test('records with missing or non-numeric inputs go to the dead letters with the reason', async () => {
    const input = rows(23, 40);
    input[3] = { ...input[3], f2: 'abc' };
    const { f1: _, ...noF1 } = input[17];
    input[17] = noF1;
    input[25] = { ...input[25], f0: null };
    const { results, dead } = await runSteps(scoreYaml(MODEL_A, 8), input, 10, undefined, 'scored');
    assert.deepEqual(
      results.map((r) => r.id),
      input.map((r) => r.id).filter((id) => ![3, 17, 25].includes(id as number)),
    );
    assertScoredBy(results, 'logistic-a', MODEL_A);
    assert.equal(dead.length, 3);
    const text = JSON.stringify(dead);
    assert.match(text, /f2/);
    assert.match(text, /f1/);
    assert.match(text, /f0/);
  });

  test('a model whose signature does not fit the declared inputs fails the job with the tensor named', async () => {
    await assert.rejects(
      runSteps(scoreYaml(MODEL_3, 8), rows(24, 5), 5, undefined, 'scored'),
      /input 'features' has 3 columns \(shape \[N, 3\]\); the step declares 4/,
    );
    // On worker threads too (and the threads end with the failed job).
    await assert.rejects(
      runSteps(scoreYaml(MODEL_3, 8, '\n    workers: 2'), rows(24, 5), 5, undefined, 'scored'),
      /input 'features' has 3 columns/,
    );
    await assert.rejects(
      runSteps(
        scoreYaml(MODEL_A, 8).replace('probability: p', 'prob: p'),
        rows(24, 5),
        5,
        undefined,
        'scored',
      ),
      /the model has no output 'prob' \(its outputs: 'probability'\)/,
    );
    await assert.rejects(
      runSteps(scoreYaml(MODEL_A, 8).replace('features: [', 'x: ['), rows(24, 5), 5, undefined, 'scored'),
      /the model takes input 'features', which 'inputs' does not declare/,
    );
  });

  test('a feature needing learned state is a config error at its path', async () => {
    const yaml = `name: score-config-${process.pid}\nsources: { in: { type: memory, channel: none } }\nsteps:${scoreYaml(MODEL_A, 8).replace('[f0, f1, f2, f3]', '[f0, { one_hot: c }]')}\nsinks: { out: { type: memory, store: none, input: scored } }\n`;
    const plan = parsePipelineYaml(yaml, join(tmpdir(), 'p.yaml'), { registry });
    await assert.rejects(
      Job.create(plan, { registry }),
      (err: Error & { path?: string }) =>
        /learned vocabulary/.test(err.message) &&
        /inputs\.features\[1\]\.one_hot/.test(JSON.stringify({ ...err, m: err.message })),
    );
  });

  for (const workers of [0, 2])
    test(`with watch (workers: ${workers}), a changed model file is swapped in mid-stream; a misfit is refused; writing the old file back rolls back`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'sluice-score-'));
      const name = `score-watch-${process.pid}-${workers}`;
      const model = join(dir, 'model.onnx');
      const replace = (from: string) => {
        copyFileSync(from, join(dir, 'next.onnx'));
        renameSync(join(dir, 'next.onnx'), model);
      };
      replace(MODEL_A);
      const warnings: string[] = [];
      const log: Logger = { debug() {}, info() {}, warn: (m) => warnings.push(m), error() {} };
      try {
        const yaml = `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt }, batch_size: 5 }
sources:
  in: { type: memory, channel: ${name}, event_time: { field: ts, max_out_of_orderness: 0ms } }
steps:${scoreYaml('./model.onnx', 4, `\n    watch: true\n    workers: ${workers}`)}
sinks:
  out: { type: memory, store: ${name}-out, input: scored }
dead_letter: { type: memory, store: ${name}-dead }
`;
        const plan = parsePipelineYaml(yaml, join(dir, 'pipeline.yaml'), { registry });
        const channel = memoryChannel(name);
        const job = await Job.create(plan, { registry, clock: new ManualClock(0), tickInterval: 5, log });
        const running = job.run();
        const store = memorySinkStore(`${name}-out`);
        const input = rows(25, 10_000);
        let next = 0;
        const written = () => store.written.map((w) => w.record);
        /** Pushes records one at a time until one is scored by `version` (or 10 s pass). */
        const until = async (version: string) => {
          const deadline = Date.now() + 10_000;
          for (;;) {
            channel.push('p0', input[next++]);
            await waitFor('the record scored', () => written().length >= next);
            if (written().at(-1)!.model_version === version) return;
            assert.ok(Date.now() < deadline, `no record scored by ${version}`);
            await new Promise((r) => setTimeout(r, 20));
          }
        };
        const [a, b] = [modelVersion(readFileSync(MODEL_A)), modelVersion(readFileSync(MODEL_B))];
        channel.push('p0', ...input.slice(0, 20));
        next = 20;
        await waitFor('the first 20 records', () => written().length >= 20);
        replace(MODEL_B);
        await until(b);
        const swappedAt = next;
        replace(MODEL_3);
        const refusedAt = next;
        await waitFor('the misfit refused', () => warnings.some((w) => /refused/.test(w)));
        channel.push('p0', ...input.slice(next, next + 10));
        next += 10;
        replace(MODEL_A);
        await until(a);
        const rolledBackAt = next;
        channel.end();
        await running;
        const results = store.records;
        assert.equal(results.length, next);
        assert.deepEqual(
          results.map((r) => r.id),
          input.slice(0, next).map((r) => r.id),
        );
        // Each record carries the version that scored it, in runs: a, then b (the misfit changed nothing), then a again.
        assert.ok(swappedAt > 20);
        assertScoredBy(results.slice(0, 20), 'logistic-a', MODEL_A);
        const firstB = results.findIndex((r) => r.model_version === b);
        assertScoredBy(results.slice(0, firstB), 'logistic-a', MODEL_A);
        assertScoredBy(results.slice(firstB, swappedAt), 'logistic-b', MODEL_B);
        assertScoredBy(results.slice(swappedAt - 1, refusedAt + 10), 'logistic-b', MODEL_B);
        const backToA = results.findIndex((r, i) => i > firstB && r.model_version === a);
        assertScoredBy(results.slice(refusedAt, backToA), 'logistic-b', MODEL_B);
        assertScoredBy(results.slice(backToA, rolledBackAt), 'logistic-a', MODEL_A);
        assert.match(warnings.find((w) => /refused/.test(w))!, /has 3 columns/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
});
