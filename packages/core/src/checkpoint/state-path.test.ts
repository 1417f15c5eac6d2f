import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SluiceError } from '../errors.ts';
import { type CheckpointData, encodeCheckpoint } from './checkpoint-format.ts';

function data(operators: CheckpointData['operators']): CheckpointData {
  return { id: 1, pipeline: 'p', createdAt: 0, watermark: 0, sources: {}, operators, sinks: {} };
}

function deep(levels: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < levels; i++) v = { a: v };
  return v;
}

/** Asserts that encoding fails with CHECKPOINT_STATE_INVALID for `step`, the message matching `path`. */
function assertRefused(operators: CheckpointData['operators'], step: string, message: RegExp): void {
  assert.throws(
    () => encodeCheckpoint(data(operators)),
    (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'CHECKPOINT_STATE_INVALID');
      assert.equal(err.step, step);
      assert.match(err.describe(), message);
      return true;
    },
  );
}

describe('a state value a checkpoint cannot store', () => {
  it('nested too deep: the step and the path of the value are named', () => {
    const state = new Map<string, unknown>([
      ['k1', { first: 1 }],
      ['k2', { first: deep(10_000) }],
    ]);
    assertRefused(
      { ok: { n: 1 }, agg: { groups: state } },
      'agg',
      /step 'agg'.*operators\.agg\.groups\.get\("k2"\)\.first\.a\.a.*nested deeper than/s,
    );
  });

  it('a function: the path ends at it', () => {
    assertRefused(
      { fn: { byKey: { x: [1, { cb: () => 1 }] } } },
      'fn',
      /operators\.fn\.byKey\.x\[1\]\.cb.*a function/s,
    );
  });

  it('state that can be stored still encodes', () => {
    assert.ok(encodeCheckpoint(data({ agg: { groups: new Map([['k', { first: deep(500) }]]) } })).length > 0);
  });

  it('a cycle: the path ends at the reference back', () => {
    const node: { next?: unknown; n: number } = { n: 1 };
    node.next = { n: 2, back: [node] };
    assertRefused({ list: { head: node } }, 'list', /operators\.list\.head\.next\.back\[0\].*a cycle/s);
  });

  it('a value reachable twice is no cycle', () => {
    const shared = { n: 1 };
    assert.ok(encodeCheckpoint(data({ twice: { a: shared, b: [shared, shared] } })).length > 0);
  });

  it('a symbol and a class instance: named as such', () => {
    assertRefused({ s: { tag: Symbol('x') } }, 's', /operators\.s\.tag.*a symbol/s);
    assertRefused(
      { u: { urls: new Set([new URL('http://x')]) } },
      'u',
      /operators\.u\.urls\.values\(\)\[0\].*an instance of URL/s,
    );
  });

  it('a getter that throws: the checkpoint fails as INTERNAL with the cause, not a raw error', () => {
    const state = {
      get broken(): number {
        throw new Error('boom');
      },
    };
    assert.throws(
      () => encodeCheckpoint(data({ g: state })),
      (err: unknown) => err instanceof SluiceError && err.code === 'INTERNAL' && /boom/.test(err.message),
    );
  });
});
