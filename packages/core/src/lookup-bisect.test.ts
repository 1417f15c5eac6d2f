import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SluiceError } from './errors.ts';
import { getOrBisectByKey, type LookupKey } from './lookup.ts';

const toError = (err: unknown) => new SluiceError('LOOKUP_FAILED', String((err as Error).message));

test('a batch failing on one key is asked key by key: that key fails alone; other failures are thrown', async () => {
  const calls: number[] = [];
  const get = async (keys: readonly LookupKey[]) => {
    calls.push(keys.length);
    if (keys.some((k) => k[0] === 'bad')) throw new Error('bad key');
    return keys.map((k) => ({ v: k[0] }));
  };
  const byKey = (err: unknown) => (err as Error).message === 'bad key';
  const answers = await getOrBisectByKey([['a'], ['bad'], ['c']], get, byKey, toError);
  assert.deepEqual(calls, [3, 1, 1, 1]);
  assert.deepEqual(answers[0], { v: 'a' });
  assert.ok(answers[1] instanceof SluiceError && /bad key/.test(answers[1].message));
  assert.deepEqual(answers[2], { v: 'c' });
  const down = async () => {
    throw new Error('connection refused');
  };
  await assert.rejects(getOrBisectByKey([['a'], ['b']], down, byKey, toError), /connection refused/);
});
