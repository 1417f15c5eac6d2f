/**
 * The `redis` lookup against the machine's Redis: hashes and JSON strings by single and
 * composite keys, misses, a key holding another type, config checks, and an outage.
 */

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { type Lookup, SluiceError, silentLogger, systemClock, validateConfig } from '@sluice/core';
import { OutageProxy } from '@sluice/core/testing';
import { type RedisLookupConfig, redisLookup } from './lookup.ts';
import {
  dropKeys,
  REDIS_HOST,
  REDIS_URL,
  REPO_ROOT,
  redisAvailable,
  type TestClient,
  testClient,
  uniqueName,
} from './test-support.ts';

const available = await redisAvailable();
const client: TestClient | undefined = available ? await testClient() : undefined;
const prefix = uniqueName('lookup');
const opened: Lookup[] = [];
after(async () => {
  for (const l of opened) await l.close?.();
  if (client === undefined) return;
  await dropKeys(client, prefix);
  await client.close();
});

function lookupOf(options: { [option: string]: unknown }): Lookup {
  const cfg = validateConfig<RedisLookupConfig>(redisLookup.config, { url: REDIS_URL, ...options });
  if (!cfg.ok) throw new Error(JSON.stringify(cfg.issues));
  const lookup = redisLookup.create(cfg.value, { keyLength: 1 });
  opened.push(lookup);
  return lookup;
}

async function open(options: { [option: string]: unknown }): Promise<Lookup> {
  const lookup = lookupOf(options);
  await lookup.open?.({
    id: 'enrich',
    clock: systemClock,
    baseDir: REPO_ROOT,
    log: silentLogger,
    signal: new AbortController().signal,
  });
  return lookup;
}

const signal = new AbortController().signal;

describe('redis lookup', { skip: !available }, () => {
  test('hash: every field or the listed ones, by single and composite keys; an absent hash is a miss', async () => {
    const r = client as TestClient;
    await r.hSet(`${prefix}:c:1`, { name: 'Ada', tier: 'gold' });
    await r.hSet(`${prefix}:c:2`, { name: 'Bo' });
    await r.hSet(`${prefix}:p:eu|7`, { price: '9.5' });
    const all = await open({ prefix: `${prefix}:c:` });
    const answers = await all.get([[2], [9], [1]], signal);
    assert.deepEqual(
      answers.map((a) => (a === null ? a : { ...a })),
      [{ name: 'Bo' }, null, { name: 'Ada', tier: 'gold' }],
    );
    const some = await open({ prefix: `${prefix}:c:`, fields: ['tier', 'nick'] });
    assert.deepEqual(await some.get([[1], [2], [3]], signal), [{ tier: 'gold', nick: null }, null, null]);
    const composite = await open({ prefix: `${prefix}:p:`, separator: '|' });
    assert.deepEqual(
      await composite.get(
        [
          ['eu', 7],
          ['us', 7],
        ],
        signal,
      ),
      [{ price: '9.5' }, null],
    );
  });

  test('string: JSON objects, or the text as one field; a value that is not a JSON object fails that key alone', async () => {
    const r = client as TestClient;
    await r.set(`${prefix}:s:1`, JSON.stringify({ name: 'Ada', score: 3, tags: ['x'] }));
    await r.set(`${prefix}:s:2`, 'not json');
    await r.set(`${prefix}:s:3`, '[1,2]');
    const json = await open({ mode: 'string', prefix: `${prefix}:s:` });
    const answers = await json.get([[1], [2], [3], [4]], signal);
    assert.deepEqual(answers[0], { name: 'Ada', score: 3, tags: ['x'] });
    assert.ok(answers[1] instanceof SluiceError);
    assert.equal(answers[1].code, 'LOOKUP_FAILED');
    assert.match(answers[1].message, /key '.*:s:2': its value is not JSON/);
    assert.ok(answers[2] instanceof SluiceError);
    assert.match(answers[2].message, /JSON but not an object/);
    assert.equal(answers[3], null);
    const text = await open({ mode: 'string', prefix: `${prefix}:s:`, value_field: 'raw' });
    assert.deepEqual(await text.get([[2], [5]], signal), [{ raw: 'not json' }, null]);
  });

  test('a hash key holding another type fails that key alone with Redis’s reason', async () => {
    const r = client as TestClient;
    await r.set(`${prefix}:w:1`, 'a string');
    await r.hSet(`${prefix}:w:2`, { ok: 'yes' });
    const lookup = await open({ prefix: `${prefix}:w:` });
    const [first, second] = await lookup.get([[1], [2]], signal);
    assert.ok(first instanceof SluiceError);
    assert.equal(first.code, 'LOOKUP_FAILED');
    assert.match(first.message, /WRONGTYPE/);
    assert.deepEqual({ ...second }, { ok: 'yes' });
  });

  test('an outage fails the call with LOOKUP_UNAVAILABLE (the step retries it); the lookup answers again once Redis is back', async () => {
    const r = client as TestClient;
    await r.hSet(`${prefix}:o:1`, { v: '1' });
    const proxy = new OutageProxy(REDIS_HOST);
    await proxy.up();
    try {
      const lookup = await open({ url: `redis://${proxy.address}`, prefix: `${prefix}:o:` });
      assert.deepEqual({ ...(await lookup.get([[1]], signal))[0] }, { v: '1' });
      await proxy.down();
      await assert.rejects(lookup.get([[1]], signal), (err: unknown) => {
        assert.ok(err instanceof SluiceError);
        assert.equal(err.code, 'LOOKUP_UNAVAILABLE');
        assert.equal(err.retryable, true);
        return true;
      });
      await proxy.up();
      let answer: unknown;
      for (let i = 0; i < 50 && answer === undefined; i++) {
        try {
          answer = (await lookup.get([[1]], signal))[0];
        } catch {
          await new Promise((res) => setTimeout(res, 100));
        }
      }
      assert.deepEqual({ ...(answer as object) }, { v: '1' });
    } finally {
      await proxy.down();
    }
  });

  test('options of the other mode are refused when the lookup is created', () => {
    assert.throws(() => lookupOf({ mode: 'string', fields: ['a'] }), /`fields` is for `mode: hash`/);
    assert.throws(() => lookupOf({ mode: 'hash', value_field: 'a' }), /`value_field` is for `mode: string`/);
  });
});
