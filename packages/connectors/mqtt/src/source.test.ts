/**
 * The `mqtt` source's reader against the machine's Mosquitto: the persistent session across a
 * restart, acknowledgements only in `commit` (what a checkpoint covers is not read again, what it
 * does not is redelivered), the receive window as backpressure with an early checkpoint, and the
 * `_mqtt` metadata with wildcards and MQTT 5 user properties.
 */

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import type { Row, SourceBatch } from '@sluice/core';
import type { IPublishPacket } from 'mqtt';
import { digestOf, type MqttReader } from './source-reader.ts';
import { dropSession, mqttAvailable, openMqttReader, publish, uniqueName } from './test-support.ts';

const available = await mqttAvailable();
const signal = new AbortController().signal;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reads until `count` records (and failures) came, or `ms` passed; returns what came. */
async function readAtLeast(reader: MqttReader, count: number, ms = 5000): Promise<SourceBatch> {
  const out: SourceBatch = { records: [], failures: [] };
  const deadline = Date.now() + ms;
  while (out.records.length + (out.failures?.length ?? 0) < count && Date.now() < deadline) {
    const batch = await reader.read(64, signal);
    if (batch === null) break;
    out.records.push(...batch.records);
    out.failures?.push(...(batch.failures ?? []));
  }
  return out;
}

const idsOf = (records: Row[]) => records.map((r) => Number(r.id)).sort((a, b) => a - b);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const payloads = (from: number, to: number) => range(from, to).map((id) => JSON.stringify({ id }));

describe('mqtt source', { skip: !available }, () => {
  test('messages published while the pipeline is stopped arrive after it restarts', async () => {
    const topic = uniqueName('restart/in');
    const client_id = uniqueName('restart');
    const options = { topics: [topic], client_id, qos: 1 };
    try {
      const first = await openMqttReader(options);
      await publish(topic, payloads(0, 10));
      const got = await readAtLeast(first, 10);
      assert.deepEqual(idsOf(got.records), range(0, 10));
      await first.commit(first.position());
      await first.close();
      // Stopped: the broker queues these in the session.
      await publish(topic, payloads(10, 25));
      const second = await openMqttReader(options);
      try {
        const after = await readAtLeast(second, 15);
        await readAtLeast(second, 1, 300);
        assert.deepEqual(idsOf(after.records), range(10, 25), 'each once, none of the committed ones');
      } finally {
        await second.close();
      }
    } finally {
      await dropSession(client_id);
    }
  });

  test('a crash redelivers what no checkpoint covers; what the restored checkpoint covers is not read again', async () => {
    const topic = uniqueName('crash/in');
    const client_id = uniqueName('crash');
    const options = { topics: [topic], client_id, qos: 1 };
    try {
      const first = await openMqttReader(options);
      await publish(topic, payloads(0, 10));
      assert.equal((await readAtLeast(first, 10)).records.length, 10);
      // Checkpoint 1 covers 0..9 and is committed (acknowledged).
      await first.commit(first.position());
      await publish(topic, payloads(10, 20));
      assert.equal((await readAtLeast(first, 10)).records.length, 10);
      // Checkpoint 2 covers 10..19 and is durable, but the process dies before its commit.
      const checkpoint2 = first.position();
      await publish(topic, payloads(20, 30));
      assert.equal((await readAtLeast(first, 10)).records.length, 10);
      // 20..29 were read after checkpoint 2: no checkpoint covers them.
      await first.close();

      const second = await openMqttReader(options, { restored: checkpoint2 });
      try {
        const again = await readAtLeast(second, 10);
        await readAtLeast(second, 1, 300);
        assert.deepEqual(idsOf(again.records), range(20, 30), 'only what no checkpoint covers comes again');
        await second.commit(second.position());
      } finally {
        await second.close();
      }
      // Checkpoint 2's messages were acknowledged when redelivered, the rest by the last commit.
      const third = await openMqttReader(options);
      try {
        const rest = await readAtLeast(third, 1, 800);
        assert.deepEqual(rest.records, [], 'nothing left unacknowledged');
      } finally {
        await third.close();
      }
    } finally {
      await dropSession(client_id);
    }
  });

  test('a slow pipeline: the source buffers a bounded amount, asks for a checkpoint, and loses nothing', async () => {
    const topic = uniqueName('window/in');
    const client_id = uniqueName('window');
    let requests = 0;
    const reader = await openMqttReader(
      { topics: [topic], client_id, qos: 1, receive_maximum: 20 },
      { requestCheckpoint: () => requests++ },
    );
    const count = 600;
    const pad = 'x'.repeat(1000);
    try {
      await publish(
        topic,
        range(0, count).map((id) => JSON.stringify({ id, pad })),
      );
      await sleep(300);
      assert.ok(reader.buffered <= 20, `buffers ${reader.buffered}, at most the window`);
      const first = await readAtLeast(reader, count, 800);
      assert.equal(first.records.length, 20, 'the broker holds the rest back until a commit');
      assert.ok(requests > 0, 'it asked for an early checkpoint');
      let all = first.records;
      let most = 0;
      for (let round = 0; all.length < count && round < 100; round++) {
        await reader.commit(reader.position());
        // Nothing reads for a while: the source holds at most its window, however many the broker
        // sends (Mosquitto 2.0 sends past the receive maximum once acknowledgements flow).
        await sleep(150);
        most = Math.max(most, reader.buffered);
        const more = await readAtLeast(reader, count - all.length, 300);
        all = [...all, ...more.records];
      }
      assert.ok(most <= 20, `held ${most} messages at most`);
      assert.deepEqual(idsOf(all), range(0, count), 'each once, none lost');
      await reader.commit(reader.position());
    } finally {
      await reader.close();
      await dropSession(client_id);
    }
  });

  test('topics with wildcards; the topic and MQTT 5 user properties as _mqtt; a poison message is a failure with the reason', async () => {
    const base = uniqueName('meta');
    const client_id = uniqueName('meta');
    const reader = await openMqttReader({ topics: [`${base}/+/reading`], client_id, qos: 1 });
    try {
      await publish(`${base}/d1/reading`, [JSON.stringify({ id: 1 })], {
        qos: 1,
        properties: { userProperties: { site: 'north', unit: 'C' } },
      });
      await publish(`${base}/d2/reading`, ['{"id": 2, oops'], { qos: 1 });
      await publish(`${base}/d3/other`, [JSON.stringify({ id: 3 })], { qos: 1 });
      const got = await readAtLeast(reader, 2);
      await readAtLeast(reader, 1, 300);
      assert.equal(got.records.length, 1);
      assert.deepEqual(got.records[0], {
        id: 1,
        _mqtt: {
          topic: `${base}/d1/reading`,
          qos: 1,
          retain: false,
          user_properties: { site: 'north', unit: 'C' },
        },
      });
      assert.equal(got.failures?.length, 1);
      const failure = got.failures?.[0];
      assert.equal(failure?.payload, '{"id": 2, oops');
      assert.match(
        failure?.message ?? '',
        new RegExp(`message on topic '${base}/d2/reading' is not valid JSON`),
      );
      await reader.commit(reader.position());
    } finally {
      await reader.close();
      await dropSession(client_id);
    }
  });

  test('QoS 0: a clean subscription whose records come without acknowledgements', async () => {
    const topic = uniqueName('qos0/in');
    const client_id = uniqueName('qos0');
    const reader = await openMqttReader({ topics: [topic], client_id, qos: 0, metadata: false });
    try {
      await publish(topic, payloads(0, 30), { qos: 0 });
      const got = await readAtLeast(reader, 30);
      assert.deepEqual(idsOf(got.records), range(0, 30));
      assert.deepEqual(reader.position(), { unacked: [] }, 'nothing waits for an acknowledgement');
    } finally {
      await reader.close();
      await dropSession(client_id);
    }
  });

  test('a shared subscription splits the messages between two workers, each once', async () => {
    const topic = uniqueName('shared/in');
    const group = uniqueName('group');
    const ids = [uniqueName('worker-a'), uniqueName('worker-b')];
    const readers = await Promise.all(
      ids.map((client_id) => openMqttReader({ topics: [`$share/${group}/${topic}`], client_id, qos: 1 })),
    );
    try {
      await publish(topic, payloads(0, 100));
      const got: Row[][] = [[], []];
      const deadline = Date.now() + 5000;
      while (got[0].length + got[1].length < 100 && Date.now() < deadline) {
        for (let i = 0; i < 2; i++) {
          const batch = await readers[i].read(64, signal);
          got[i].push(...(batch?.records ?? []));
          await readers[i].commit(readers[i].position());
        }
      }
      assert.ok(
        got[0].length > 0 && got[1].length > 0,
        `both workers get some (${got[0].length}, ${got[1].length})`,
      );
      assert.deepEqual(idsOf(got.flat()), range(0, 100), 'each message to one worker');
      assert.equal(
        got[0][0]?._mqtt && (got[0][0]._mqtt as { topic: string }).topic,
        topic,
        'the topic published to',
      );
    } finally {
      for (const r of readers) await r.close();
      for (const id of ids) await dropSession(id);
    }
  });

  test('a restart with more queued messages than its window opens and reads them all', async () => {
    const topic = uniqueName('queued/in');
    const client_id = uniqueName('queued');
    try {
      await (await openMqttReader({ topics: [topic], client_id, qos: 1 })).close();
      await publish(topic, payloads(0, 300));
      // The broker sends the queued messages before the SUBACK; they fill the window at once.
      const reader = await openMqttReader(
        { topics: [topic], client_id, qos: 1, receive_maximum: 20 },
        { early: true },
      );
      try {
        const all: Row[] = [];
        for (let round = 0; all.length < 300 && round < 100; round++) {
          all.push(...(await readAtLeast(reader, 300 - all.length, 200)).records);
          await reader.commit(reader.position());
        }
        assert.deepEqual(idsOf(all), range(0, 300));
      } finally {
        await reader.close();
      }
    } finally {
      await dropSession(client_id);
    }
  });

  test('a topic filter the subscription refuses fails the read with CONFIG_INVALID', async () => {
    const client_id = uniqueName('refused');
    const reader = await openMqttReader({ topics: ['bad/#/filter'], client_id, qos: 1 });
    try {
      await assert.rejects(
        async () => {
          for (let i = 0; i < 20; i++) await reader.read(10, signal);
        },
        (err: Error & { code?: string; path?: string }) =>
          err.code === 'CONFIG_INVALID' && err.path === 'topics' && /bad\/#\/filter|topic/i.test(err.message),
      );
    } finally {
      await reader.close();
      await dropSession(client_id);
    }
  });

  test('a position lists what was read before it was taken, however late it is looked at', async () => {
    const topic = uniqueName('position/in');
    const client_id = uniqueName('position');
    const reader = await openMqttReader({ topics: [topic], client_id, qos: 1 });
    try {
      await publish(topic, payloads(0, 10));
      assert.equal((await readAtLeast(reader, 10)).records.length, 10);
      const first = reader.position();
      await publish(topic, payloads(10, 25));
      assert.equal((await readAtLeast(reader, 15)).records.length, 15);
      // Worked out only now, after 15 more reads: it still lists the first 10 alone.
      assert.equal(first.unacked.length, 10);
      const second = reader.position();
      await reader.commit(first);
      // The commit acknowledged the first 10; the second position, looked at after it, lists the rest.
      assert.equal(second.unacked.length, 15);
      assert.equal(reader.position().unacked.length, 15);
      assert.equal(reader.unacknowledged, 15);
      await reader.commit(second);
      assert.deepEqual(reader.position().unacked, []);
    } finally {
      await reader.close();
      await dropSession(client_id);
    }
  });
});

describe('mqtt source digests', () => {
  test('the one-shot digest is the incremental SHA-1 of topic, a 0 byte and payload that checkpoints hold', () => {
    const packets = [
      { topic: 'a/b', payload: Buffer.from('{"id":1}') },
      { topic: 'sensors/température/ü', payload: Buffer.from([0, 255, 1, 2]) },
      { topic: 'x', payload: '' },
      { topic: 'text/payload', payload: 'plain text payload, é' },
    ];
    for (let round = 0; round < 2; round++)
      for (const p of packets) {
        const expected = createHash('sha1')
          .update(p.topic)
          .update('\0')
          .update(p.payload)
          .digest('base64url')
          .slice(0, 16);
        const packet: IPublishPacket = { ...p, cmd: 'publish', qos: 1, dup: false, retain: false };
        assert.equal(digestOf(packet), expected);
      }
  });
});
