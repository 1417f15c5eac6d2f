/**
 * The `mqtt` source and sink in full jobs against the machine's Mosquitto: mqtt → map → memory
 * with checkpoints, stopped and restarted with messages published in between (each arrives once);
 * a poison message and a record without its event-time field reach the dead letters with the
 * reason; and mqtt → mqtt, the sink publishing to topics from an expression, retained by choice.
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { builtins, Job, parsePipelineYaml, Registry, type Row } from '@sluice/core';
import { memorySinkStore, testing } from '@sluice/core/testing';
import { mqtt } from './index.ts';
import {
  Collector,
  dropSession,
  MQTT_URL,
  mqttAvailable,
  openMqttReader,
  publish,
  uniqueName,
} from './test-support.ts';

const available = await mqttAvailable();
const registry = new Registry([builtins, testing, mqtt]);
const dirs: string[] = [];
const sessions: string[] = [];
/** Jobs a failing test could leave running: stopped before the clean-ups. */
const running: { job: Job; done: Promise<unknown> }[] = [];
after(async () => {
  for (const { job, done } of running) {
    job.stop();
    await done.catch(() => {});
  }
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  for (const id of sessions) await dropSession(id).catch(() => {});
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor(what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

async function start(yaml: string, dir: string): Promise<{ job: Job; done: Promise<unknown> }> {
  const plan = parsePipelineYaml(yaml, join(dir, 'pipeline.yaml'), { registry });
  const job = await Job.create(plan, { registry });
  const entry = { job, done: job.run() };
  running.push(entry);
  return entry;
}

const readings = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => JSON.stringify({ id: from + i, ts: Date.UTC(2026, 0, 1) + i }));

describe('mqtt in a job', { skip: !available }, () => {
  test('a stopped job gets what was published meanwhile; each record once; poison and bad times are dead letters', async () => {
    const base = uniqueName('job');
    const clientId = uniqueName('job-source');
    sessions.push(clientId);
    const store = uniqueName('store');
    const dir = await mkdtemp(join(tmpdir(), 'sluice-mqtt-job-'));
    dirs.push(dir);
    const yaml = `
name: mqtt-job
settings: { checkpoint: { interval: 150ms, dir: ./ckpt } }
sources:
  in:
    type: mqtt
    url: ${MQTT_URL}
    topics: ['${base}/+/readings']
    client_id: ${clientId}
    event_time: { field: ts }
steps:
  - { id: tag, type: map, input: in, fields: { id: id, topic: _mqtt.topic } }
sinks:
  out: { type: memory, store: '${store}', input: tag }
dead_letter: { type: memory, store: '${store}-dead' }
`;
    const out = memorySinkStore(store);
    const dead = memorySinkStore(`${store}-dead`);

    // The session and its subscription exist before anything is published, as for a pipeline
    // that has run before.
    await (await openMqttReader({ topics: [`${base}/+/readings`], client_id: clientId })).close();
    const run1 = await start(yaml, dir);
    await publish(`${base}/d1/readings`, readings(0, 40));
    await publish(`${base}/d2/readings`, ['{"id": 999, broken', JSON.stringify({ id: 998 })]);
    await waitFor(
      'run 1 to commit its records',
      () => out.committed.length === 40 && dead.committed.length === 2,
    );
    run1.job.stop();
    await run1.done;

    // Published while the job is stopped: the broker keeps them in the session.
    await publish(`${base}/d3/readings`, readings(40, 70));
    const run2 = await start(yaml, dir);
    await waitFor('run 2 to commit the new records', () => out.committed.length >= 70);
    await sleep(500);
    run2.job.stop();
    await run2.done;

    const ids = out.committed.map((r: Row) => Number(r.id)).sort((a, b) => a - b);
    assert.deepEqual(
      ids,
      Array.from({ length: 70 }, (_, i) => i),
      'every record once across the restart',
    );
    assert.ok(
      out.committed.every((r: Row) => String(r.topic).startsWith(`${base}/d`)),
      'steps read _mqtt.topic',
    );
    const letters = dead.committed as unknown as { code: string; message: string; payload: unknown }[];
    assert.equal(letters.length, 2);
    const poison = letters.find((l) => l.code === 'DECODE_FAILED');
    assert.ok(poison, 'the malformed payload is a decode failure');
    assert.match(poison.message, new RegExp(`topic '${base}/d2/readings' is not valid JSON`));
    assert.equal(poison.payload, '{"id": 999, broken');
    assert.ok(
      letters.some((l) => l.code === 'EVENT_TIME_INVALID'),
      'a record without its event-time field is a dead letter',
    );
  });

  test('mqtt → mqtt: the sink publishes to the topic its expression gives, retained by choice', async () => {
    const base = uniqueName('relay');
    const clientId = uniqueName('relay-source');
    sessions.push(clientId);
    const dir = await mkdtemp(join(tmpdir(), 'sluice-mqtt-relay-'));
    dirs.push(dir);
    const collector = await Collector.open(`${base}/out/#`);
    try {
      const yaml = `
name: mqtt-relay
settings: { checkpoint: { interval: 150ms, dir: ./ckpt } }
sources:
  in: { type: mqtt, url: ${MQTT_URL}, topics: ['${base}/in'], client_id: ${clientId}, metadata: false }
steps:
  - { id: hot, type: filter, input: in, where: 'temp > 30' }
sinks:
  out:
    type: mqtt
    input: hot
    url: ${MQTT_URL}
    topic_expression: "'${base}/out/' || device"
    retain: true
`;
      await (await openMqttReader({ topics: [`${base}/in`], client_id: clientId })).close();
      const run = await start(yaml, dir);
      await publish(`${base}/in`, [
        JSON.stringify({ device: 'a', temp: 31 }),
        JSON.stringify({ device: 'b', temp: 20 }),
        JSON.stringify({ device: 'c', temp: 40 }),
      ]);
      await waitFor('two alerts', () => collector.messages.length >= 2);
      run.job.stop();
      await run.done;
      const seen = await collector.settled();
      assert.deepEqual(seen.map((m) => [m.topic, JSON.parse(m.payload)]).sort(), [
        [`${base}/out/a`, { device: 'a', temp: 31 }],
        [`${base}/out/c`, { device: 'c', temp: 40 }],
      ]);
      // Retained: a subscriber that comes later still gets the last message of each topic.
      const late = await Collector.open(`${base}/out/#`);
      try {
        const kept = await late.settled();
        assert.deepEqual(kept.map((m) => [m.topic, m.retain]).sort(), [
          [`${base}/out/a`, true],
          [`${base}/out/c`, true],
        ]);
      } finally {
        await late.close();
        // Clear the retained messages (an empty retained payload deletes them).
        await publish(`${base}/out/a`, [''], { qos: 1, retain: true });
        await publish(`${base}/out/c`, [''], { qos: 1, retain: true });
      }
    } finally {
      await collector.close();
    }
  });
});
