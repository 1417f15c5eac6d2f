/**
 * A broker outage mid-stream, made with a TCP proxy in front of the machine's RabbitMQ (which
 * other sessions share, so it is never stopped): the proxy drops every connection and refuses
 * new ones for a while, then comes back on the same port. The source reconnects with backoff and
 * loses nothing; the delivery tags of the dropped channel are void, so the messages read on it
 * come again from the broker, and are not read a second time.
 */

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Row } from '@sluice/core';
import { OutageProxy } from '@sluice/core/testing';
import { Broker, openRabbitmqReader, RABBITMQ_HOST, rabbitmqAvailable, uniqueName } from './test-support.ts';

const available = await rabbitmqAvailable();
const signal = new AbortController().signal;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const bodies = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => JSON.stringify({ id: from + i }));
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const idsOf = (records: Row[]) => records.map((r) => Number(r.id)).sort((a, b) => a - b);

describe('rabbitmq source through a broker outage', { skip: !available }, () => {
  let broker: Broker;
  const queues: string[] = [];
  before(async () => {
    broker = await Broker.open();
  });
  after(async () => {
    await broker.deleteQueue(...queues);
    await broker.close();
  });

  test('the source reconnects and loses nothing; what it read before is not read again', async () => {
    const proxy = new OutageProxy(RABBITMQ_HOST);
    await proxy.up();
    const queue = uniqueName('outage');
    queues.push(queue);
    await broker.channel.assertQueue(queue, { durable: true });
    const reader = await openRabbitmqReader({ url: `amqp://${proxy.address}`, queue, connect_timeout: '2s' });
    try {
      await broker.send(queue, bodies(0, 20));
      const before: Row[] = [];
      for (let i = 0; i < 100 && before.length < 20; i++)
        before.push(...((await reader.read(64, signal))?.records ?? []));
      assert.deepEqual(idsOf(before), range(0, 20));
      // A checkpoint taken before the outage; it becomes durable while the broker is away.
      const checkpoint = reader.position();

      await proxy.down();
      await broker.send(queue, bodies(20, 40));
      await sleep(1500);
      await reader.commit(checkpoint);
      await proxy.up();

      const after: Row[] = [];
      const deadline = Date.now() + 15_000;
      while (after.length < 20 && Date.now() < deadline)
        after.push(...((await reader.read(64, signal))?.records ?? []));
      for (let i = 0; i < 3; i++) after.push(...((await reader.read(64, signal))?.records ?? []));
      assert.deepEqual(idsOf(after), range(20, 40), 'the new messages once; the redelivered ones not again');
      assert.ok(reader.reconnects >= 1, 'the reader reconnected');
      // (Some of 20..39 may come flagged `redelivered`: the broker can hand them to the dying
      // channel before it sees the connection gone. They were not read on it, so they count once.)

      // The commit made during the outage acknowledged 0..19 as they came again; this one the rest.
      await reader.commit(reader.position());
      assert.equal(reader.unacknowledged, 0);
    } finally {
      await reader.close();
      await proxy.down();
    }
    assert.equal(await broker.ready(queue), 0, 'everything was acknowledged');
  });

  test('messages read on the dropped channel and committed after the reconnect are acknowledged on the new one', async () => {
    const proxy = new OutageProxy(RABBITMQ_HOST);
    await proxy.up();
    const queue = uniqueName('outage-late-commit');
    queues.push(queue);
    await broker.channel.assertQueue(queue, { durable: true });
    const reader = await openRabbitmqReader({ url: `amqp://${proxy.address}`, queue, connect_timeout: '2s' });
    try {
      await broker.send(queue, bodies(0, 10));
      const read: Row[] = [];
      for (let i = 0; i < 100 && read.length < 10; i++)
        read.push(...((await reader.read(64, signal))?.records ?? []));
      const checkpoint = reader.position();
      await proxy.down();
      await sleep(300);
      await proxy.up();
      // The ten come again and are not read; nothing else is there.
      const again: Row[] = [];
      const deadline = Date.now() + 8_000;
      while (reader.reconnects === 0 && Date.now() < deadline)
        again.push(...((await reader.read(64, signal))?.records ?? []));
      for (let i = 0; i < 3; i++) again.push(...((await reader.read(64, signal))?.records ?? []));
      assert.deepEqual(again, []);
      assert.equal(reader.unacknowledged, 10, 'held under their new delivery tags');
      await reader.commit(checkpoint);
      assert.equal(reader.unacknowledged, 0);
    } finally {
      await reader.close();
      await proxy.down();
    }
    assert.equal(await broker.ready(queue), 0, 'the commit acknowledged them on the new channel');
  });
});
