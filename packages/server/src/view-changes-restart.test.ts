/**
 * Change streams across a restart: the restored view replays what came after its checkpoint to
 * the same offsets, so a client that reconnects with the last id it saw continues without a
 * repeat or a gap, and one whose position is older than the checkpoint is told to re-read.
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
  latest: { type: view, name: sensors, key: [sensor] }
`;

const offsetOf = (e: SseEvent | undefined) => {
  assert.equal(e?.event, 'change', JSON.stringify(e));
  return (JSON.parse(e!.data) as { offset: number }).offset;
};

test('after a crash and restart, Last-Event-ID resumes without repeats or gaps', {
  timeout: 60_000,
}, async () => {
  const first = await startServed(pipeline, {}, { keepDir: true });
  const r = (i: number) => ({ sensor: `s${i % 2}`, v: i });
  try {
    await post(first.ingest!, [r(1), r(2), r(3)]);
    await waitFor(() => (first.job.metrics().sinks.latest.written === 3 ? true : undefined));
    await first.job.checkpoint();
    await post(first.ingest!, [r(4), r(5)]);
    const live = await SseReader.open(`${first.server.url}/api/views/sensors/changes?from=1`);
    assert.deepEqual((await live.take(5)).map(offsetOf), [1, 2, 3, 4, 5]);
    await live.close();
    first.job.fail(new SluiceError('INTERNAL', 'crash after the checkpoint'));
    await assert.rejects(first.running);
  } finally {
    await first.server.close();
  }

  const second = await startServed(pipeline, {}, { dir: first.dir });
  try {
    const changes = `${second.server.url}/api/views/sensors/changes`;
    const seenAll = await SseReader.open(changes, { 'last-event-id': '5' });
    const seenThree = await SseReader.open(changes, { 'last-event-id': '3' });
    // Changes 4 and 5 come back from the write-ahead log, with the same offsets.
    assert.deepEqual((await seenThree.take(2)).map(offsetOf), [4, 5]);
    await post(second.ingest!, [r(6)]);
    assert.equal(offsetOf(await seenAll.next()), 6, 'no repeat of 4 and 5');
    assert.equal(offsetOf(await seenThree.next()), 6);
    await seenAll.close();
    await seenThree.close();

    const behind = await SseReader.open(changes, { 'last-event-id': '1' });
    const error = await behind.next();
    assert.equal(error?.event, 'error');
    assert.equal((JSON.parse(error!.data) as { code: string }).code, 'VIEW_CHANGES_GONE');
    await behind.close();
  } finally {
    await second.stop();
  }
});
