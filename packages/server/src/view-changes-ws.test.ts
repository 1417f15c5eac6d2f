/**
 * A view's changes over WebSocket, read by Node's own WebSocket client and, for the slow client,
 * by a raw TCP client that stops reading: offsets in order, resumption with `from` without gaps,
 * the read token required, a reset (or a clear end) for an offset older than the ring, and a client that
 * falls behind closed with a reason instead of buffered without bound.
 */

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { connect } from 'node:net';
import { test } from 'node:test';
import { post, startServed, waitFor } from './test-support.ts';

const pipeline = (name: string, changes: number) => `
name: ${name}
settings: { checkpoint: { interval: 0s, dir: {{dir}} } }
sources:
  in: { type: http_server, port: 0, path: /ingest, ack: memory, max_body: 8mb }
sinks:
  latest: { type: view, name: sensors, key: [sensor], changes: ${changes} }
`;

interface Change {
  offset: number;
  op: string;
  key: string;
  row?: unknown;
}

/** A WebSocket whose messages are queued, for taking in order. */
class Client {
  readonly ws: WebSocket;
  readonly messages: string[] = [];
  closed: { code: number; reason: string } | undefined;
  #wake: (() => void) | undefined;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.addEventListener('message', (e) => {
      this.messages.push(String(e.data));
      this.#wake?.();
    });
    this.ws.addEventListener('close', (e) => {
      this.closed = { code: e.code, reason: e.reason };
      this.#wake?.();
    });
  }

  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws.addEventListener('open', () => resolve());
      this.ws.addEventListener('error', () => reject(new Error('the WebSocket did not open')));
    });
  }

  /** The next `n` messages as JSON (fewer if the connection closes first). */
  async take(n: number): Promise<unknown[]> {
    while (this.messages.length < n && !this.closed)
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    return this.messages.splice(0, n).map((m) => JSON.parse(m));
  }
}

test('WebSocket subscribers get every change in order and resume with from without gaps', {
  timeout: 60_000,
}, async () => {
  const served = await startServed(pipeline('ws-resume', 1000));
  const ws = `${served.server.url.replace('http', 'ws')}/api/views/sensors/ws`;
  try {
    const first = new Client(`${ws}?from=1`);
    await first.opened();
    await post(served.ingest!, [
      { sensor: 'a', v: 1 },
      { sensor: 'b', v: 2 },
      { sensor: 'a', v: 3 },
    ]);
    assert.deepEqual(await first.take(3), [
      { offset: 1, op: 'upsert', key: 'a', row: { sensor: 'a', v: 1 } },
      { offset: 2, op: 'upsert', key: 'b', row: { sensor: 'b', v: 2 } },
      { offset: 3, op: 'upsert', key: 'a', row: { sensor: 'a', v: 3 } },
    ]);
    first.ws.close();
    // Changes made while nobody listens come after a reconnect from the last offset seen + 1.
    await post(served.ingest!, [
      { sensor: 'c', v: 4 },
      { sensor: 'b', v: 5 },
    ]);
    await waitFor(() => (served.job.metrics().sinks.latest.written === 5 ? true : undefined));
    const again = new Client(`${ws}?from=4`);
    await again.opened();
    const resumed = (await again.take(2)) as Change[];
    assert.deepEqual(
      resumed.map((c) => [c.offset, c.key]),
      [
        [4, 'c'],
        [5, 'b'],
      ],
    );
    // Without from: only what comes next.
    const live = new Client(ws);
    await live.opened();
    await post(served.ingest!, [{ sensor: 'd', v: 6 }]);
    assert.deepEqual(
      ((await live.take(1)) as Change[]).map((c) => c.offset),
      [6],
    );
    assert.deepEqual(
      ((await again.take(1)) as Change[]).map((c) => c.offset),
      [6],
    );
    again.ws.close();
    live.ws.close();

    // An unknown view and a bad offset: a reason, then a close frame with the code.
    const missing = new Client(`${ws.replace('sensors', 'nope')}`);
    await waitFor(() => missing.closed);
    assert.deepEqual(missing.closed, { code: 4404, reason: 'VIEW_NOT_FOUND' });
    assert.match(missing.messages[0], /no view 'nope'; views: sensors/);
    const bad = new Client(`${ws}?from=-1`);
    await waitFor(() => bad.closed);
    assert.deepEqual(bad.closed, { code: 4400, reason: 'BAD_REQUEST' });
  } finally {
    await served.stop();
  }
});

test('an offset older than the ring gets a reset with the whole view over WebSocket, or VIEW_CHANGES_GONE for a large view', {
  timeout: 60_000,
}, async () => {
  const served = await startServed(pipeline('ws-gone', 2), { maxResetRows: 4 });
  try {
    await post(
      served.ingest!,
      Array.from({ length: 5 }, (_, i) => ({ sensor: `s${i % 3}`, v: i })),
    );
    await waitFor(() => (served.job.metrics().sinks.latest.written === 5 ? true : undefined));
    const ws = `${served.server.url.replace('http', 'ws')}/api/views/sensors/ws`;
    const reset = new Client(`${ws}?from=1`);
    await reset.opened();
    assert.deepEqual(await reset.take(1), [
      {
        op: 'reset',
        offset: 5,
        rows: [
          { key: 's0', offset: 4, row: { sensor: 's0', v: 3 } },
          { key: 's1', offset: 5, row: { sensor: 's1', v: 4 } },
          { key: 's2', offset: 3, row: { sensor: 's2', v: 2 } },
        ],
      },
    ]);
    await post(served.ingest!, [{ sensor: 's3', v: 5 }]);
    assert.deepEqual(await reset.take(1), [
      { offset: 6, op: 'upsert', key: 's3', row: { sensor: 's3', v: 5 } },
    ]);
    reset.ws.close();

    // Four rows now; one more makes the view too large to send whole.
    await post(served.ingest!, [{ sensor: 's4', v: 6 }]);
    await waitFor(() => (served.job.metrics().sinks.latest.written === 7 ? true : undefined));
    const client = new Client(`${ws}?from=1`);
    await client.opened();
    const [error] = (await client.take(1)) as { error: string; message: string }[];
    assert.equal(error.error, 'VIEW_CHANGES_GONE');
    assert.match(error.message, /oldest kept is [2-7]\b/);
    await waitFor(() => client.closed);
    assert.deepEqual(client.closed, { code: 4410, reason: 'VIEW_CHANGES_GONE' });
  } finally {
    await served.stop();
  }
});

test('the WebSocket route needs the read token when one is set', { timeout: 30_000 }, async () => {
  const served = await startServed(pipeline('ws-token', 100), { tokens: { read: 'r-secret' } });
  try {
    const url = `${served.server.url.replace('http', 'ws')}/api/views/sensors/ws`;
    const anonymous = new Client(url);
    await waitFor(() => anonymous.closed);
    assert.deepEqual(anonymous.closed, { code: 4401, reason: 'UNAUTHORIZED' });
    // Node's WebSocket takes no headers: an upgrade made by hand with the token gets 101.
    const upgrade = (token: string) =>
      new Promise<string>((resolve, reject) => {
        const { hostname, port } = new URL(served.server.url);
        const req = request({
          host: hostname,
          port,
          path: '/api/views/sensors/ws',
          headers: {
            connection: 'Upgrade',
            upgrade: 'websocket',
            'sec-websocket-version': '13',
            'sec-websocket-key': randomBytes(16).toString('base64'),
            authorization: `Bearer ${token}`,
          },
        });
        req.on('upgrade', (res, socket, head) => {
          // Refused: the reason and a close frame; let in: nothing until a change.
          let got = Buffer.from(head);
          socket.on('data', (b: Buffer) => {
            got = Buffer.concat([got, b]);
          });
          setTimeout(() => {
            socket.destroy();
            const { close } = frames(got);
            resolve(close ? `${close.code} ${close.reason}` : `${res.statusCode} open`);
          }, 500);
        });
        req.on('error', reject);
        req.end();
      });
    assert.equal(await upgrade('wrong'), '4401 UNAUTHORIZED');
    assert.equal(await upgrade('r-secret'), '101 open');
  } finally {
    await served.stop();
  }
});

/** Parses WebSocket frames a server sent (unmasked): text messages and the close frame. */
function frames(data: Buffer): { texts: string[]; close?: { code: number; reason: string } } {
  const texts: string[] = [];
  let at = 0;
  while (at + 2 <= data.length) {
    const opcode = data[at] & 0x0f;
    let length = data[at + 1] & 0x7f;
    let head = 2;
    if (length === 126) {
      length = data.readUInt16BE(at + 2);
      head = 4;
    } else if (length === 127) {
      length = Number(data.readBigUInt64BE(at + 2));
      head = 10;
    }
    if (at + head + length > data.length) break;
    const payload = data.subarray(at + head, at + head + length);
    if (opcode === 1) texts.push(payload.toString('utf8'));
    if (opcode === 8)
      return {
        texts,
        close: { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString('utf8') },
      };
    at += head + length;
  }
  return { texts };
}

test('a WebSocket client that stops reading is closed with SUBSCRIBER_TOO_SLOW after a gapless prefix', {
  timeout: 120_000,
}, async () => {
  const served = await startServed(pipeline('ws-slow', 100_000), { maxSubscriberLagBytes: 256 * 1024 });
  try {
    const { hostname, port } = new URL(served.server.url);
    const socket = connect(Number(port), hostname);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(
      [
        'GET /api/views/sensors/ws?from=1 HTTP/1.1',
        `Host: ${hostname}:${port}`,
        'Connection: Upgrade',
        'Upgrade: websocket',
        'Sec-WebSocket-Version: 13',
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
        '',
        '',
      ].join('\r\n'),
    );
    const chunks: Buffer[] = [];
    socket.once('data', (b: Buffer) => chunks.push(b));
    await waitFor(() => (chunks.length > 0 ? true : undefined));
    socket.pause();
    // About 24 MB of changes: more than the socket buffers hold, so they pile up in the server.
    const padding = 'x'.repeat(1000);
    for (let batch = 0; batch < 12; batch++)
      await post(
        served.ingest!,
        Array.from({ length: 2000 }, (_, i) => ({ sensor: `s${i}`, v: batch, padding })),
      );
    await waitFor(() => (served.job.metrics().sinks.latest.written === 24_000 ? true : undefined), 60_000);
    socket.on('data', (b: Buffer) => chunks.push(b));
    await new Promise<void>((resolve) => {
      socket.on('end', resolve);
      socket.on('close', () => resolve());
      socket.resume();
    });
    const all = Buffer.concat(chunks);
    const body = all.subarray(all.indexOf('\r\n\r\n') + 4);
    assert.match(all.subarray(0, 40).toString('latin1'), /^HTTP\/1\.1 101/);
    const { texts, close } = frames(body);
    assert.deepEqual(close, { code: 1013, reason: 'SUBSCRIBER_TOO_SLOW' });
    const error = JSON.parse(texts.at(-1)!) as { error: string; message: string };
    assert.equal(error.error, 'SUBSCRIBER_TOO_SLOW');
    const offsets = texts.slice(0, -1).map((t) => (JSON.parse(t) as Change).offset);
    assert.ok(offsets.length > 0 && offsets.length < 24_000, `${offsets.length} changes before the close`);
    assert.deepEqual(
      offsets,
      Array.from({ length: offsets.length }, (_, i) => i + 1),
    );
    assert.match(error.message, new RegExp(`from=${offsets.length + 1}\\b`));
  } finally {
    await served.stop();
  }
});
