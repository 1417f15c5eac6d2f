/**
 * `map_async` (TypeScript API: `mapAsync`): each record is what an asynchronous function
 * resolves to — an enrichment over the network, a model scored elsewhere — run through the
 * asynchronous boundary (`async-stage.ts`): at most `concurrency` calls at once, at most
 * `capacity` batches in flight, results in input order unless `ordered: false`, each call bounded
 * by `timeout` and retried with capped backoff when its error is transient.
 */

import Type from 'typebox';
import { SluiceError } from '../errors.ts';
import type { Batch, Row } from '../record.ts';
import { defineStep, PER_RECORD_CHANGELOG } from '../spec.ts';
import { parseDuration } from '../time.ts';
import { type AsyncOutcome, AsyncStage } from './async-stage.ts';
import { stepFunction, userError } from './step-function.ts';

/** The function: the new record, or null/undefined to drop the record (counted as filtered). */
export type AsyncMapFunction = (record: Row, signal: AbortSignal) => Promise<Row | null | undefined>;

const config = Type.Object(
  {
    concurrency: Type.Integer({
      minimum: 1,
      default: 32,
      description: 'Most calls of the function running at once, over all batches in flight.',
    }),
    capacity: Type.Integer({
      minimum: 1,
      default: 4,
      description:
        'Most batches in flight; while this many are, the sources wait (backpressure). Checkpoints and the end of input wait for them to finish.',
    }),
    ordered: Type.Boolean({
      default: true,
      description:
        'Emit results in input order (a function of the input, like any other step), or as each batch finishes (lower latency; the order, and what event-time steps after it decide, then depend on timing).',
    }),
    timeout: Type.String({
      default: '30s',
      description: 'A call that has not settled after this long fails with ASYNC_TIMEOUT (and is retried).',
    }),
    retries: Type.Integer({
      minimum: 0,
      default: 2,
      description:
        'Further attempts for a call that timed out or threw a transient error (a SluiceError whose code is retryable), after 100 ms, 200 ms, … (at most 5 s); then the record goes to the dead letters. Other errors go there at once.',
    }),
  },
  { additionalProperties: false },
);

/** Counts calls running and lets the next caller in when one ends. */
class Limiter {
  #running = 0;
  readonly #queue: (() => void)[] = [];
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  async run<T>(f: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#limit) await new Promise<void>((r) => this.#queue.push(r));
    this.#running++;
    try {
      return await f();
    } finally {
      this.#running--;
      this.#queue.shift()?.();
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** One call, failing with ASYNC_TIMEOUT after `timeout` ms (the call's signal is then aborted). */
async function callWithTimeout(
  fn: AsyncMapFunction,
  record: Row,
  timeout: number,
  signal: AbortSignal,
): Promise<Row | null | undefined> {
  const call = new AbortController();
  const onAbort = () => call.abort();
  signal.addEventListener('abort', onAbort);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      fn(record, call.signal),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          call.abort();
          reject(new SluiceError('ASYNC_TIMEOUT', `the call did not finish within ${timeout} ms`));
        }, timeout);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}

export const mapAsyncStep = defineStep({
  type: 'map_async',
  changelog: () => PER_RECORD_CHANGELOG,
  summary: 'Transforms each record with an asynchronous TypeScript function (TypeScript API only).',
  description:
    'The function gets the record and an AbortSignal (aborted on timeout or when the job stops) and resolves to the new record, or to null/undefined to drop it (counted as filtered). A call that throws goes to the dead letters with the error (USER_FUNCTION_FAILED); one that times out or throws a transient SluiceError is retried `retries` times first. Each output record keeps its input’s event time and key. Steps after it never see a record late for having been slow: their watermark waits for the batches in flight.',
  config,
  create(cfg, step) {
    const fn = stepFunction<AsyncMapFunction>(step);
    const timeout = parseDuration(cfg.timeout, 'timeout');
    const limiter = new Limiter(cfg.concurrency);
    const attempt = async (record: Row, signal: AbortSignal): Promise<Row | null | undefined> => {
      for (let tried = 0; ; tried++) {
        try {
          return await limiter.run(() => callWithTimeout(fn, record, timeout, signal));
        } catch (err) {
          const transient = err instanceof SluiceError && err.retryable;
          if (!transient || tried >= cfg.retries || signal.aborted) throw err;
          await sleep(Math.min(5_000, 100 * 2 ** tried), signal);
        }
      }
    };
    const work = async (batch: Batch, signal: AbortSignal): Promise<AsyncOutcome> => {
      const settled = await Promise.allSettled(batch.records.map((r) => attempt(r, signal)));
      const out: Batch = { records: [], times: [] };
      if (batch.kinds) out.kinds = [];
      if (batch.keys) out.keys = [];
      if (batch.watermarks) out.watermarks = [];
      const failed: { index: number; error: SluiceError }[] = [];
      let filtered = 0;
      for (let i = 0; i < settled.length; i++) {
        const s = settled[i];
        if (s.status === 'rejected') {
          const e = s.reason;
          failed.push({
            index: i,
            error:
              e instanceof SluiceError
                ? new SluiceError(e.code, e.message, { step: step.id, cause: e })
                : userError(step.id, e),
          });
          continue;
        }
        if (s.value === null || s.value === undefined) {
          filtered++;
          continue;
        }
        out.records.push(s.value);
        out.times.push(batch.times[i]);
        out.kinds?.push(batch.kinds![i]);
        out.keys?.push(batch.keys![i]);
        out.watermarks?.push(batch.watermarks![i]);
      }
      return { batch: out, failed, filtered };
    };
    return new AsyncStage({ stepId: step.id, capacity: cfg.capacity, ordered: cfg.ordered, work });
  },
});
