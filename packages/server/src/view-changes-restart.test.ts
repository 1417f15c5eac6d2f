/**
 * Change streams across a real restart from a checkpoint: the checkpoint holds the view's newest
 * changes (`checkpoint_changes`) and the restored view replays what came after it to the same
 * offsets, so a client that reconnects with the last id it saw — before or after the checkpoint —
 * continues without a repeat or a gap, and one whose position is older than what the checkpoint
 * kept gets a `reset` with the whole view, never a silent gap.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SluiceError } from '@sluice/core';
import { post, type SseEvent, SseReader, startServed, waitFor } from './test-support.ts';

const pipeline = `
name: sse-restart
settings: { checkpoint: { interval: 0s, dir: {{dir}} } }
sources:
  in: { type: http_server, port: 0, path: /ingest, ack: wal }
sinks:
  latest: { type: view, name: sensors, key: [sensor], checkpoint_changes: 3 }
`;

/** The offset, key and row of a change event. */
const change = (e: SseEvent | undefined) => {
  assert.equal(e?.event, 'change', JSON.stringify(e));
  const c = JSON.parse(e!.data) as { offset: number; key: string; row?: { v: number } };
  assert.equal(String(c.offset), e!.id);
  return [c.offset, c.key, c.row?.v];
};

test('after a crash and restart, Last-Event-ID resumes without repeats or gaps, from before the checkpoint too', {
  timeout: 60_000,
}, async () => {
  const first = await startServed(pipeline, {}, { keepDir: true });
  const r = (i: number) => ({ sensor: `s${i % 2}`, v: i });
  // Offset i is record i: s1, s0, s1, s0, … with v = i.
  const expected = (from: number, to: number) =>
    Array.from({ length: to - from + 1 }, (_, i) => [from + i, `s${(from + i) % 2}`, from + i]);
  try {
    await post(first.ingest!, [r(1), r(2), r(3), r(4)]);
    await waitFor(() => (first.job.metrics().sinks.latest.written === 4 ? true : undefined));
    // Keeps changes 2 (whose row 4 has replaced since), 3 and 4.
    await first.job.checkpoint();
    await post(first.ingest!, [r(5), r(6)]);
    const live = await SseReader.open(`${first.server.url}/api/views/sensors/changes?from=1`);
    assert.deepEqual((await live.take(6)).map(change), expected(1, 6));
    await live.close();
    first.job.fail(new SluiceError('INTERNAL', 'crash after the checkpoint'));
    await assert.rejects(first.running);
  } finally {
    await first.server.close();
  }

  const second = await startServed(pipeline, {}, { dir: first.dir });
  try {
    const changes = `${second.server.url}/api/views/sensors/changes`;
    const seenAll = await SseReader.open(changes, { 'last-event-id': '6' });
    const seenFour = await SseReader.open(changes, { 'last-event-id': '4' });
    // From before the checkpoint: changes 2 to 4 come from the checkpoint, 5 and 6 from the
    // write-ahead log, with the same offsets and rows.
    const seenOne = await SseReader.open(changes, { 'last-event-id': '1' });
    assert.deepEqual((await seenOne.take(5)).map(change), expected(2, 6));
    assert.deepEqual((await seenFour.take(2)).map(change), expected(5, 6));
    await post(second.ingest!, [r(7)]);
    assert.deepEqual(change(await seenAll.next()), [7, 's1', 7], 'no repeat of 5 and 6');
    assert.deepEqual(change(await seenFour.next()), [7, 's1', 7]);
    assert.deepEqual(change(await seenOne.next()), [7, 's1', 7]);
    await Promise.all([seenAll.close(), seenFour.close(), seenOne.close()]);

    // Change 1 was not kept: a reset with the whole view at 7, then what follows.
    const behind = await SseReader.open(changes, { 'last-event-id': '0' });
    const reset = await behind.next();
    assert.equal(reset?.event, 'reset');
    assert.equal(reset?.id, '7');
    assert.deepEqual(JSON.parse(reset!.data), {
      op: 'reset',
      offset: 7,
      rows: [
        { key: 's0', offset: 6, row: r(6) },
        { key: 's1', offset: 7, row: r(7) },
      ],
    });
    await post(second.ingest!, [r(8)]);
    assert.deepEqual(change(await behind.next()), [8, 's0', 8]);
    await behind.close();
  } finally {
    await second.stop();
  }
});
