import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SluiceError } from '../errors.ts';
import { createWindowAssigner } from './window-assigner.ts';
import { validateWindowSpec, type WindowSpec } from './window-spec.ts';

function windowsOf(spec: WindowSpec, time: number): [number, number][] {
  const assigner = createWindowAssigner(spec);
  const starts = new Float64Array(assigner.maxWindows);
  const ends = new Float64Array(assigner.maxWindows);
  const n = assigner.assign(time, starts, ends);
  const out: [number, number][] = [];
  for (let i = 0; i < n; i++) out.push([starts[i], ends[i]]);
  return out.sort((a, b) => a[1] - b[1]);
}

describe('window assigners', () => {
  it('tumbling: one half-open window aligned to the epoch', () => {
    const spec: WindowSpec = { type: 'tumbling', size: 10 };
    assert.deepEqual(windowsOf(spec, 0), [[0, 10]]);
    assert.deepEqual(windowsOf(spec, 9), [[0, 10]]);
    assert.deepEqual(windowsOf(spec, 10), [[10, 20]]);
    assert.deepEqual(windowsOf(spec, -1), [[-10, 0]]);
    assert.deepEqual(windowsOf({ type: 'tumbling', size: 60_000 }, 1_700_000_123_456), [
      [1_700_000_100_000, 1_700_000_160_000],
    ]);
  });

  it('tumbling: offset shifts the alignment, and is reduced modulo size', () => {
    assert.deepEqual(windowsOf({ type: 'tumbling', size: 10, offset: 3 }, 2), [[-7, 3]]);
    assert.deepEqual(windowsOf({ type: 'tumbling', size: 10, offset: 3 }, 3), [[3, 13]]);
    assert.deepEqual(windowsOf({ type: 'tumbling', size: 10, offset: -7 }, 3), [[3, 13]]);
    assert.deepEqual(validateWindowSpec({ type: 'tumbling', size: 10, offset: 23 }), {
      type: 'tumbling',
      size: 10,
      offset: 3,
    });
  });

  it('hopping: every window of size starting at a multiple of slide that contains the time', () => {
    assert.deepEqual(windowsOf({ type: 'hopping', size: 10, slide: 5 }, 7), [
      [0, 10],
      [5, 15],
    ]);
    assert.deepEqual(windowsOf({ type: 'hopping', size: 10, slide: 5 }, 5), [
      [0, 10],
      [5, 15],
    ]);
    assert.deepEqual(windowsOf({ type: 'hopping', size: 10, slide: 4 }, 9), [
      [0, 10],
      [4, 14],
      [8, 18],
    ]);
    assert.deepEqual(windowsOf({ type: 'hopping', size: 10, slide: 4 }, 11), [
      [4, 14],
      [8, 18],
    ]);
    assert.deepEqual(windowsOf({ type: 'hopping', size: 10, slide: 10 }, 10), [[10, 20]]);
  });

  it('cumulative: the growing windows of the period that contain the time', () => {
    const spec: WindowSpec = { type: 'cumulative', size: 30, step: 10 };
    assert.deepEqual(windowsOf(spec, 0), [
      [0, 10],
      [0, 20],
      [0, 30],
    ]);
    assert.deepEqual(windowsOf(spec, 15), [
      [0, 20],
      [0, 30],
    ]);
    assert.deepEqual(windowsOf(spec, 29), [[0, 30]]);
    assert.deepEqual(windowsOf(spec, 30), [
      [30, 40],
      [30, 50],
      [30, 60],
    ]);
  });

  it('session: the record’s own window [t, t + gap)', () => {
    const assigner = createWindowAssigner({ type: 'session', gap: 5 });
    assert.equal(assigner.merging, true);
    assert.deepEqual(windowsOf({ type: 'session', gap: 5 }, 12), [[12, 17]]);
  });

  it('rejects invalid specs with CONFIG_INVALID naming the field', () => {
    const bad: [unknown, string][] = [
      [{ type: 'tumbling', size: 0 }, 'window.size'],
      [{ type: 'tumbling', size: -5 }, 'window.size'],
      [{ type: 'tumbling', size: 1.5 }, 'window.size'],
      [{ type: 'tumbling', size: 10, offset: 0.5 }, 'window.offset'],
      [{ type: 'hopping', size: 10, slide: 20 }, 'window.slide'],
      [{ type: 'hopping', size: 10, slide: 0 }, 'window.slide'],
      [{ type: 'hopping', size: 100_000, slide: 1 }, 'window.slide'],
      [{ type: 'cumulative', size: 25, step: 10 }, 'window.size'],
      [{ type: 'cumulative', size: 10, step: -1 }, 'window.step'],
      [{ type: 'session', gap: 0 }, 'window.gap'],
      [{ type: 'sliding', size: 10 }, 'window.type'],
      [null, 'window'],
    ];
    for (const [spec, path] of bad) {
      assert.throws(
        () => createWindowAssigner(spec as WindowSpec),
        (err: unknown) => err instanceof SluiceError && err.code === 'CONFIG_INVALID' && err.path === path,
        JSON.stringify(spec),
      );
    }
  });
});
