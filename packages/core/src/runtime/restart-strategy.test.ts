import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SluiceError } from '../errors.ts';
import {
  defaultRestartStrategy,
  isRestartable,
  RestartBackoff,
  type RestartStrategy,
  restartDelay,
  runWithRestarts,
} from './restart-strategy.ts';

const transient = () => new SluiceError('SINK_UNAVAILABLE', 'the server is down');
const quick: RestartStrategy = {
  ...defaultRestartStrategy,
  initialBackoff: 1,
  maxBackoff: 4,
  maxAttempts: 3,
};

test('only transient failures of external systems are restartable', () => {
  assert.equal(isRestartable(transient()), true);
  assert.equal(isRestartable(new SluiceError('SOURCE_UNAVAILABLE', 'x')), true);
  assert.equal(isRestartable(new SluiceError('CONFIG_INVALID', 'x')), false);
  assert.equal(isRestartable(new SluiceError('SINK_REJECTED', 'x')), false);
  assert.equal(
    isRestartable(new SluiceError('JOB_NOT_RUNNING', 'x')),
    false,
    'a user error, though retryable',
  );
  assert.equal(isRestartable(new Error('a bug')), false, 'wrapped as INTERNAL');
});

test("delays grow by the multiplier up to the cap, jitter within ± its fraction (Flink's defaults)", () => {
  const s = defaultRestartStrategy;
  const mid = () => 0.5;
  assert.deepEqual(
    [1, 2, 3, 4].map((n) => restartDelay(s, n, mid)),
    [1000, 1500, 2250, 3375],
  );
  assert.equal(restartDelay(s, 100, mid), 60_000, 'capped at max backoff');
  assert.equal(
    restartDelay(s, 1, () => 0),
    900,
  );
  assert.equal(
    restartDelay(s, 1, () => 0.999_999),
    1100,
  );
});

test('the count of failures in a row resets after a run of resetAfter without failure', () => {
  let now = 0;
  const b = new RestartBackoff({ ...quick, resetAfter: 100 }, () => now);
  for (let i = 0; i < 3; i++) {
    b.started();
    now += 10;
    assert.notEqual(b.failed(transient()), undefined);
  }
  b.started();
  now += 10;
  assert.equal(b.failed(transient()), undefined, 'the fourth failure in a row is final');
  b.started();
  now += 100;
  assert.notEqual(b.failed(transient()), undefined, 'after a long healthy run it starts over');
  assert.equal(b.inRow, 1);
  assert.equal(b.restarts, 4);
});

test('runWithRestarts restarts transient failures and returns the result of the run that succeeds', async () => {
  const seen: number[] = [];
  const out = await runWithRestarts(
    async (attempt) => {
      seen.push(attempt);
      if (attempt < 2) throw transient();
      return 'done';
    },
    quick,
    { onRestart: (n) => seen.push(-n) },
  );
  assert.equal(out, 'done');
  assert.deepEqual(seen, [0, -1, 1, -2, 2]);
});

test('runWithRestarts gives up after maxAttempts in a row, saying so, and fails permanent errors at once', async () => {
  let runs = 0;
  const failing = () =>
    runWithRestarts(async () => {
      runs++;
      throw transient();
    }, quick);
  await assert.rejects(failing(), (err: SluiceError) => {
    assert.equal(err.code, 'SINK_UNAVAILABLE');
    assert.match(err.message, /failed 4 times in a row; giving up after 3 restarts/);
    return true;
  });
  assert.equal(runs, 4);
  runs = 0;
  await assert.rejects(
    runWithRestarts(async () => {
      runs++;
      throw new SluiceError('CONFIG_INVALID', 'bad option');
    }, quick),
    (err: SluiceError) => err.code === 'CONFIG_INVALID' && err.message === 'bad option',
  );
  assert.equal(runs, 1);
});

test('runWithRestarts resolves undefined when stopped while waiting to restart', async () => {
  const stop = new AbortController();
  const out = await runWithRestarts(
    async () => {
      throw transient();
    },
    { ...quick, initialBackoff: 60_000, maxBackoff: 60_000 },
    { signal: stop.signal, onRestart: () => stop.abort() },
  );
  assert.equal(out, undefined);
});
