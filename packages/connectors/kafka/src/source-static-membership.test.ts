/**
 * Static group membership (KIP-345) of the `kafka` source: the default `group_instance_id`, a
 * worker restarted after SIGKILL taking its partitions back without a rebalance, a clean stop
 * leaving the group, and two processes sharing an instance id (the broker fences one, which stops
 * with a clear error instead of fencing the other back).
 */

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { Admin } from '@platformatic/kafka';
import { SluiceError, validateConfig } from '@sluice/core';
import {
  defaultGroupInstanceId,
  type KafkaSourceConfig,
  kafkaSourceConfig,
  sourceSettings,
} from './source-config.ts';
import {
  type CapturingLogger,
  capturingLogger,
  KAFKA_BROKER,
  kafkaAvailable,
  openKafkaReader,
  produce,
  readUntil,
  Topics,
  uniqueName,
} from './test-support.ts';

const available = await kafkaAvailable();
const topics = new Topics();
after(() => topics.cleanup());

function config(options: { [k: string]: unknown }): KafkaSourceConfig {
  const result = validateConfig<KafkaSourceConfig>(kafkaSourceConfig, {
    brokers: [KAFKA_BROKER],
    topics: ['t'],
    group_id: 'g',
    ...options,
  });
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.value;
}

describe('group_instance_id', () => {
  const where = { id: 'orders', pipeline: 'shop', baseDir: '/srv/shop', host: 'worker-1.example' };

  test('by default: pipeline, source, host and folder — stable, and distinct per worker', () => {
    const id = defaultGroupInstanceId(where);
    assert.match(id, /^sluice-shop-orders-worker-1\.example-[0-9a-f]{8}$/);
    assert.equal(defaultGroupInstanceId({ ...where }), id, 'the same worker restarted');
    for (const other of [
      { host: 'worker-2.example' },
      { baseDir: '/srv/shop-2' },
      { pipeline: 'shop-eu' },
      { id: 'refunds' },
    ]) {
      assert.notEqual(defaultGroupInstanceId({ ...where, ...other }), id, JSON.stringify(other));
    }
    assert.equal(sourceSettings(config({}), where).groupInstanceId, id);
  });

  test('only characters Kafka accepts, at most 249 of them', () => {
    const id = defaultGroupInstanceId({ ...where, pipeline: 'p'.repeat(300), host: 'höst name' });
    assert.match(id, /^[A-Za-z0-9._-]{249}$/);
    assert.match(id, /-h_st_name-[0-9a-f]{8}$/);
    assert.match(defaultGroupInstanceId({ ...where, pipeline: undefined }), /^sluice-orders-worker-1/);
  });

  test('an explicit id is used as given; a dynamic member has none', () => {
    assert.equal(sourceSettings(config({ group_instance_id: 'w-7' }), where).groupInstanceId, 'w-7');
    assert.equal(sourceSettings(config({ static_membership: false }), where).groupInstanceId, undefined);
    assert.throws(
      () => sourceSettings(config({ static_membership: false, group_instance_id: 'w-7' }), where),
      (err: unknown) => err instanceof SluiceError && err.path === 'group_instance_id',
    );
    const bad = validateConfig(kafkaSourceConfig, {
      brokers: [KAFKA_BROKER],
      topics: ['t'],
      group_id: 'g',
      group_instance_id: 'has space',
    });
    assert.equal(bad.ok, false);
  });
});

/** The group generation of the last `partitions assigned` line a reader logged. */
function generation(log: CapturingLogger): number | undefined {
  const line = log.lines.filter((l) => l.message === 'kafka source: partitions assigned').at(-1);
  return line?.fields?.generation as number | undefined;
}

async function membersOf(group: string): Promise<(string | null | undefined)[]> {
  const admin = new Admin({ clientId: 'sluice-test-admin', bootstrapBrokers: [KAFKA_BROKER] });
  try {
    const groups = await admin.describeGroups({ groups: [group] });
    return [...(groups.get(group)?.members.values() ?? [])].map((m) => m.groupInstanceId).sort();
  } finally {
    await admin.close();
  }
}

/** Records `{ n }` for n in [from, to), over 3 partitions. */
function numbered(from: number, to: number) {
  const out = [];
  for (let n = from; n < to; n++) out.push({ partition: n % 3, value: JSON.stringify({ n }) });
  return out;
}

/**
 * A reader in another process, to be killed with SIGKILL: it joins, reads `records` records, then
 * prints its group generation and waits.
 */
function childReader(options: { [k: string]: unknown }, records: number) {
  const code = `
    import { capturingLogger, openKafkaReader, readUntil } from '@sluice/kafka/testing';
    const log = capturingLogger();
    const reader = await openKafkaReader(${JSON.stringify(options)}, { log });
    await readUntil(reader, (c) => c.records.length >= ${records}, 60_000);
    const line = log.lines.filter((l) => l.message === 'kafka source: partitions assigned').at(-1);
    process.stdout.write(JSON.stringify({ generation: line.fields.generation }) + '\\n');
    setInterval(() => {}, 1_000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
    cwd: import.meta.dirname,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  const ready = new Promise<{ generation: number }>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      if (out.includes('\n')) resolve(JSON.parse(out.slice(0, out.indexOf('\n'))));
    });
    child.once('exit', (code) => reject(new Error(`the child reader exited (${code}):\n${stderr}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    ready,
    async kill() {
      clearTimeout(killer);
      child.kill('SIGKILL');
      await exited;
    },
  };
}

describe('kafka source: static membership (real broker)', { skip: !available }, () => {
  test('a worker restarted after SIGKILL takes its partitions back without a rebalance', async () => {
    const topic = await topics.create('static-restart', 3);
    await produce(topic, numbered(0, 300));
    // A long session: a dynamic member would wait for the killed one to expire, then rebalance.
    const options = {
      brokers: [KAFKA_BROKER],
      topics: [topic],
      group_id: uniqueName('static-g'),
      group_instance_id: 'worker-1',
      session_timeout: '45s',
      heartbeat_interval: '500ms',
    };
    const child = childReader(options, 300);
    let before: number;
    try {
      before = (await child.ready).generation;
    } finally {
      await child.kill();
    }
    await produce(topic, numbered(300, 600));
    const log = capturingLogger();
    const reader = await openKafkaReader(options, { log });
    try {
      const got = await readUntil(reader, (c) => c.records.length > 0, 60_000);
      assert.ok(got.records.length > 0);
      assert.equal(generation(log), before, 'the same generation: the group did not rebalance');
      const assigned = log.lines.find((l) => l.message === 'kafka source: partitions assigned');
      assert.equal((assigned?.fields?.assigned as string[] | undefined)?.length, 3, 'every partition back');
      assert.equal(assigned?.fields?.group_instance_id, 'worker-1');
    } finally {
      await reader.close();
    }
  });

  test('a clean stop leaves the group: the other worker gets the partitions', async () => {
    const topic = await topics.create('static-leave', 3);
    await produce(topic, numbered(0, 30));
    const group = uniqueName('static-g');
    const base = { topics: [topic], group_id: group, session_timeout: '45s', heartbeat_interval: '200ms' };
    const a = await openKafkaReader({ ...base, group_instance_id: 'a' });
    const b = await openKafkaReader({ ...base, group_instance_id: 'b' });
    const signal = new AbortController().signal;
    try {
      await readUntil(a, (c) => c.records.length >= 30);
      await b.read(10, signal); // resolves once b is in the group
      assert.deepEqual(await membersOf(group), ['a', 'b']);
      await b.close();
      assert.deepEqual(await membersOf(group), ['a'], 'b left the group when it closed');
      // A gets b's partitions long before b's 45 s session could have expired.
      const deadline = Date.now() + 20_000;
      while (Object.keys(a.position() as object).length < 3) {
        if (Date.now() > deadline) throw new Error('a did not get every partition back');
        await a.read(100, signal);
      }
    } finally {
      await b.close();
      await a.close();
    }
  });

  test('two running readers with one group_instance_id: the older stops with CONFIG_INVALID', async () => {
    const topic = await topics.create('static-fenced', 3);
    await produce(topic, numbered(0, 30));
    const options = {
      topics: [topic],
      group_id: uniqueName('static-g'),
      group_instance_id: 'shared',
      heartbeat_interval: '200ms',
    };
    const older = await openKafkaReader(options, { id: 'older' });
    const newerLog = capturingLogger();
    const newer = await openKafkaReader(options, { id: 'newer', log: newerLog });
    const signal = new AbortController().signal;
    try {
      await readUntil(older, (c) => c.records.length >= 30);
      await readUntil(newer, (c) => c.records.length >= 30);
      const deadline = Date.now() + 20_000;
      let failure: unknown;
      while (failure === undefined) {
        if (Date.now() > deadline) throw new Error('the older reader was not fenced');
        try {
          await older.read(100, signal);
        } catch (err) {
          failure = err;
        }
      }
      assert.ok(failure instanceof SluiceError, String(failure));
      assert.equal(failure.code, 'CONFIG_INVALID');
      assert.equal(failure.path, 'group_instance_id');
      assert.match(failure.message, /group_instance_id 'shared'.*fenced.*give each its own/);
      // The older one does not take the id back: the newer keeps reading as the one member.
      await produce(topic, numbered(30, 60));
      const more = await readUntil(newer, (c) => c.records.length >= 30, 20_000);
      assert.equal(more.records.length, 30);
      assert.deepEqual(await membersOf(options.group_id), ['shared']);
      assert.equal(
        newerLog.lines.filter((l) => l.message === 'kafka source: partitions assigned').length,
        1,
        'the newer reader joined once and was never fenced back',
      );
    } finally {
      await older.close();
      await newer.close();
    }
  });
});
