/**
 * A server outage mid-stream, made with a TCP proxy in front of the machine's NATS server (which
 * other sessions share, so it is never stopped): the proxy drops every connection and refuses new
 * ones for a while, then comes back on the same port. The source reconnects with backoff and loses
 * nothing, reading nothing twice that it read before; a sink write started during the outage
 * resolves once the server is back, each message stored once.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Row } from '@sluice/core';
import { OutageProxy } from '@sluice/core/testing';
import {
  createStream,
  deleteStream,
  NATS_HOST,
  natsAvailable,
  openNatsReader,
  openNatsSink,
  publish,
  streamMessages,
  uniqueName,
} from './test-support.ts';

const available = await natsAvailable();
const signal = new AbortController().signal;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const payloads = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => JSON.stringify({ id: from + i }));
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const idsOf = (records: Row[]) => records.map((r) => Number(r.id)).sort((a, b) => a - b);

describe('nats through a server outage', { skip: !available }, () => {
  test('the source reconnects and loses nothing; what it read before is not read again', async () => {
    const proxy = new OutageProxy(NATS_HOST);
    await proxy.up();
    const stream = uniqueName('outage');
    await createStream(stream, [`${stream}.>`]);
    const options = { servers: [`nats://${proxy.address}`], stream, durable: 'outage', create: true };
    const reader = await openNatsReader(options);
    try {
      await publish(`${stream}.a`, payloads(0, 20));
      const before: Row[] = [];
      for (let i = 0; i < 100 && before.length < 20; i++)
        before.push(...((await reader.read(64, signal))?.records ?? []));
      assert.deepEqual(idsOf(before), range(0, 20));
      const checkpoint = reader.position();

      await proxy.down();
      // Published straight to the server while the source cannot reach it.
      await publish(`${stream}.a`, payloads(20, 40));
      await sleep(1500);
      await proxy.up();

      const after: Row[] = [];
      // The client waits up to its backoff ceiling (which doubles with each failed attempt) before
      // its next try; on a loaded machine that can take a while.
      const deadline = Date.now() + 45_000;
      while (after.length < 20 && Date.now() < deadline)
        after.push(...((await reader.read(64, signal))?.records ?? []));
      for (let i = 0; i < 3; i++) after.push(...((await reader.read(64, signal))?.records ?? []));
      assert.deepEqual(idsOf(after), range(20, 40), 'the new messages once; the held ones not again');

      // The checkpoint taken before the outage completes now: its acknowledgements go out on the
      // new connection, and so do the later ones.
      await reader.commit(checkpoint);
      await reader.commit(reader.position());
      assert.equal(reader.unacknowledged, 0);
    } finally {
      await reader.close();
      await proxy.down();
    }
    const fresh = await openNatsReader({ stream, durable: 'outage' });
    try {
      const left: Row[] = [];
      for (let i = 0; i < 4; i++) left.push(...((await fresh.read(64, signal))?.records ?? []));
      assert.deepEqual(left, [], 'everything was acknowledged');
    } finally {
      await fresh.close();
      await deleteStream(stream);
    }
  });

  test('a sink write during an outage resolves once the server is back, each message stored once', async () => {
    const proxy = new OutageProxy(NATS_HOST);
    await proxy.up();
    const stream = uniqueName('outage_out');
    await createStream(stream, [`${stream}.>`]);
    const sink = await openNatsSink({
      servers: [`nats://${proxy.address}`],
      subject: `${stream}.out`,
      msg_id_expression: 'CAST(id AS TEXT)',
      ack_timeout: '500ms',
      retry: { max_attempts: 20, initial_backoff: '100ms', max_backoff: '1s' },
    });
    try {
      await sink.write({ records: [{ id: -1 }], times: [0] });
      await proxy.down();
      const records = range(0, 10).map((id) => ({ id }));
      let resolved = false;
      const writing = sink.write({ records, times: records.map(() => 0) }).then((r) => {
        resolved = true;
        return r;
      });
      await sleep(1500);
      assert.equal(resolved, false, 'the write waits for the server');
      await proxy.up();
      assert.equal(await writing, undefined, 'nothing refused');
      const stored = (await streamMessages(stream)).map((m) => (JSON.parse(m.data) as { id: number }).id);
      assert.deepEqual(
        stored.sort((a, b) => a - b),
        [-1, ...range(0, 10)],
        'every message, once',
      );
      await sink.close();
    } finally {
      await sink.abort?.();
      await proxy.down();
      await deleteStream(stream);
    }
  });
});
