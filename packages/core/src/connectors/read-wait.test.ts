import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReadWait } from './read-wait.ts';

test('a wait ends at the wake-up, at the abort, or after its idle time, whichever is first', async () => {
  const wait = new ReadWait(10_000);
  let t0 = Date.now();
  const woken = wait.until(new AbortController().signal);
  setTimeout(() => wait.wake(), 20);
  await woken;
  assert.ok(Date.now() - t0 < 5_000, 'woken');

  const stop = new AbortController();
  t0 = Date.now();
  const aborted = wait.until(stop.signal);
  setTimeout(() => stop.abort(), 20);
  await aborted;
  assert.ok(Date.now() - t0 < 5_000, 'aborted');

  const short = new ReadWait(30);
  t0 = Date.now();
  await short.until(undefined);
  assert.ok(Date.now() - t0 >= 25, 'idle time');
  // A wake-up with nobody waiting is not kept for the next wait.
  short.wake();
  t0 = Date.now();
  await short.until(undefined);
  assert.ok(Date.now() - t0 >= 25, 'not woken by an earlier wake-up');
});
