import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Row } from '@sluice/core';
import { seededRandom } from '@sluice/core/testing';
import { type FeatureConfig, FeatureSpec } from './features.ts';
import { Learner, type ModelConfig } from './learner.ts';
import { Adwin } from './models/drift.ts';
import { runSteps, runTwoInputs } from './test-support.ts';

const FEATURES: FeatureConfig[] = [
  { numeric: 'a', standardize: false },
  { numeric: 'b', standardize: false },
];
const SPEC = new FeatureSpec(FEATURES);

/** Records over two features in [0, 1] whose class follows a known tree, reversed from record `change` until `back`. */
function records(seed: number, n: number, change: number, back = n): Row[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, (_, i) => {
    const a = Math.round(random() * 1000) / 1000;
    const b = Math.round(random() * 1000) / 1000;
    const before = a <= 0.5 ? 'low' : b <= 0.7 ? 'mid' : 'high';
    const cls = i < change || i >= back ? before : a <= 0.5 ? 'high' : 'low';
    return { ts: i, a, b, cls };
  });
}

interface Reference {
  /** The prediction made for each labelled record by the model in place (before learning it). */
  predictions: (string | number | boolean | null)[];
  /** The drift records, with the index of the labelled record that produced each. */
  drifts: (Row & { at: number })[];
  /** The model in place now. */
  active: () => Learner;
  /** Handles one more labelled record. */
  step: (row: Row, label: string) => void;
}

/**
 * The fork as the README defines it, written out directly over the labelled records in order:
 * the model in place predicts then learns each; on a drift (ADWIN over its 0/1 errors) a fresh
 * candidate learns from that record on; both are tested on each later record before learning it,
 * and over the last `window` records the candidate's error count strictly below the model's
 * swaps them (the candidate having learned the record, the old model does not, and the detector
 * starts afresh); after `patience` records without that the candidate is dropped.
 */
function reference(
  labelled: readonly { row: Row; label: string }[] | undefined,
  model: ModelConfig,
  window: number,
  patience: number,
  delta = 0.002,
): Reference {
  const toClass = String;
  let active = Learner.create(model, SPEC);
  let candidate: Learner | undefined;
  let errA: number[] = [];
  let errC: number[] = [];
  let adwin = new Adwin({ delta });
  let drifts = 0;
  const out: Reference = {
    predictions: [],
    drifts: [],
    active: () => active,
    step: (row, label) => step(row, label),
  };
  let at = 0;
  const last = (xs: number[]) => xs.slice(-window).reduce((s, v) => s + v, 0);
  const step = (row: Row, label: string) => {
    const here = at++;
    const x = active.encode(row, true);
    const p = active.predict(x);
    out.predictions.push(p.value);
    const error = p.value === null ? undefined : toClass(p.value) === label ? 0 : 1;
    const yLabel = model.type === 'logistic_regression' ? (label === 'true' ? 1 : 0) : label;
    let learnActive = true;
    if (candidate !== undefined) {
      const xc = candidate.encode(row, true);
      const pc = candidate.predict(xc);
      candidate.learn(xc, yLabel);
      if (error !== undefined) {
        errA.push(error);
        errC.push(pc.value === null || toClass(pc.value) !== label ? 1 : 0);
        if (errA.length >= window) {
          const a = last(errA);
          const c = last(errC);
          const means = { active_error: a / window, candidate_error: c / window };
          if (c < a) {
            out.drifts.push({
              at: here,
              detector: 'adwin',
              action: 'swap',
              learned: active.learned,
              drifts,
              ...means,
            });
            active = candidate;
            candidate = undefined;
            errA = [];
            errC = [];
            adwin = new Adwin({ delta });
            learnActive = false;
          } else if (errA.length >= patience) {
            out.drifts.push({
              at: here,
              detector: 'adwin',
              action: 'discard',
              learned: active.learned,
              drifts,
              ...means,
            });
            candidate = undefined;
            errA = [];
            errC = [];
          }
        }
      }
    }
    if (!learnActive) return;
    if (error !== undefined && adwin.update(error)) {
      drifts++;
      out.drifts.push({
        at: here,
        detector: 'adwin',
        action: candidate === undefined ? 'fork' : 'keep',
        learned: active.learned,
        drifts,
      });
      if (candidate === undefined) {
        candidate = Learner.create(model, SPEC);
        candidate.learn(candidate.encode(row, true), yLabel);
      }
    }
    active.learn(x, yLabel);
  };
  for (const { row, label } of labelled ?? []) step(row, label);
  return out;
}

const without = ({ at: _, ...rest }: Row & { at: number }): Row => rest;

describe('on_drift: fork in learn_predict', () => {
  const change = 3000;
  const rows = records(5, 6000, change);
  const tree: ModelConfig = { type: 'hoeffding_tree', grace_period: 100 };
  const step = (drift: string) => `
  - id: scored
    type: learn_predict
    input: in
    model: { type: hoeffding_tree, grace_period: 100 }
    features: [{ numeric: a, standardize: false }, { numeric: b, standardize: false }]
    label: cls
    drift: ${drift}`;
  const want = reference(
    rows.map((row) => ({ row, label: String(row.cls) })),
    tree,
    200,
    5000,
  );

  test('the candidate forked at the change takes over once it is better over the window: equal to the direct loop', async () => {
    const actions = want.drifts.map((d) => d.action);
    assert.equal(actions[0], 'fork', JSON.stringify(want.drifts));
    assert.ok(want.drifts[0].at >= change && want.drifts[0].at < change + 400, JSON.stringify(want.drifts));
    const swap = want.drifts.find((d) => d.action === 'swap');
    assert.ok(swap !== undefined && swap.at >= want.drifts[0].at + 200, JSON.stringify(want.drifts));
    assert.ok(Number(swap.candidate_error) < Number(swap.active_error));
    const yaml = step('{ detector: adwin, on_drift: fork }');
    for (const batch of [1, 7, 500]) {
      const drifts = await runSteps(yaml, rows, batch, undefined, 'scored.drift');
      assert.deepEqual(drifts.results, want.drifts.map(without), `batch ${batch}`);
      const scored = await runSteps(yaml, rows, batch, undefined, 'scored');
      assert.deepEqual(
        scored.results.map((r) => r.prediction),
        want.predictions,
        `batch ${batch}`,
      );
    }
    // Until the swap the model in place predicts exactly as a model that only reports drifts.
    const kept = await runSteps(step('{ detector: adwin, on_drift: keep }'), rows, 500, undefined, 'scored');
    assert.deepEqual(
      want.predictions.slice(0, swap.at + 1),
      kept.results.slice(0, swap.at + 1).map((r) => r.prediction),
    );
    // After it, the forked model is right on the new concept where the kept one is not as good.
    const accuracy = (ps: readonly unknown[]) =>
      ps.slice(5000).filter((p, i) => p === rows[5000 + i].cls).length / 1000;
    assert.ok(accuracy(want.predictions) > 0.9, `fork: ${accuracy(want.predictions)}`);
    assert.ok(accuracy(kept.results.map((r) => r.prediction)) < accuracy(want.predictions));
  });

  test('a checkpoint taken while the fork runs, a crash and a restore give the straight run', async () => {
    const fork = want.drifts[0].at;
    const swap = want.drifts.find((d) => d.action === 'swap')!.at;
    const checkpointAt = fork + Math.floor((swap - fork) / 2);
    const yaml = step('{ detector: adwin, on_drift: fork }');
    const drifts = await runSteps(yaml, rows, 64, { checkpointAt, crashAt: swap + 300 }, 'scored.drift');
    assert.deepEqual(drifts.results, want.drifts.map(without));
    const scored = await runSteps(yaml, rows, 64, { checkpointAt, crashAt: swap + 300 }, 'scored');
    assert.deepEqual(
      scored.results.map((r) => r.prediction),
      want.predictions,
    );
  });

  test('a candidate that does not beat the model within fork_patience is discarded', async () => {
    // The concept reverses for 150 records only: the drift found in them forks a candidate, but
    // once the old concept is back the model in place is right again and the candidate, a young
    // tree, does not do better within 600 records.
    const stationary = records(8, 6000, 3000, 3150);
    const mine = reference(
      stationary.map((row) => ({ row, label: String(row.cls) })),
      tree,
      200,
      600,
    );
    assert.ok(
      mine.drifts.some((d) => d.action === 'discard'),
      JSON.stringify(mine.drifts.slice(0, 5)),
    );
    const yaml = step('{ detector: adwin, on_drift: fork, fork_window: 200, fork_patience: 600 }');
    for (const batch of [1, 100]) {
      const run = await runSteps(yaml, stationary, batch, undefined, 'scored.drift');
      assert.deepEqual(run.results, mine.drifts.map(without), `batch ${batch}`);
    }
  });

  test('per key: only the key whose concept changed forks and swaps; equal to a direct loop per key', async () => {
    // d0's records reverse their concept halfway through d0's stream; d1's never change.
    const mixed = records(21, 8000, 8000).map((r, i) => {
      const device = i % 2 === 0 ? 'd0' : 'd1';
      const reversed = device === 'd0' && i >= 4000;
      const a = Number(r.a);
      const cls = reversed ? (a <= 0.5 ? 'high' : 'low') : r.cls;
      return { ...r, device, cls };
    });
    const refs = new Map<string, Reference>();
    const want: Row[] = [];
    for (const row of mixed) {
      const device = String(row.device);
      let ref = refs.get(device);
      if (ref === undefined) {
        ref = reference(undefined, tree, 200, 5000);
        refs.set(device, ref);
      }
      const before = ref.drifts.length;
      ref.step(row, String(row.cls));
      for (const d of ref.drifts.slice(before)) want.push({ device, ...without(d) });
    }
    assert.ok(
      want.some((d) => d.action === 'swap'),
      JSON.stringify(want),
    );
    assert.ok(
      want.every((d) => d.device === 'd0'),
      JSON.stringify(want),
    );
    const yaml = `${step('{ detector: adwin, on_drift: fork }')}\n    key: [device]`;
    for (const batch of [1, 333]) {
      const { results } = await runSteps(yaml, mixed, batch, undefined, 'scored.drift');
      assert.deepEqual(results, want, `batch ${batch}`);
    }
  });

  test('fork options without on_drift: fork, and a patience shorter than the window, are refused', async () => {
    await assert.rejects(
      runSteps(step('{ detector: adwin, fork_window: 10 }'), rows.slice(0, 10), 10, undefined, 'scored'),
      /'fork_window' applies only with 'on_drift: fork'/,
    );
    await assert.rejects(
      runSteps(
        step('{ detector: adwin, on_drift: fork, fork_window: 300, fork_patience: 100 }'),
        rows.slice(0, 10),
        10,
        undefined,
        'scored',
      ),
      /'fork_patience' \(100\) is shorter than 'fork_window' \(300\)/,
    );
  });
});

describe('drift detection with delayed labels', () => {
  const HORIZON = 300;
  const change = 3000;
  const model: ModelConfig = { type: 'hoeffding_tree', grace_period: 100 };
  /** The known tree's records every 10 ms with an id (the concept reverses at 3000); labels 5–400 ms later. */
  const random = seededRandom(31);
  const all = records(12, 6000, change);
  const features: Row[] = all.map(({ cls: _, ...r }, i) => ({ ...r, ts: i * 10, id: `r${i}` }));
  const labels: Row[] = all
    .map((r, i) => ({ ts: i * 10 + 5 + Math.floor(random() * 400), id: `r${i}`, cls: r.cls }))
    .sort((x, y) => x.ts - y.ts);
  const steps = (onDrift: string) => `
  - id: scored
    type: learn_predict
    input: [features, labels]
    model: { type: hoeffding_tree, grace_period: 100 }
    features: [{ numeric: a, standardize: false }, { numeric: b, standardize: false }]
    label: cls
    labels: { id: id, horizon: ${HORIZON}ms }
    drift: { detector: adwin, on_drift: ${onDrift} }`;

  /**
   * Plain code over all records in (time, features first, arrival) order: features are predicted
   * by the model in place; a label within the horizon is a labelled record for the fork loop
   * above (the model as it stands when the label comes predicts the held features, then learns).
   */
  function expected(onDrift: 'fork' | 'reset'): { out: Row[]; drifts: Row[]; times: number[] } {
    const times: number[] = [];
    const ref = reference(undefined, model, 200, 5000);
    let resetModel = Learner.create(model, SPEC);
    const resetAdwin = new Adwin();
    const resetDrifts: Row[] = [];
    const held = new Map<string, Row>();
    const events = [
      ...features.map((r, i) => ({ r, input: 0, i })),
      ...labels.map((r, i) => ({ r, input: 1, i })),
    ].sort((x, y) => Number(x.r.ts) - Number(y.r.ts) || x.input - y.input || x.i - y.i);
    const out: Row[] = [];
    for (const { r, input } of events) {
      if (input === 0) {
        const learner = onDrift === 'fork' ? ref.active() : resetModel;
        const p = learner.predict(learner.encode(r, false));
        out.push({ ...r, prediction: p.value, score: p.score });
        held.set(String(r.id), r);
        continue;
      }
      const h = held.get(String(r.id));
      if (h === undefined || Number(r.ts) > Number(h.ts) + HORIZON) continue;
      held.delete(String(r.id));
      if (onDrift === 'fork') {
        times.push(Number(r.ts));
        ref.step(h, String(r.cls));
        continue;
      }
      let x = resetModel.encode(h, true);
      const p = resetModel.predict(x);
      if (p.value !== null && resetAdwin.update(p.value === r.cls ? 0 : 1)) {
        resetDrifts.push({
          detector: 'adwin',
          action: 'reset',
          learned: resetModel.learned,
          drifts: resetDrifts.length + 1,
        });
        resetModel = Learner.create(model, SPEC);
        x = resetModel.encode(h, true);
      }
      resetModel.learn(x, String(r.cls));
    }
    return {
      out,
      drifts: onDrift === 'fork' ? ref.drifts.map(without) : resetDrifts,
      times: ref.drifts.map((d) => times[d.at]),
    };
  }

  test('reset and fork on the errors at label time: equal to the plain loop for several batch sizes', async () => {
    for (const onDrift of ['reset', 'fork'] as const) {
      const want = expected(onDrift);
      assert.ok(want.drifts.length >= 1, `${onDrift}: a drift`);
      assert.equal(want.drifts[0].action, onDrift);
      for (const [batch, order] of [
        [1, 'interleaved'],
        [64, 'features-first'],
        [500, 'labels-first'],
      ] as const) {
        const drifts = await runTwoInputs(
          steps(onDrift),
          features,
          labels,
          batch,
          order,
          undefined,
          'scored.drift',
        );
        assert.deepEqual(drifts.results, want.drifts, `${onDrift}, batch ${batch}, ${order}`);
        const scored = await runTwoInputs(
          steps(onDrift),
          features,
          labels,
          batch,
          order,
          undefined,
          'scored',
        );
        assert.deepEqual(scored.results, want.out, `${onDrift}, batch ${batch}, ${order}`);
      }
      // The model after the drift learns the new concept: the last thousand predictions are mostly right.
      const right = want.out.slice(5000).filter((r, i) => r.prediction === all[5000 + i].cls).length;
      assert.ok(right > 900, `${onDrift}: ${right} of the last 1000 right`);
    }
  });

  test('a checkpoint while a fork runs, a crash and a restore give the straight run', async () => {
    const want = expected('fork');
    // The checkpoint after 3150 records of each input (the watermark near 31 490 ms) falls
    // between the fork and the swap (their labels' times).
    const fork = want.times[want.drifts.findIndex((d) => d.action === 'fork')];
    const swap = want.times[want.drifts.findIndex((d) => d.action === 'swap')];
    assert.ok(fork < 31_000 && swap > 32_000, `fork at ${fork} ms, swap at ${swap} ms`);
    const run = await runTwoInputs(
      steps('fork'),
      features,
      labels,
      50,
      'interleaved',
      { checkpointAt: change + 150, crashAt: change + 900 },
      'scored.drift',
    );
    assert.deepEqual(run.results, want.drifts);
    const scored = await runTwoInputs(
      steps('fork'),
      features,
      labels,
      50,
      'interleaved',
      { checkpointAt: change + 150, crashAt: change + 900 },
      'scored',
    );
    assert.deepEqual(scored.results, want.out);
  });
});
