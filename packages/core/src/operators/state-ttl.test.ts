import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SluiceError } from '../errors.ts';
import { parseTtl, StateTtl } from './state-ttl.ts';

function expired(ttl: StateTtl<string>, now: number): string[] {
  const out: string[] = [];
  ttl.expire(now, (key) => out.push(key));
  return out;
}

describe('StateTtl', () => {
  test('forgets keys last written ttl or more ago, oldest first; a write renews a key', () => {
    const ttl = new StateTtl<string>(10);
    ttl.touch('a', 0);
    ttl.touch('b', 2);
    ttl.touch('c', 4);
    ttl.touch('a', 5);
    ttl.touch('a', 5);
    assert.deepEqual(expired(ttl, 13), ['b']);
    assert.deepEqual(expired(ttl, 14), ['c']);
    assert.deepEqual(expired(ttl, 15), ['a']);
    assert.equal(ttl.size, 0);
  });

  test('a clock that steps back makes keys live longer, never shorter', () => {
    const ttl = new StateTtl<string>(10);
    ttl.touch('a', ttl.now(100));
    ttl.touch('b', ttl.now(50));
    assert.deepEqual(expired(ttl, ttl.now(109)), []);
    assert.deepEqual(expired(ttl, ttl.now(110)), ['a', 'b']);
  });

  test('restore orders saved keys by time and gives keys without one the restore time', () => {
    const ttl = new StateTtl<string>(10);
    ttl.restore(
      new Map([
        ['b', 7],
        ['a', 3],
      ]),
      ['a', 'b', 'new'],
      20,
    );
    assert.deepEqual(expired(ttl, 13), ['a']);
    assert.deepEqual(expired(ttl, 17), ['b']);
    assert.deepEqual(expired(ttl, 29), []);
    assert.deepEqual(expired(ttl, 30), ['new']);
  });

  test('parseTtl takes a positive duration', () => {
    assert.equal(parseTtl(undefined, 's'), undefined);
    assert.equal(parseTtl('1h', 's'), 3_600_000);
    for (const bad of ['0s', 'later', '']) {
      assert.throws(
        () => parseTtl(bad, 's'),
        (err: unknown) => err instanceof SluiceError && err.code === 'CONFIG_INVALID' && err.path === 'ttl',
      );
    }
  });
});
