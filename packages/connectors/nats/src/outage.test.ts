/**
 * A server outage mid-stream, made with a TCP proxy in front of the machine's NATS server (which
 * other sessions share, so it is never stopped): the proxy drops every connection and refuses new
 * ones for a while, then comes back on the same port. The source reconnects with backoff and loses
 * nothing, reading nothing twice that it read before.
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
  publish,
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
      const deadline = Date.now() + 20_000;
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
});
