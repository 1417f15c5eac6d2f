/**
 * A view's changes as Server-Sent Events, read by a real SSE client over loopback: offsets as
 * event ids, resumption with Last-Event-ID without gaps or repeats, a reset (or, for a large
 * view, a clear error) for an offset older than the ring, and a client that stops reading disconnected with a reason.
 */

import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { post, type SseEvent, SseReader, startServed, waitFor } from './test-support.ts';

const pipeline = (name: string, changes: number) => `
name: ${name}
settings: { checkpoint: { interval: 0s, dir: {{dir}} } }
sources:
  in: { type: http_server, port: 0, path: /ingest, ack: memory, max_body: 8mb }
sinks:
  latest: { type: view, name: sensors, key: [sensor], changes: ${changes} }
`;

/** A change as the stream sends it. */
interface ViewChange {
  offset: number;
  op: 'upsert' | 'delete';
  key: string;
  row?: unknown;
}

const change = (e: SseEvent): ViewChange => {
  assert.equal(e.event, 'change');
  const c = JSON.parse(e.data) as ViewChange;
  assert.equal(String(c.offset), e.id, 'the event id is the offset');
  return c;
};

test('a subscriber gets every change in offset order and resumes after a reconnect without gaps', {
  timeout: 60_000,
}, async () => {
  const served = await startServed(pipeline('sse-resume', 1000));
  const changes = `${served.server.url}/api/views/sensors/changes`;
  try {
    const first = await SseReader.open(`${changes}?from=1`);
    assert.equal(first.response.status, 200);
    assert.match(first.response.headers.get('content-type') ?? '', /^text\/event-stream/);
    await post(served.ingest!, [
      { sensor: 'a', v: 1 },
      { sensor: 'b', v: 2 },
      { sensor: 'a', v: 3 },
    ]);
    const got = (await first.take(3)).map(change);
    assert.deepEqual(got, [
      { offset: 1, op: 'upsert', key: 'a', row: { sensor: 'a', v: 1 } },
      { offset: 2, op: 'upsert', key: 'b', row: { sensor: 'b', v: 2 } },
      { offset: 3, op: 'upsert', key: 'a', row: { sensor: 'a', v: 3 } },
    ]);
    await first.close();

    // Changes made while nobody listens are sent after a reconnect, from the last id seen.
    await post(
      served.ingest!,
      Array.from({ length: 40 }, (_, i) => ({ sensor: `s${i % 7}`, v: i })),
    );
    await waitFor(() => (served.job.metrics().sinks.latest.written === 43 ? true : undefined));
    const second = await SseReader.open(changes, { 'last-event-id': '3' });
    const resumed = (await second.take(40)).map(change);
    assert.deepEqual(
      resumed.map((c) => c.offset),
      Array.from({ length: 40 }, (_, i) => 4 + i),
    );
    assert.deepEqual(resumed[39].row, { sensor: 's4', v: 39 });
    // And then live ones, continuing the same sequence.
    await post(served.ingest!, [{ sensor: 'z', v: 0 }]);
    assert.equal(change((await second.next())!).offset, 44);
    await second.close();

    // Without an offset, a subscription starts after the current one.
    const fresh = await SseReader.open(changes);
    await post(served.ingest!, [{ sensor: 'y', v: 0 }]);
    assert.equal(change((await fresh.next())!).offset, 45);
    await fresh.close();
  } finally {
    await served.stop();
  }
});

test('a subscriber asking for changes older than the ring gets the whole view as a reset, then the changes after it', {
  timeout: 60_000,
}, async () => {
  const served = await startServed(pipeline('sse-reset', 4));
  try {
    const records = Array.from({ length: 20 }, (_, i) => ({ sensor: `s${i % 6}`, v: i }));
    await post(served.ingest!, records);
    await waitFor(() => (served.job.metrics().sinks.latest.written === 20 ? true : undefined));
    const old = await SseReader.open(`${served.server.url}/api/views/sensors/changes?from=2`);
    const reset = await old.next();
    assert.equal(reset?.event, 'reset');
    assert.equal(reset?.id, '20', 'its id is the offset it stands for');
    const body = JSON.parse(reset!.data) as {
      op: string;
      offset: number;
      rows: { key: string; row: unknown }[];
    };
    assert.equal(body.op, 'reset');
    assert.equal(body.offset, 20);
    // The whole view, independently: the last record per sensor.
    const latest = new Map<string, unknown>();
    for (const r of records) latest.set(r.sensor, r);
    assert.deepEqual(
      body.rows.map((r) => [r.key, r.row]),
      [...latest].sort(([a], [b]) => (a < b ? -1 : 1)),
    );
    await post(served.ingest!, [{ sensor: 's0', v: 99 }]);
    assert.deepEqual(change((await old.next())!), {
      offset: 21,
      op: 'upsert',
      key: 's0',
      row: { sensor: 's0', v: 99 },
    });
    await old.close();
  } finally {
    await served.stop();
  }
});

test('a view larger than maxResetRows ends a stream from before its ring with VIEW_CHANGES_GONE', {
  timeout: 60_000,
}, async () => {
  const served = await startServed(pipeline('sse-gone', 4), { maxResetRows: 10 });
  try {
    await post(
      served.ingest!,
      Array.from({ length: 20 }, (_, i) => ({ sensor: `s${i}`, v: i })),
    );
    await waitFor(() => (served.job.metrics().sinks.latest.written === 20 ? true : undefined));
    const old = await SseReader.open(`${served.server.url}/api/views/sensors/changes?from=2`);
    const error = await old.next();
    assert.equal(error?.event, 'error');
    const reason = JSON.parse(error!.data) as { code: string; message: string };
    assert.equal(reason.code, 'VIEW_CHANGES_GONE');
    assert.match(reason.message, /read the view again/);
    assert.equal(await old.next(), undefined, 'the stream ends');

    // Read the view, then follow from its offset: nothing is missed.
    const view = (await (await fetch(`${served.server.url}/api/views/sensors?limit=1`)).json()) as {
      offset: number;
    };
    assert.equal(view.offset, 20);
    const follow = await SseReader.open(
      `${served.server.url}/api/views/sensors/changes?from=${view.offset + 1}`,
    );
    await post(served.ingest!, [{ sensor: 's0', v: 99 }]);
    assert.deepEqual(change((await follow.next())!), {
      offset: 21,
      op: 'upsert',
      key: 's0',
      row: { sensor: 's0', v: 99 },
    });
    await follow.close();
  } finally {
    await served.stop();
  }
});

test('a subscriber that stops reading is disconnected with a reason instead of buffered without bound', {
  timeout: 60_000,
}, async () => {
  const served = await startServed(pipeline('sse-slow', 100_000), { maxSubscriberLagBytes: 256 * 1024 });
  try {
    const { hostname, port } = new URL(served.server.url);
    let text = '';
    let ended = false;
    const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      const req = request({ host: hostname, port, path: '/api/views/sensors/changes?from=1' }, resolve);
      req.on('error', reject);
      req.end();
    });
    res.setEncoding('utf8');
    res.pause();
    // About 24 MB of changes: more than the socket buffers hold, so they pile up in the server.
    const padding = 'x'.repeat(1000);
    for (let batch = 0; batch < 12; batch++)
      await post(
        served.ingest!,
        Array.from({ length: 2000 }, (_, i) => ({ sensor: `s${i}`, v: batch, padding })),
      );
    await waitFor(() => (served.job.metrics().sinks.latest.written === 24_000 ? true : undefined), 60_000);
    res.on('data', (s: string) => {
      text += s;
    });
    await new Promise<void>((resolve) => {
      res.on('end', () => {
        ended = true;
        resolve();
      });
      res.on('close', () => resolve());
      res.resume();
    });
    assert.ok(ended, 'the server ended the stream');
    const blocks = text.split('\n\n').filter((b) => b.includes('data:'));
    const last = blocks.at(-1)!;
    assert.match(last, /^event: error/m);
    const reason = JSON.parse(last.split('data: ')[1]) as { code: string; message: string };
    assert.equal(reason.code, 'SUBSCRIBER_TOO_SLOW');
    // What it did get is a gapless prefix it can resume after.
    const ids = blocks.slice(0, -1).map((b) => Number(/^id: (\d+)$/m.exec(b)![1]));
    assert.ok(ids.length > 0 && ids.length < 24_000);
    assert.deepEqual(
      ids,
      Array.from({ length: ids.length }, (_, i) => i + 1),
    );
    assert.match(reason.message, new RegExp(`Last-Event-ID ${ids.length}\\b`));
  } finally {
    await served.stop();
  }
});
