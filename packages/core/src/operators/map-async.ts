/**
 * `map_async` (TypeScript API: `mapAsync`): each record is what an asynchronous function
 * resolves to — an enrichment over the network, a model scored elsewhere — run through the
 * asynchronous boundary (`async-stage.ts`): at most `concurrency` calls at once, at most
 * `capacity` batches in flight, results in input order unless `ordered: false`, each call bounded
 * by `timeout` and retried with capped backoff when its error is transient (`async-calls.ts`,
 * shared with `lookup`).
 */

import Type from 'typebox';
import { SluiceError } from '../errors.ts';
import type { Batch, Row } from '../record.ts';
import { defineStep, PER_RECORD_CHANGELOG } from '../spec.ts';
import { AsyncCalls, asyncCallFields } from './async-calls.ts';
import { type AsyncOutcome, AsyncStage } from './async-stage.ts';
import { stepFunction, userError } from './step-function.ts';

/** The function: the new record, or null/undefined to drop the record (counted as filtered). */
export type AsyncMapFunction = (record: Row, signal: AbortSignal) => Promise<Row | null | undefined>;

const config = Type.Object(asyncCallFields('call of the function', 'calls of the function'), {
  additionalProperties: false,
});

export const mapAsyncStep = defineStep({
  type: 'map_async',
  changelog: () => PER_RECORD_CHANGELOG,
  summary: 'Transforms each record with an asynchronous TypeScript function (TypeScript API only).',
  description:
    'The function gets the record and an AbortSignal (aborted on timeout or when the job stops) and resolves to the new record, or to null/undefined to drop it (counted as filtered). A call that throws goes to the dead letters with the error (USER_FUNCTION_FAILED); one that times out or throws a transient SluiceError is retried `retries` times first. Each output record keeps its input’s event time and key. Steps after it never see a record late for having been slow: their watermark waits for the batches in flight.',
  config,
  create(cfg, step) {
    const fn = stepFunction<AsyncMapFunction>(step);
    const calls = new AsyncCalls(cfg);
    const attempt = (record: Row, signal: AbortSignal): Promise<Row | null | undefined> =>
      calls.run((callSignal) => fn(record, callSignal), signal);
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
