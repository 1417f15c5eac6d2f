import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Sink } from '../connector.ts';
import type { Row } from '../record.ts';
import { SinkRunner } from './sink-runner.ts';

/** A sink that records what each write was given; the first write waits for `release()`. */
function recordingSink() {
  const writes: { records: Row[]; texts: (string | undefined)[] | undefined }[] = [];
  let release = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  const sink: Sink = {
    async open() {},
    async write({ records, texts }) {
      writes.push({ records: [...records], texts: texts && [...texts] });
      if (writes.length === 1) await held;
      return undefined;
    },
    async close() {},
  };
  return { sink, writes, release: () => release() };
}

test('chunks queued behind a write are joined into one, each record keeping its text or none', async () => {
  const { sink, writes, release } = recordingSink();
  const runner = new SinkRunner('out', sink, { records: 64, bytes: 1 << 20 }, () => {});
  const r = (n: number): Row => ({ n });
  runner.enqueue({ records: [r(0)], times: [0], texts: ['t0'] });
  // The first write is under way: these wait, and go out together.
  runner.enqueue({ records: [r(1), r(2)], times: [0, 0] });
  runner.enqueue({ records: [r(3), r(4)], times: [0, 0], texts: ['t3', undefined] });
  runner.enqueue({ records: [r(5)], times: [0] });
  release();
  await runner.drain();
  assert.equal(writes.length, 2);
  assert.deepEqual(writes[0], { records: [r(0)], texts: ['t0'] });
  assert.deepEqual(
    writes[1].records.map((x) => x.n),
    [1, 2, 3, 4, 5],
  );
  assert.deepEqual(writes[1].texts, [undefined, undefined, 't3', undefined, undefined]);
  assert.equal(runner.written, 6);
});

test('chunks without texts are joined without any', async () => {
  const { sink, writes, release } = recordingSink();
  const runner = new SinkRunner('out', sink, { records: 64, bytes: 1 << 20 }, () => {});
  runner.enqueue({ records: [{ a: 1 }], times: [0] });
  runner.enqueue({ records: [{ a: 2 }], times: [0] });
  runner.enqueue({ records: [{ a: 3 }], times: [0] });
  release();
  await runner.drain();
  assert.deepEqual(
    writes.map((w) => [w.records.length, w.texts]),
    [
      [1, undefined],
      [2, undefined],
    ],
  );
});
