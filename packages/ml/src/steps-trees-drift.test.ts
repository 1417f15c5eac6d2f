import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Row } from '@sluice/core';
import { seededRandom } from '@sluice/core/testing';
import { FeatureSpec } from './features.ts';
import { Learner, type ModelConfig } from './learner.ts';
import { Adwin } from './models/drift.ts';
import { runSteps } from './test-support.ts';

/** Records with two features in [0, 1]; `cls` is the known tree's class, `flip` marks the concept. */
function records(seed: number, n: number, change = n): Row[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, (_, i) => {
    const a = Math.round(random() * 1000) / 1000;
    const b = Math.round(random() * 1000) / 1000;
    const before = a <= 0.5 ? 'low' : b <= 0.7 ? 'mid' : 'high';
    // After the change the concept reverses: what was low is high.
    const cls = i < change ? before : a <= 0.5 ? 'high' : 'low';
    return { ts: i, device: `d${i % 3}`, a, b, cls };
  });
}

const FEATURES = [
  { numeric: 'a', standardize: false },
  { numeric: 'b', standardize: false },
];

/** The prequential loop against the library: predict, then learn (per key). */
function expected(rows: readonly Row[], model: ModelConfig, label?: string, key?: string): Row[] {
  const spec = new FeatureSpec(FEATURES as never);
  const learners = new Map<string, Learner>();
  return rows.map((row) => {
    const k = key === undefined ? '' : String(row[key]);
    let learner = learners.get(k);
    if (learner === undefined) {
      learner = Learner.create(model, spec);
      learners.set(k, learner);
    }
    const x = learner.encode(row, true);
    const p = learner.predict(x);
    learner.learn(x, label === undefined ? 0 : String(row[label]));
    return { ...row, prediction: p.value, score: p.score };
  });
}

const step = (model: string, extra = '') => `
  - id: scored
    type: learn_predict
    input: in
    model: ${model}
    features: [{ numeric: a, standardize: false }, { numeric: b, standardize: false }]${extra}`;

describe('hoeffding_tree and half_space_trees in jobs', () => {
  const rows = records(3, 4000);

  test('hoeffding_tree: equals the library loop for batch sizes 1, 7, 1024, and across a crash-restore', async () => {
    const yaml = step('{ type: hoeffding_tree, grace_period: 100 }', '\n    label: cls\n    key: [device]');
    const want = expected(rows, { type: 'hoeffding_tree', grace_period: 100 }, 'cls', 'device');
    for (const batch of [1, 7, 1024]) {
      const { results } = await runSteps(yaml, rows, batch, undefined, 'scored');
      assert.deepEqual(results, want, `batch ${batch}`);
    }
    const restored = await runSteps(yaml, rows, 64, { checkpointAt: 1500, crashAt: 2600 }, 'scored');
    assert.deepEqual(restored.results, want);
    const late = want.slice(2000);
    const accuracy = late.filter((r) => r.prediction === r.cls).length / late.length;
    assert.ok(accuracy > 0.9, `accuracy ${accuracy}`);
  });

  test('half_space_trees: equals the library loop for batch sizes 1 and 1024, and across a crash-restore', async () => {
    const model =
      '{ type: half_space_trees, trees: 10, height: 6, window_size: 100, lower: 0, upper: 1, seed: 4 }';
    const config: ModelConfig = {
      type: 'half_space_trees',
      trees: 10,
      height: 6,
      window_size: 100,
      lower: 0,
      upper: 1,
      seed: 4,
    };
    const want = expected(rows, config);
    assert.equal(want[99].score, null, 'no score during the first window');
    assert.equal(typeof want[100].score, 'number');
    for (const batch of [1, 1024]) {
      const { results } = await runSteps(step(model), rows, batch, undefined, 'scored');
      assert.deepEqual(results, want, `batch ${batch}`);
    }
    const restored = await runSteps(step(model), rows, 64, { checkpointAt: 1234, crashAt: 3000 }, 'scored');
    assert.deepEqual(restored.results, want);
  });
});

describe('drift detection in learn_predict', () => {
  const change = 3000;
  const rows = records(5, 6000, change);
  const model = '{ type: hoeffding_tree, grace_period: 100 }';

  /** The drift the library finds: ADWIN over the 0/1 errors, the model reset at each drift. */
  function expectedDrifts(reset: boolean): { at: number; learned: number }[] {
    const spec = new FeatureSpec(FEATURES as never);
    let learner = Learner.create({ type: 'hoeffding_tree', grace_period: 100 }, spec);
    const adwin = new Adwin();
    const found: { at: number; learned: number }[] = [];
    rows.forEach((row, i) => {
      let x = learner.encode(row, true);
      const p = learner.predict(x);
      if (p.value !== null && adwin.update(p.value === row.cls ? 0 : 1)) {
        found.push({ at: i, learned: learner.learned });
        if (reset) {
          learner = Learner.create({ type: 'hoeffding_tree', grace_period: 100 }, spec);
          x = learner.encode(row, true);
        }
      }
      learner.learn(x, String(row.cls));
    });
    return found;
  }

  test('ADWIN finds the change of concept at record 3000 and the reset model recovers', async () => {
    const yaml = step(model, '\n    label: cls\n    drift: { detector: adwin }');
    const want = expectedDrifts(true);
    assert.ok(want.length >= 1 && want[0].at >= change && want[0].at < change + 400, JSON.stringify(want));
    for (const batch of [1, 500]) {
      const drifts = await runSteps(yaml, rows, batch, undefined, 'scored.drift');
      assert.deepEqual(
        drifts.results,
        want.map((d, i) => ({ detector: 'adwin', learned: d.learned, drifts: i + 1, action: 'reset' })),
        `batch ${batch}`,
      );
    }
    const restored = await runSteps(yaml, rows, 64, { checkpointAt: 2900, crashAt: 3500 }, 'scored.drift');
    assert.equal(restored.results.length, want.length);
    // After the reset the new concept is learned: the last thousand records are mostly right,
    // while the model that keeps its old tree still is mostly wrong on them.
    const scored = await runSteps(yaml, rows, 500, undefined, 'scored');
    const kept = await runSteps(
      step(model, '\n    label: cls\n    drift: { detector: adwin, on_drift: keep }'),
      rows,
      500,
      undefined,
      'scored',
    );
    const accuracy = (rs: Row[]) => rs.slice(5000).filter((r) => r.prediction === r.cls).length / 1000;
    assert.ok(accuracy(scored.results) > 0.9, `reset: ${accuracy(scored.results)}`);
    assert.ok(accuracy(kept.results) < accuracy(scored.results), `kept: ${accuracy(kept.results)}`);
    assert.deepEqual(
      (
        await runSteps(
          step(model, '\n    label: cls\n    drift: { detector: adwin, on_drift: keep }'),
          rows,
          500,
          undefined,
          'scored.drift',
        )
      ).results.map((r) => r.learned),
      expectedDrifts(false).map((d) => d.learned),
    );
  });

  test('Page–Hinkley on a regression error stream, per key; an unsupervised model is refused', async () => {
    const yaml = `
  - id: scored
    type: learn_predict
    input: in
    model: { type: linear_regression, learning_rate: 0.05 }
    features: [{ numeric: a, standardize: false }]
    label: y
    key: [device]
    drift: { detector: page_hinkley, threshold: 30 }`;
    const random = seededRandom(9);
    const data: Row[] = Array.from({ length: 6000 }, (_, i) => {
      const a = random();
      // d0's target jumps at 4000; d1's never changes.
      const y = 2 * a + (i % 2 === 0 && i >= 4000 ? 5 : 0) + 0.1 * (random() - 0.5);
      return { ts: i, device: `d${i % 2}`, a, y };
    });
    const { results } = await runSteps(yaml, data, 256, undefined, 'scored.drift');
    assert.ok(results.length >= 1, 'a drift');
    assert.ok(
      results.every((r) => r.device === 'd0'),
      JSON.stringify(results),
    );
    // d0 had learned about 2000 records when its target jumped at record 4000.
    assert.ok(
      Number(results[0].learned) >= 2000 && Number(results[0].learned) < 2100,
      JSON.stringify(results[0]),
    );
    await assert.rejects(
      runSteps(
        step('{ type: half_space_trees }', '\n    drift: { detector: adwin }'),
        data,
        10,
        undefined,
        'scored',
      ),
      /drift detection watches the errors of a model that learns from a label/,
    );
  });
});
