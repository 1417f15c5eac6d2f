/**
 * The `nats` KV lookup against the machine's NATS server: rows by single and composite keys,
 * misses (absent and deleted entries), a value that is no JSON object failing its key alone, a
 * missing bucket at open, and a YAML pipeline whose `lookup` step reads the bucket.
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Kvm } from '@nats-io/kv';
import {
  builtins,
  Job,
  type Lookup,
  parsePipelineYaml,
  Registry,
  SluiceError,
  silentLogger,
  systemClock,
  validateConfig,
} from '@sluice/core';
import { memorySinkStore, OutageProxy, testing } from '@sluice/core/testing';
import { nats } from './index.ts';
import { kvKey, type NatsLookupConfig, natsLookup } from './lookup.ts';
import { NATS_HOST, NATS_URL, natsAvailable, uniqueName, withNats } from './test-support.ts';

const available = await natsAvailable();
const buckets: string[] = [];
const opened: Lookup[] = [];
const dirs: string[] = [];
const signal = new AbortController().signal;

/** A fresh bucket holding `entries` (then `deleted` deleted). */
async function bucketWith(entries: { [key: string]: string }, deleted: string[] = []): Promise<string> {
  const bucket = uniqueName('lookup');
  buckets.push(bucket);
  await withNats(async (nc) => {
    const kv = await new Kvm(nc).create(bucket, { storage: 'memory' });
    for (const [k, v] of Object.entries(entries)) await kv.put(k, v);
    for (const k of deleted) await kv.delete(k);
  });
  return bucket;
}

async function open(options: { [option: string]: unknown }): Promise<Lookup> {
  const cfg = validateConfig<NatsLookupConfig>(natsLookup.config, { servers: [NATS_URL], ...options });
  if (!cfg.ok) throw new Error(JSON.stringify(cfg.issues));
  const lookup = natsLookup.create(cfg.value, { keyLength: 1 });
  opened.push(lookup);
  await lookup.open?.({
    id: 'enrich',
    clock: systemClock,
    baseDir: process.cwd(),
    log: silentLogger,
    signal,
  });
  return lookup;
}

test('a lookup key becomes the prefix and its values joined by dots, or a reason it cannot', () => {
  assert.equal(kvKey('customer.', ['c1']), 'customer.c1');
  assert.equal(kvKey('', ['eu', 42]), 'eu.42');
  assert.equal(kvKey('', [42n, true]), '42.true');
  assert.deepEqual(kvKey('', [{ a: 1 }]), { problem: 'a key value of type object is no KV key' });
  assert.deepEqual(kvKey('', [new Date(0)]), { problem: 'a key value of type timestamp is no KV key' });
  assert.match((kvKey('', ['a b']) as { problem: string }).problem, /'a b' is no valid KV key/);
  assert.match((kvKey('x.', ['']) as { problem: string }).problem, /'x.' is no valid KV key/);
  assert.match((kvKey('', ['a', '', 'b']) as { problem: string }).problem, /'a..b' is no valid KV key/);
});

describe('nats KV lookup', { skip: !available }, () => {
  after(async () => {
    for (const l of opened) await l.close?.();
    await withNats(async (nc) => {
      const kvm = new Kvm(nc);
      for (const b of buckets) await (await kvm.open(b)).destroy().catch(() => false);
    });
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  test('one call answers a batch of keys: rows, misses, deleted entries, composite keys', async () => {
    const bucket = await bucketWith(
      {
        'c.1': '{"name":"Ada","tier":"gold"}',
        'c.2': '{"name":"Bo"}',
        'c.eu.7': '{"name":"Cy"}',
        'c.3': '{"name":"gone"}',
      },
      ['c.3'],
    );
    const lookup = await open({ bucket, key_prefix: 'c.' });
    assert.deepEqual(await lookup.get([[2], [9], [1], ['3'], ['eu', 7]], signal), [
      { name: 'Bo' },
      null,
      { name: 'Ada', tier: 'gold' },
      null,
      { name: 'Cy' },
    ]);
    const text = await open({ bucket, key_prefix: 'c.', format: 'text' });
    assert.deepEqual(await text.get([[2]], signal), [{ value: '{"name":"Bo"}' }]);
  });

  test('a value that is no JSON object, or a key that is no KV key, fails that key alone', async () => {
    const bucket = await bucketWith({ a: '[1,2]', b: 'not json', c: '{"ok":true}' });
    const lookup = await open({ bucket });
    const answers = await lookup.get([['a'], ['b'], ['c'], ['has space']], signal);
    assert.ok(answers[0] instanceof SluiceError && answers[0].code === 'LOOKUP_FAILED');
    assert.match((answers[0] as SluiceError).message, /the value of 'a' is JSON but not an object/);
    assert.match((answers[1] as SluiceError).message, /the value of 'b' is not valid JSON/);
    assert.deepEqual(answers[2], { ok: true });
    assert.match((answers[3] as SluiceError).message, /'has space' is no valid KV key/);
  });

  test('a bucket that does not exist fails at open with CONFIG_INVALID', async () => {
    await assert.rejects(open({ bucket: uniqueName('nobucket') }), (err: SluiceError) => {
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.equal(err.path, 'bucket');
      return true;
    });
  });

  test('while the server cannot be reached a call fails as LOOKUP_UNAVAILABLE (retried by the step); then it answers again', async () => {
    const bucket = await bucketWith({ k: '{"v":1}' });
    const proxy = new OutageProxy(NATS_HOST);
    await proxy.up();
    try {
      const lookup = await open({ servers: [`nats://${proxy.address}`], bucket });
      assert.deepEqual(await lookup.get([['k']], signal), [{ v: 1 }]);
      await proxy.down();
      await assert.rejects(lookup.get([['k']], signal), (err: SluiceError) => {
        assert.equal(err.code, 'LOOKUP_UNAVAILABLE');
        return true;
      });
      await proxy.up();
      const deadline = Date.now() + 45_000;
      let answer: unknown;
      while (answer === undefined && Date.now() < deadline) {
        answer = await lookup.get([['k']], signal).then(
          (a) => a[0],
          () => undefined,
        );
      }
      assert.deepEqual(answer, { v: 1 });
    } finally {
      await proxy.down();
    }
  });

  test('a YAML pipeline enriches records with a lookup step on the bucket; misses dropped, bad values dead letters', async () => {
    const customers: { [key: string]: string } = {};
    for (let i = 0; i < 10; i++)
      customers[`customer.c${i}`] = JSON.stringify({ region: ['eu', 'us'][i % 2] });
    customers['customer.c10'] = 'oops';
    const bucket = await bucketWith(customers);
    const orders = Array.from({ length: 300 }, (_v, i) => ({ id: i, customer: `c${i % 12}`, amount: i % 7 }));
    const dir = await mkdtemp(join(tmpdir(), 'sluice-nats-lookup-'));
    dirs.push(dir);
    await writeFile(join(dir, 'orders.jsonl'), `${orders.map((o) => JSON.stringify(o)).join('\n')}\n`);
    const store = uniqueName('lookup-out');
    const yaml = `
name: ${uniqueName('nats-lookup')}
settings:
  batch_size: 32
  checkpoint: { interval: 0s, dir: ./checkpoints }
sources:
  orders: { type: file, path: ./orders.jsonl }
steps:
  - id: enrich
    type: lookup
    input: orders
    table: { type: nats, servers: ["${NATS_URL}"], bucket: ${bucket}, key_prefix: "customer." }
    key: customer
    as: c
    on_miss: drop
  - { id: shaped, type: map, input: enrich, fields: { id: id, region: c.region, amount: amount } }
sinks:
  out: { type: memory, input: shaped, store: ${store} }
dead_letter: { type: memory, store: ${store}-dead }
`;
    const registry = new Registry([builtins, testing, nats]);
    const plan = parsePipelineYaml(yaml, join(dir, 'pipeline.yaml'), { registry });
    const job = await Job.create(plan, { registry });
    const result = await job.run();
    assert.equal(result.status, 'completed');
    const expected = orders
      .filter((o) => Number(o.customer.slice(1)) < 10)
      .map((o) => ({ id: o.id, region: ['eu', 'us'][Number(o.customer.slice(1)) % 2], amount: o.amount }));
    const got = memorySinkStore(store)
      .records.map(({ id, region, amount }) => ({ id, region, amount }))
      .sort((a, b) => Number(a.id) - Number(b.id));
    assert.deepEqual(got, expected);
    const dead = memorySinkStore(`${store}-dead`).records;
    assert.equal(dead.length, orders.filter((o) => o.customer === 'c10').length);
    for (const d of dead) {
      assert.equal(d.step, 'enrich');
      assert.match(String(d.message), /the value of 'customer.c10' is not valid JSON/);
    }
  });
});
