/**
 * The `nats` source against the machine's NATS server: metadata, subject wildcards, binding to a
 * missing stream, acknowledgements held past `ack_wait`, the unacknowledged window, `max_deliver`,
 * redeliveries a checkpoint covers, and two workers sharing one durable consumer.
 */

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import type { Row } from '@sluice/core';
import type { NatsReader } from './source-reader.ts';
import {
  createStream,
  deleteStream,
  natsAvailable,
  openNatsReader,
  publish,
  readRecords,
  uniqueName,
  withNats,
} from './test-support.ts';

const available = await natsAvailable();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const streams: string[] = [];

/** A fresh stream on `<name>.>`; deleted after the file's tests. */
async function freshStream(prefix: string): Promise<string> {
  const stream = uniqueName(prefix);
  await createStream(stream, [`${stream}.>`]);
  streams.push(stream);
  return stream;
}

const jsonPayloads = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => JSON.stringify({ id: from + i }));
const idsOf = (records: Row[]) => records.map((r) => Number(r.id)).sort((a, b) => a - b);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

async function consumerInfo(stream: string, durable: string) {
  return withNats(async (nc) => (await jetstreamManager(nc)).consumers.info(stream, durable));
}

describe('nats source', { skip: !available }, () => {
  after(async () => {
    for (const s of streams) await deleteStream(s);
  });

  test('reads the subjects its wildcard filter matches, with subject, sequence and headers as metadata', async () => {
    const stream = await freshStream('meta');
    const reader = await openNatsReader({
      stream,
      durable: 'meta',
      subjects: [`${stream}.orders.*`],
      create: true,
    });
    try {
      await publish(`${stream}.orders.eu`, ['{"id":1}'], { 'Trace-Id': 'abc' });
      await publish(`${stream}.payments.eu`, ['{"id":2}']);
      await publish(`${stream}.orders.us`, ['{"id":3}']);
      const { records } = await readRecords(reader, 2);
      await sleep(300);
      records.push(...(await readRecords(reader, 1, 500)).records);
      assert.deepEqual(records, [
        {
          id: 1,
          _nats: {
            subject: `${stream}.orders.eu`,
            stream,
            sequence: 1,
            delivered: 1,
            headers: { 'Trace-Id': 'abc' },
          },
        },
        { id: 3, _nats: { subject: `${stream}.orders.us`, stream, sequence: 3, delivered: 1, headers: {} } },
      ]);
    } finally {
      await reader.close();
    }
  });

  test('without create, a missing stream or consumer fails at open with the option to fix', async () => {
    await assert.rejects(
      openNatsReader({ stream: uniqueName('missing') }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'CONFIG_INVALID');
        assert.match(err.message, /does not exist/);
        return true;
      },
    );
    const stream = await freshStream('bind');
    await assert.rejects(openNatsReader({ stream, durable: 'nobody' }), /has no consumer 'nobody'/);
  });

  test('a consumer deleted while the source reads fails its next read, naming the consumer', async () => {
    const stream = await freshStream('deleted');
    const reader = await openNatsReader({ stream, durable: 'doomed', create: true });
    try {
      await withNats(async (nc) => (await jetstreamManager(nc)).consumers.delete(stream, 'doomed'));
      const signal = new AbortController().signal;
      const deadline = Date.now() + 10_000;
      let failure: unknown;
      while (failure === undefined && Date.now() < deadline) {
        try {
          await reader.read(10, signal);
        } catch (err) {
          failure = err;
        }
      }
      assert.ok(failure instanceof Error, 'a read failed');
      assert.match(failure.message, new RegExp(`consumer 'doomed' was deleted from stream '${stream}'`));
    } finally {
      await reader.close();
    }
  });

  test('messages held for a checkpoint longer than ack_wait are not redelivered (working heartbeats)', async () => {
    const stream = await freshStream('ackwait');
    const reader = await openNatsReader({ stream, durable: 'slow', create: true, ack_wait: '1s' });
    try {
      await publish(`${stream}.a`, jsonPayloads(0, 10));
      const { records } = await readRecords(reader, 10);
      assert.deepEqual(idsOf(records), range(0, 10));
      const held = reader.position();
      // Three ack_waits without a checkpoint.
      await sleep(3200);
      const more = await readRecords(reader, 1, 500);
      assert.deepEqual(more.records, [], 'nothing was delivered again');
      assert.equal(reader.duplicates, 0);
      const info = await consumerInfo(stream, 'slow');
      assert.equal(info.num_redelivered, 0);
      assert.equal(info.num_ack_pending, 10);
      await reader.commit(held);
      await sleep(200);
      assert.equal((await consumerInfo(stream, 'slow')).num_ack_pending, 0, 'acknowledged at the commit');
    } finally {
      await reader.close();
    }
  });

  test('asks for a checkpoint when half of max_ack_pending is unacknowledged; the server holds the rest back', async () => {
    const stream = await freshStream('window');
    let requested = 0;
    const reader = await openNatsReader(
      { stream, durable: 'window', create: true, max_ack_pending: 10 },
      { requestCheckpoint: () => requested++ },
    );
    try {
      await publish(`${stream}.a`, jsonPayloads(0, 30));
      const first = await readRecords(reader, 10);
      assert.equal(first.records.length, 10);
      assert.ok(requested > 0, 'a checkpoint was requested');
      const held = await readRecords(reader, 1, 700);
      assert.deepEqual(held.records, [], 'no more than max_ack_pending unacknowledged');
      await reader.commit(reader.position());
      const rest = await readRecords(reader, 10);
      await reader.commit(reader.position());
      rest.records.push(...(await readRecords(reader, 10)).records);
      assert.deepEqual(idsOf([...first.records, ...rest.records]), range(0, 30));
    } finally {
      await reader.close();
    }
  });

  test('a message at its last delivery (max_deliver) becomes a dead letter and is terminated with the checkpoint', async () => {
    const stream = await freshStream('maxdeliver');
    const options = { stream, durable: 'poison', create: true, max_deliver: 2, ack_wait: '1s' };
    const first = await openNatsReader(options);
    await publish(`${stream}.a`, jsonPayloads(0, 3));
    const read = await readRecords(first, 3);
    assert.equal(read.records.length, 3);
    // The pipeline dies before any checkpoint: the messages come back for their second delivery.
    await first.close();
    const second = await openNatsReader(options);
    try {
      const again = await readRecords(second, 3, 8000);
      assert.deepEqual(again.records, []);
      assert.equal(again.failures.length, 3);
      for (const f of again.failures) {
        assert.match(
          f.message,
          /was delivered 2 times \(the consumer's max_deliver\) without being acknowledged/,
        );
        assert.ok(jsonPayloads(0, 3).includes(Buffer.from(f.payload, 'base64').toString()));
      }
      await second.commit(second.position());
      await sleep(200);
      const info = await consumerInfo(stream, 'poison');
      assert.equal(info.num_ack_pending, 0, 'terminated');
      assert.equal(info.num_pending, 0);
    } finally {
      await second.close();
    }
  });

  test('a redelivery that the restored checkpoint covers is acknowledged, skipped and counted', async () => {
    const stream = await freshStream('covered');
    const options = { stream, durable: 'covered', create: true, ack_wait: '1s' };
    const first = await openNatsReader(options);
    await publish(`${stream}.a`, jsonPayloads(0, 8));
    const read = await readRecords(first, 8);
    assert.equal(read.records.length, 8);
    const checkpoint = first.position();
    assert.deepEqual(checkpoint, { unacked: [[1, 8]] });
    await first.close(); // a crash after the checkpoint, before its commit
    await publish(`${stream}.a`, jsonPayloads(8, 10));
    const second = await openNatsReader(options, { restored: checkpoint });
    try {
      const after = await readRecords(second, 2, 5000);
      await sleep(1500);
      after.records.push(...(await readRecords(second, 8, 300)).records);
      assert.deepEqual(idsOf(after.records), [8, 9]);
      assert.equal(second.duplicates, 8);
      // The covered messages were acknowledged as they came back; a position taken before then
      // still lists them, so a crash now does not read them again either.
      await second.commit(second.position());
      await sleep(200);
      assert.equal((await consumerInfo(stream, 'covered')).num_ack_pending, 0);
    } finally {
      await second.close();
    }
  });

  test('two workers on one durable consumer share the messages, each read once', async () => {
    const stream = await freshStream('shared');
    const options = { stream, durable: 'shared', create: true, pull_batch: 5 };
    const a = await openNatsReader(options, { id: 'worker-a' });
    const b = await openNatsReader(options, { id: 'worker-b' });
    const got = new Map<NatsReader, Row[]>([
      [a, []],
      [b, []],
    ]);
    try {
      await publish(`${stream}.a`, jsonPayloads(0, 200));
      const signal = new AbortController().signal;
      const deadline = Date.now() + 15_000;
      const total = () => (got.get(a)?.length ?? 0) + (got.get(b)?.length ?? 0);
      while (total() < 200 && Date.now() < deadline) {
        for (const r of [a, b]) {
          const batch = await r.read(5, signal);
          got.get(r)?.push(...(batch?.records ?? []));
          await r.commit(r.position());
        }
      }
      const all = [...(got.get(a) ?? []), ...(got.get(b) ?? [])];
      assert.deepEqual(idsOf(all), range(0, 200), 'every message once');
      assert.ok((got.get(a)?.length ?? 0) > 0 && (got.get(b)?.length ?? 0) > 0, 'both workers got some');
    } finally {
      await a.close();
      await b.close();
    }
  });
});
