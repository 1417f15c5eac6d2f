/**
 * A broker outage mid-stream, made with a TCP proxy in front of the machine's Mosquitto (which
 * other sessions share, so it is never stopped): the proxy drops every connection and refuses
 * new ones for a while, then comes back on the same port. The source reconnects with backoff and
 * loses nothing, reading nothing twice that it read before; a sink write started during the outage
 * resolves once the broker has the messages.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Row, silentLogger, systemClock, validateConfig } from '@sluice/core';
import { OutageProxy } from '@sluice/core/testing';
import { mqttSink } from './sink.ts';
import type { MqttSinkConfig } from './sink-config.ts';
import {
  Collector,
  dropSession,
  MQTT_HOST,
  mqttAvailable,
  openMqttReader,
  publish,
  uniqueName,
} from './test-support.ts';

const available = await mqttAvailable();
const signal = new AbortController().signal;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const payloads = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => JSON.stringify({ id: from + i }));
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const idsOf = (records: Row[]) => records.map((r) => Number(r.id)).sort((a, b) => a - b);

describe('mqtt through a broker outage', { skip: !available }, () => {
  test('the source reconnects and loses nothing; what it read before is not read again', async () => {
    const proxy = new OutageProxy(MQTT_HOST);
    await proxy.up();
    const topic = uniqueName('outage/in');
    const client_id = uniqueName('outage');
    const options = { url: `mqtt://${proxy.address}`, topics: [topic], client_id, qos: 1 };
    const reader = await openMqttReader(options);
    try {
      await publish(topic, payloads(0, 20));
      const before: Row[] = [];
      for (let i = 0; i < 100 && before.length < 20; i++)
        before.push(...((await reader.read(64, signal))?.records ?? []));
      assert.deepEqual(idsOf(before), range(0, 20));
      const checkpoint = reader.position();

      await proxy.down();
      await publish(topic, payloads(20, 40));
      await sleep(1500);
      await proxy.up();

      const after: Row[] = [];
      const deadline = Date.now() + 15_000;
      while (after.length < 20 && Date.now() < deadline)
        after.push(...((await reader.read(64, signal))?.records ?? []));
      for (let i = 0; i < 3; i++) after.push(...((await reader.read(64, signal))?.records ?? []));
      assert.deepEqual(idsOf(after), range(20, 40), 'the new messages once; the redelivered ones not again');

      // The checkpoint taken before the outage completes now: its acknowledgements go out on the
      // new connection, and so do the later ones.
      await reader.commit(checkpoint);
      await reader.commit(reader.position());
    } finally {
      await reader.close();
      await proxy.down();
    }
    const fresh = await openMqttReader({ topics: [topic], client_id, qos: 1 });
    try {
      const left: Row[] = [];
      for (let i = 0; i < 4; i++) left.push(...((await fresh.read(64, signal))?.records ?? []));
      assert.deepEqual(left, [], 'everything was acknowledged');
    } finally {
      await fresh.close();
      await dropSession(client_id);
    }
  });

  test('a sink write during an outage resolves once the broker is back and has every message', async () => {
    const proxy = new OutageProxy(MQTT_HOST);
    await proxy.up();
    const topic = uniqueName('outage/out');
    const collector = await Collector.open(topic);
    const checked = validateConfig<MqttSinkConfig>(mqttSink.config, {
      url: `mqtt://${proxy.address}`,
      topic,
      qos: 1,
    });
    if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
    const sink = mqttSink.create(checked.value);
    await sink.open({
      id: 'out',
      restored: undefined,
      clock: systemClock,
      baseDir: process.cwd(),
      signal,
      log: silentLogger,
    });
    try {
      await proxy.down();
      const records = range(0, 10).map((id) => ({ id }));
      let resolved = false;
      const writing = sink.write({ records, times: records.map(() => 0) }).then((r) => {
        resolved = true;
        return r;
      });
      await sleep(1000);
      assert.equal(resolved, false, 'the write waits for the broker');
      await proxy.up();
      assert.equal(await writing, undefined, 'nothing refused');
      const seen = await collector.settled();
      const ids = new Set(seen.map((m) => (JSON.parse(m.payload) as { id: number }).id));
      assert.deepEqual(
        [...ids].sort((a, b) => a - b),
        range(0, 10),
        'every message arrived (at least once)',
      );
      await sink.close();
    } finally {
      await sink.abort?.();
      await collector.close();
      await proxy.down();
    }
  });

  test('a sink write the broker does not acknowledge within ack_timeout fails at once, not retried', async () => {
    const proxy = new OutageProxy(MQTT_HOST);
    await proxy.up();
    const topic = uniqueName('outage/timeout');
    const checked = validateConfig<MqttSinkConfig>(mqttSink.config, {
      url: `mqtt://${proxy.address}`,
      topic,
      ack_timeout: '400ms',
    });
    if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
    const sink = mqttSink.create(checked.value);
    await sink.open({
      id: 'out',
      restored: undefined,
      clock: systemClock,
      baseDir: process.cwd(),
      signal,
      log: silentLogger,
    });
    try {
      await proxy.down();
      const started = Date.now();
      await assert.rejects(
        sink.write({ records: [{ id: 1 }], times: [0] }),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, 'SINK_UNAVAILABLE');
          assert.match(err.message, /did not acknowledge 1 message\(s\) within 400ms/);
          return true;
        },
      );
      assert.ok(Date.now() - started < 3000, 'no retries after the timeout');
    } finally {
      await sink.abort?.();
      await proxy.down();
    }
  });
});
