import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SluiceError } from '../errors.ts';
import {
  backoffDelay,
  MAX_REQUESTED_DELAY_MS,
  type RetryPolicy,
  requestedDelay,
  retry,
  sleep,
} from './backoff.ts';
import { HttpFailure, retryAfterOf } from './http-client.ts';

const policy = (overrides: Partial<RetryPolicy> = {}): RetryPolicy => ({
  maxAttempts: 4,
  initialBackoff: 1,
  maxBackoff: 5,
  ...overrides,
});

const transient = () => new SluiceError('SINK_UNAVAILABLE', 'down');

describe('backoffDelay', () => {
  it('doubles a ceiling from initial, capped at max, scaled by the random draw', () => {
    const top = () => 0.999999;
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 60].map((a) => backoffDelay(a, 200, 1000, top)),
      [199, 399, 799, 999, 999, 999, 999],
    );
    assert.equal(
      backoffDelay(3, 200, 1000, () => 0),
      0,
    );
    assert.equal(
      backoffDelay(3, 200, 1000, () => 0.5),
      400,
    );
    for (let i = 0; i < 100; i++) {
      const d = backoffDelay(4, 100, 10_000);
      assert.ok(d >= 0 && d < 800);
    }
  });
});

describe('retry', () => {
  it('retries retryable failures until one attempt succeeds', async () => {
    const attempts: number[] = [];
    const result = await retry(async (attempt) => {
      attempts.push(attempt);
      if (attempt < 3) throw transient();
      return 'ok';
    }, policy());
    assert.equal(result, 'ok');
    assert.deepEqual(attempts, [1, 2, 3]);
  });

  it('rethrows the last failure after maxAttempts, and non-retryable ones at once', async () => {
    let calls = 0;
    await assert.rejects(
      retry(async () => {
        calls++;
        throw transient();
      }, policy()),
      /down/,
    );
    assert.equal(calls, 4);
    calls = 0;
    await assert.rejects(
      retry(async () => {
        calls++;
        throw new SluiceError('SINK_REJECTED', 'bad');
      }, policy()),
      /bad/,
    );
    await assert.rejects(
      retry(async () => {
        calls++;
        throw new TypeError('bug');
      }, policy()),
      TypeError,
    );
    assert.equal(calls, 2);
  });

  it('waits at least what retryAfter asks and reports each retry', async () => {
    const waits: number[] = [];
    const started = performance.now();
    await retry(
      async (attempt) => {
        if (attempt === 1) throw transient();
      },
      policy({ retryAfter: () => 120, onRetry: (_err, _attempt, delay) => waits.push(delay) }),
    );
    assert.deepEqual(waits, [120]);
    assert.ok(performance.now() - started >= 115);
  });

  it('stops waiting and rejects with the reason when the signal aborts', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stopped')), 20);
    const started = performance.now();
    await assert.rejects(
      retry(
        async () => {
          throw transient();
        },
        policy({ initialBackoff: 60_000, maxBackoff: 60_000, random: () => 1 }),
        controller.signal,
      ),
      /stopped/,
    );
    assert.ok(performance.now() - started < 1000);
    assert.equal(await sleep(10_000, controller.signal), false);
    assert.equal(await sleep(1), true);
  });
});

describe('requestedDelay', () => {
  const asking = (header: string) =>
    new SluiceError('SOURCE_UNAVAILABLE', 'busy', {
      cause: new HttpFailure(503, 'busy', retryAfterOf(header, Date.parse('2026-01-01T00:00:00Z'))),
    });

  it('is what Retry-After asks, in seconds or as a date', () => {
    assert.equal(requestedDelay(asking('7')), 7000);
    assert.equal(requestedDelay(asking('Thu, 01 Jan 2026 00:01:00 GMT')), 60_000);
    assert.equal(requestedDelay(new Error('no response behind it')), undefined);
  });

  it('is capped: a server asking for a year does not park the pipeline', () => {
    assert.equal(requestedDelay(asking(String(365 * 24 * 3600))), MAX_REQUESTED_DELAY_MS);
    assert.equal(requestedDelay(asking('Fri, 01 Jan 2027 00:00:00 GMT')), MAX_REQUESTED_DELAY_MS);
  });
});
