import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LateRejection, Sink, SinkBatch } from '../connector.ts';
import { INSERT, type Row, UPDATE_AFTER } from '../record.ts';
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

test('a long queue is written in order, its front cut off as it goes (head index, no shift per chunk)', async () => {
  const { sink, writes, release } = recordingSink();
  const runner = new SinkRunner('out', sink, { records: 1 << 20, bytes: 1 << 30 }, () => {});
  const n = 5000;
  for (let i = 0; i < n; i++) runner.enqueue({ records: [{ n: i }], times: [i] });
  release();
  await runner.drain();
  const seen = writes.flatMap((w) => w.records.map((r) => r.n));
  assert.deepEqual(
    seen,
    Array.from({ length: n }, (_, i) => i),
  );
  assert.equal(runner.written, n);
  assert.equal(runner.queued, 0);
  // Later chunks still go through the emptied queue.
  runner.enqueue({ records: [{ n }], times: [n] });
  await runner.drain();
  assert.equal(writes.at(-1)?.records[0].n, n);
});

test('joined chunks carry keys only when every chunk has them, and kinds filled in with inserts', async () => {
  const batches: SinkBatch[] = [];
  let release = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  const sink: Sink = {
    async open() {},
    async write(batch) {
      batches.push(batch);
      if (batches.length === 1) await held;
      return undefined;
    },
    async close() {},
  };
  const runner = new SinkRunner('out', sink, { records: 64, bytes: 1 << 20 }, () => {});
  runner.enqueue({ records: [{ a: 0 }], times: [0] });
  runner.enqueue({ records: [{ a: 1 }], times: [1], keys: ['k1'], kinds: [UPDATE_AFTER] });
  runner.enqueue({ records: [{ a: 2 }], times: [2], keys: ['k2'] });
  runner.enqueue({ records: [{ a: 3 }], times: [3] });
  release();
  await runner.drain();
  runner.enqueue({ records: [{ a: 4 }], times: [4], keys: ['k4'] });
  await runner.drain();
  assert.deepEqual(batches[1].keys, undefined, 'a chunk without keys: the joined write has none');
  assert.deepEqual(batches[1].kinds, [UPDATE_AFTER, INSERT, INSERT]);
  assert.deepEqual(batches[1].times, [1, 2, 3]);
  assert.deepEqual(batches[2].keys, ['k4'], 'a chunk written alone is the batch as enqueued');
});

test('a commit runs between two writes: after the write in progress, before the next', async () => {
  const events: string[] = [];
  let writing = false;
  let release = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  const sink: Sink = {
    async open() {},
    async write({ records }) {
      assert.ok(!writing, 'writes never overlap');
      writing = true;
      events.push(`write ${records.map((r) => r.n).join(',')}`);
      if (events.length === 1) await held;
      writing = false;
      return undefined;
    },
    async commit(id) {
      assert.ok(!writing, 'commit while a write is in progress');
      events.push(`commit ${id}`);
      await new Promise((r) => setTimeout(r, 5));
      events.push(`committed ${id}`);
    },
    async close() {},
  };
  const runner = new SinkRunner('out', sink, { records: 64, bytes: 1 << 20 }, () => {});
  runner.enqueue({ records: [{ n: 0 }], times: [0] });
  // The first write is held; the commit waits for it, and the next write waits for the commit.
  const committed = runner.commit(1);
  runner.enqueue({ records: [{ n: 1 }], times: [0] });
  release();
  await committed;
  await runner.drain();
  assert.deepEqual(events, ['write 0', 'commit 1', 'committed 1', 'write 1']);
});

test('writes held at a checkpoint wait for its commit, then go on', async () => {
  const events: string[] = [];
  const sink: Sink = {
    async open() {},
    async write({ records }) {
      events.push(`write ${records.map((r) => r.n).join(',')}`);
      return undefined;
    },
    async commit(id) {
      events.push(`commit ${id}`);
    },
    async close() {},
  };
  const runner = new SinkRunner('out', sink, { records: 64, bytes: 1 << 20 }, () => {});
  runner.holdWrites();
  runner.enqueue({ records: [{ n: 1 }], times: [0] });
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(events, [], 'held');
  await runner.commit(7);
  await runner.drain();
  assert.deepEqual(events, ['commit 7', 'write 1']);
  // A checkpoint that ends before its commit lets them go too.
  runner.holdWrites();
  runner.enqueue({ records: [{ n: 2 }], times: [0] });
  runner.releaseWrites();
  await runner.drain();
  assert.deepEqual(events, ['commit 7', 'write 1', 'write 2']);
});

test('a sink that takes watermarks gets each after the records before it, and alone when nothing is queued', async () => {
  const writes: { n: number[]; watermark: number | undefined; idle: boolean | undefined }[] = [];
  let release = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  const sink: Sink = {
    takesWatermarks: true,
    async open() {},
    async write({ records, watermark, idle }) {
      writes.push({ n: records.map((r) => r.n as number), watermark, idle });
      if (writes.length === 1) await held;
      return undefined;
    },
    async close() {},
  };
  const runner = new SinkRunner('out', sink, { records: 64, bytes: 1 << 20 }, () => {});
  runner.enqueue({ records: [{ n: 0 }], times: [0] });
  // Noted after the first write was taken: it goes with the next (later is never wrong).
  runner.noteWatermark(10);
  // Behind the write under way: joined, with the latest watermark noted after them.
  runner.enqueue({ records: [{ n: 1 }], times: [11] });
  runner.noteWatermark(20);
  runner.enqueue({ records: [{ n: 2 }], times: [21] });
  runner.noteWatermark(15); // never back
  release();
  await runner.drain();
  // Nothing queued: the watermark alone, then going idle at the same watermark.
  runner.noteWatermark(30);
  await runner.drain();
  runner.noteWatermark(30, true);
  runner.noteWatermark(30, true); // nothing changed
  await runner.drain();
  assert.deepEqual(writes, [
    { n: [0], watermark: undefined, idle: undefined },
    { n: [1, 2], watermark: 20, idle: false },
    { n: [], watermark: 30, idle: false },
    { n: [], watermark: 30, idle: true },
  ]);
});

test('a sink that does not take watermarks never sees them', async () => {
  const { sink, writes } = recordingSink();
  const runner = new SinkRunner('out', sink, { records: 64, bytes: 1 << 20 }, () => {});
  runner.noteWatermark(10);
  await runner.drain();
  assert.equal(writes.length, 0);
});

test('refusals a sink finds after the write go to the handler with their records, after a later write, the prepare and the close', async () => {
  // Refuses records marked `bad`, but learns of it only at its next call, as a sink streaming its writes does.
  let found: LateRejection[] = [];
  let seen: LateRejection[] = [];
  const learn = () => {
    found.push(...seen);
    seen = [];
  };
  const sink: Sink = {
    async open() {},
    async write({ records, times, kinds }) {
      learn();
      records.forEach((record, i) => {
        if (record.bad)
          seen.push({ record, time: times[i], kind: kinds?.[i], message: `refused ${record.n}` });
      });
      return undefined;
    },
    async prepareCommit() {
      learn();
      return 'state';
    },
    async close() {
      learn();
    },
    takeRejections() {
      const late = found;
      found = [];
      return late;
    },
  };
  const handled: { records: Row[]; times: number[]; kinds: unknown; messages: string[] }[] = [];
  const runner = new SinkRunner('out', sink, { records: 64, bytes: 1 << 20 }, (batch, rejections) =>
    handled.push({
      records: rejections.map((r) => batch.records[r.index]),
      times: rejections.map((r) => batch.times[r.index]),
      kinds: batch.kinds,
      messages: rejections.map((r) => r.message),
    }),
  );
  const r = (n: number, bad = false): Row => (bad ? { n, bad } : { n });
  runner.enqueue({ records: [r(0), r(1, true)], times: [10, 11], kinds: [INSERT, UPDATE_AFTER] });
  await runner.drain();
  assert.equal(handled.length, 0, 'not known yet');
  runner.enqueue({ records: [r(2), r(3, true)], times: [12, 13] });
  await runner.drain();
  assert.deepEqual(handled, [
    { records: [r(1, true)], times: [11], kinds: [UPDATE_AFTER], messages: ['refused 1'] },
  ]);
  assert.equal(await runner.prepareCommit(1), 'state', 'the sink’s state');
  assert.deepEqual(handled[1], {
    records: [r(3, true)],
    times: [13],
    kinds: undefined,
    messages: ['refused 3'],
  });
  runner.enqueue({ records: [r(4, true)], times: [14] });
  await runner.drain();
  await runner.close();
  assert.deepEqual(handled[2].records, [r(4, true)], 'found at the close');
  assert.equal(handled.length, 3);
  assert.equal(runner.rejected, 3);
  assert.equal(runner.written, 2, 'counted as written when their write resolved, then as rejected');
});
