import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Type from 'typebox';
import { builtins } from '../builtins.ts';
import type { Plan } from '../plan/plan.ts';
import { defaultSettings } from '../plan/plan.ts';
import { Registry } from '../registry.ts';
import { defineSource } from '../spec.ts';
import { fingerprintChanges, fingerprintOf } from './fingerprint.ts';

/** A source whose spec declares no identity: every option counts. */
const probe = defineSource({
  type: 'probe',
  delivery: 'exactly-once',
  summary: 'A source of this test only.',
  config: Type.Object({}, { additionalProperties: true }),
  create() {
    throw new Error('not run');
  },
});
const registry = new Registry([builtins, { name: 'probe', components: [probe] }]);

function plan(sourceConfig: object, stepConfig: object): Plan {
  return {
    name: 'p',
    sources: [{ id: 'in', type: 'probe', config: sourceConfig }],
    steps: [{ id: 'agg', type: 'aggregate', inputs: ['in'], config: stepConfig }],
    sinks: [],
    settings: defaultSettings,
    baseDir: '/',
  };
}

describe('fingerprints', () => {
  test('hold digests, never option values', () => {
    const fp = fingerprintOf(
      plan({ port: 8080, auth: { token: 'hunter2-secret' } }, { key: ['k'] }),
      registry,
      () => true,
    );
    const text = JSON.stringify(fp);
    assert.doesNotMatch(text, /hunter2|8080/);
    assert.deepEqual(Object.keys(fp.sources.in.options), ['auth', 'port']);
  });

  test('ignore the order of object keys, and leave stateless steps out', () => {
    const a = fingerprintOf(plan({ x: { a: 1, b: 2 } }, { key: ['k'] }), registry, () => true);
    const b = fingerprintOf(plan({ x: { b: 2, a: 1 } }, { key: ['k'] }), registry, () => true);
    assert.deepEqual(a, b);
    assert.deepEqual(fingerprintOf(plan({}, {}), registry, () => false).steps, {});
  });

  test('name what changed; a spec that declares its options later still restores older checkpoints', () => {
    const saved = fingerprintOf(
      plan({ port: 1, extra: true }, { key: ['k'], window: 1 }),
      registry,
      () => true,
    );
    const removed = fingerprintOf(plan({ port: 1 }, { key: ['k'], window: 1 }), registry, () => true);
    assert.deepEqual(fingerprintChanges(saved, removed), [
      "source 'in' (probe): option 'extra' changed since the checkpoint",
    ]);
    const declared = {
      sources: { in: { type: 'probe', options: { port: removed.sources.in.options.port } } },
      steps: removed.steps,
    };
    assert.deepEqual(fingerprintChanges(saved, declared), []);
    const changed = fingerprintOf(
      plan({ port: 2, extra: true }, { key: ['k'], window: 2 }),
      registry,
      () => true,
    );
    assert.deepEqual(fingerprintChanges(saved, changed), [
      "source 'in' (probe): option 'port' changed since the checkpoint",
      "step 'agg' (aggregate): option 'window' changed since the checkpoint",
    ]);
    assert.deepEqual(fingerprintChanges(saved, { sources: {}, steps: {} }), [
      "source 'in' (probe) is no longer in the pipeline, but the checkpoint holds its positions",
      "step 'agg' (aggregate) is no longer in the pipeline or keeps no state, but the checkpoint holds its state",
    ]);
  });
});
