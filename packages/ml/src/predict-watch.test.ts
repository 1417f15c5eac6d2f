import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Job, type Logger, ManualClock, parsePipelineYaml, type Row } from '@sluice/core';
import { memoryChannel, memorySinkStore } from '@sluice/core/testing';
import { type FeatureConfig, FeatureSpec } from './features.ts';
import { Learner, type LearnerJson } from './learner.ts';
import { fileVersion } from './model-file.ts';
import { denseRows } from './synthetic-test-data.ts';
import { registry, runSteps } from './test-support.ts';

const FEATURES: FeatureConfig[] = [{ numeric: 'f0' }, { numeric: 'f1' }, { numeric: 'f2' }];
const SPEC = new FeatureSpec(FEATURES);

function rows(seed: number, n: number): Row[] {
  const { xs } = denseRows(seed, n, 3);
  return xs.map((x, i) => ({ id: i, ts: i, f0: x[0], f1: x[1], f2: x[2] }));
}

/** A logistic regression learned on `rows` whose label is `rule`; its JSON text. */
function trained(seed: number, rule: (r: Row) => boolean): string {
  const learner = Learner.create(
    { type: 'logistic_regression', optimizer: 'adam', learning_rate: 0.05 },
    SPEC,
  );
  for (const r of rows(seed, 2000)) learner.learn(learner.encode(r, true), rule(r) ? 1 : 0);
  return JSON.stringify(learner.toJSON());
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const STEP = (file: string, extra = '') => `
  - id: scored
    type: predict
    input: in
    model_file: ${file}
    features: [{ numeric: f0 }, { numeric: f1 }, { numeric: f2 }]${extra}`;

test('predict with watch: a changed model file is swapped in mid-stream, a misfit is refused with a warning, writing the old file back rolls back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-predict-watch-'));
  const name = `predict-watch-${process.pid}`;
  const file = join(dir, 'model.json');
  const replace = (text: string) => {
    writeFileSync(join(dir, 'next.json'), text);
    renameSync(join(dir, 'next.json'), file);
  };
  const a = trained(1, (r) => Number(r.f0) > 0);
  const b = trained(2, (r) => Number(r.f1) < 0);
  // A model of other features: two columns where the step has three.
  const other = Learner.create({ type: 'logistic_regression' }, new FeatureSpec(FEATURES.slice(0, 2)));
  const misfit = JSON.stringify(other.toJSON());
  const [va, vb] = [fileVersion(Buffer.from(a)), fileVersion(Buffer.from(b))];
  replace(a);
  const warnings: string[] = [];
  const log: Logger = { debug() {}, info() {}, warn: (m) => warnings.push(m), error() {} };
  try {
    const yaml = `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt }, batch_size: 5 }
sources:
  in: { type: memory, channel: ${name}, event_time: { field: ts, max_out_of_orderness: 0ms } }
steps:${STEP('./model.json', '\n    watch: true')}
sinks:
  out: { type: memory, store: ${name}-out, input: scored }
dead_letter: { type: memory, store: ${name}-dead }
`;
    const plan = parsePipelineYaml(yaml, join(dir, 'pipeline.yaml'), { registry });
    const channel = memoryChannel(name);
    const job = await Job.create(plan, { registry, clock: new ManualClock(0), tickInterval: 5, log });
    const running = job.run();
    const store = memorySinkStore(`${name}-out`);
    const input = rows(9, 10_000);
    let next = 0;
    const written = () => store.written.map((w) => w.record);
    const until = async (version: string) => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        channel.push('p0', input[next++]);
        await waitFor('the record predicted', () => written().length >= next);
        if (written().at(-1)!.model_version === version) return;
        assert.ok(Date.now() < deadline, `no record predicted by ${version}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    channel.push('p0', ...input.slice(0, 20));
    next = 20;
    await waitFor('the first 20 records', () => written().length >= 20);
    replace(b);
    await until(vb);
    const swappedAt = next;
    replace('{ "model": ');
    await waitFor('the broken file refused', () => warnings.some((w) => /refused/.test(w)));
    replace(misfit);
    await waitFor('the misfit refused', () => warnings.filter((w) => /refused/.test(w)).length >= 2);
    channel.push('p0', ...input.slice(next, next + 10));
    next += 10;
    await waitFor('ten more', () => written().length >= next);
    const refusedUntil = next;
    replace(a);
    await until(va);
    channel.end();
    await running;
    const results = store.records;
    assert.equal(results.length, next);
    // Every record is predicted by the model its version names, as the learner read from that
    // text predicts it; the versions run a, b (the refused files changed nothing), a.
    const models = new Map([
      [va, Learner.fromJSON(JSON.parse(a) as LearnerJson, SPEC)],
      [vb, Learner.fromJSON(JSON.parse(b) as LearnerJson, SPEC)],
    ]);
    results.forEach((r, i) => {
      const m = models.get(String(r.model_version));
      assert.ok(m !== undefined, `record ${i}: version ${String(r.model_version)}`);
      const p = m.predict(m.encode(input[i], false));
      assert.equal(r.prediction, p.value, `record ${i}`);
      assert.equal(r.score, p.score, `record ${i}`);
    });
    const versions = results.map((r) => r.model_version);
    const firstB = versions.indexOf(vb);
    const backToA = versions.indexOf(va, firstB);
    assert.ok(firstB >= 20 && firstB < swappedAt, `b from ${firstB}`);
    assert.ok(versions.slice(0, firstB).every((v) => v === va));
    assert.ok(backToA >= refusedUntil, `a again from ${backToA}`);
    assert.ok(versions.slice(firstB, backToA).every((v) => v === vb));
    assert.ok(versions.slice(backToA).every((v) => v === va));
    // The two models disagree on some of the records, so the swap is visible in the predictions.
    const [ma, mb] = [models.get(va)!, models.get(vb)!];
    assert.ok(
      input
        .slice(0, 200)
        .some((r) => ma.predict(ma.encode(r, false)).value !== mb.predict(mb.encode(r, false)).value),
    );
    const refusals = warnings.filter((w) => /refused/.test(w));
    assert.match(refusals[0], /JSON/);
    assert.match(refusals[1], /feature state does not match/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('predict without watch writes no version; watch without a model_file is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-predict-watch-'));
  try {
    const text = trained(3, (r) => Number(r.f2) > 0.5);
    writeFileSync(join(dir, 'model.json'), text);
    const input = rows(4, 50);
    const { results } = await runSteps(STEP(join(dir, 'model.json')), input, 7, undefined, 'scored');
    assert.equal(results.length, 50);
    assert.ok(results.every((r) => !('model_version' in r)));
    const learner = Learner.fromJSON(
      JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as LearnerJson,
      SPEC,
    );
    assert.deepEqual(
      results.map((r) => r.score),
      input.map((r) => learner.predict(learner.encode(r, false)).score),
    );
    await assert.rejects(
      runSteps(
        `
  - id: scored
    type: predict
    input: in
    watch: true
    features: [{ numeric: f0 }]`,
        input,
        7,
        undefined,
        'scored',
      ),
      /`watch` watches the `model_file`: set it/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
