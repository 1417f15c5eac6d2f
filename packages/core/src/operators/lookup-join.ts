/**
 * The work of the `lookup` step on one batch: each record's key, the table's row for it — from
 * the cache, from a call already under way for another batch, or from a new call of the lookup —
 * and the output record, or a dead letter, or a drop, per the miss policy.
 *
 * Keys are deduplicated over everything in flight: a key asked for by one batch is not asked
 * again by the next while the first call runs (it waits for the same answer), and the answer
 * goes into the cache. So with a cache that outlives the input, a table is asked once per
 * distinct key whatever the batching.
 */

import { silentLogger } from '../connector.ts';
import { requestedDelay } from '../connectors/backoff.ts';
import { SluiceError, toSluiceError } from '../errors.ts';
import type { Lookup, LookupAnswer, LookupKey } from '../lookup.ts';
import type { OperatorContext } from '../operator.ts';
import type { Batch, Row } from '../record.ts';
import type { Clock } from '../time.ts';
import type { AsyncCalls } from './async-calls.ts';
import type { AsyncOutcome } from './async-stage.ts';
import { encodeKey } from './key.ts';
import type { LookupCache } from './lookup-cache.ts';
import { without } from './map.ts';

/** What a record with no row becomes: emitted with NULL, dropped (filtered), or a dead letter. */
export type MissPolicy = 'null' | 'drop' | 'dead_letter';

export interface LookupJoinOptions {
  readonly stepId: string;
  readonly lookup: Lookup;
  readonly calls: AsyncCalls;
  readonly cache: LookupCache;
  /** The key expressions, evaluated on the input record. */
  readonly keyParts: readonly ((record: Row) => unknown)[];
  readonly onMiss: MissPolicy;
  /** Builds the output record from the input record and the row (null: none). Throws on a failing expression. */
  readonly output: (record: Row, row: Row | null) => Row;
  /** Describes a key for messages: `customer_id = 42`. */
  readonly describeKey: (key: LookupKey) => string;
  readonly baseDir: string;
}

/** A key being asked for: every batch that needs it waits for `answer`. */
interface Pending {
  readonly answer: Promise<LookupAnswer>;
  settle(answer: LookupAnswer): void;
  fail(err: unknown): void;
}

function pending(): Pending {
  let settle!: (answer: LookupAnswer) => void;
  let fail!: (err: unknown) => void;
  const answer = new Promise<LookupAnswer>((resolve, reject) => {
    settle = resolve;
    fail = reject;
  });
  // A failure is seen by the batches awaiting it; this keeps one nobody awaits from being unhandled.
  answer.catch(() => {});
  return { answer, settle, fail };
}

export class LookupJoin {
  readonly #o: LookupJoinOptions;
  /** Keys asked for and not answered yet, by encoded key. */
  readonly #inFlight = new Map<string, Pending>();
  #clock: Clock | undefined;
  #opened = false;
  readonly #scratch: unknown[];

  constructor(options: LookupJoinOptions) {
    this.#o = options;
    this.#scratch = new Array(options.keyParts.length);
  }

  /** Opens the lookup (the job is opening). */
  async open(ctx: OperatorContext, signal: AbortSignal): Promise<void> {
    this.#clock = ctx.clock;
    this.#opened = true;
    try {
      await this.#o.lookup.open?.({
        id: this.#o.stepId,
        clock: ctx.clock,
        baseDir: this.#o.baseDir,
        log: ctx.log ?? silentLogger,
        signal,
      });
    } catch (err) {
      // The table's options are under `table` in the step.
      const e = toSluiceError(err, 'LOOKUP_UNAVAILABLE');
      throw new SluiceError(e.code, `the lookup table could not be opened: ${e.message}`, {
        step: this.#o.stepId,
        path: e.path === undefined ? 'table' : `table.${e.path}`,
        cause: err,
      });
    }
  }

  /** Closes the lookup, once it was opened (even if opening failed). */
  async close(): Promise<void> {
    if (!this.#opened) return;
    this.#opened = false;
    await this.#o.lookup.close?.();
  }

  /** The work of the asynchronous stage on one batch. */
  readonly work = async (batch: Batch, signal: AbortSignal): Promise<AsyncOutcome> => {
    const o = this.#o;
    const records = batch.records;
    const n = records.length;
    // Each record's encoded key (undefined: a NULL key, a miss without a call) or its failure.
    const keyOf: (string | undefined)[] = new Array(n);
    const keyFailed: { index: number; error: SluiceError }[] = [];
    const answers = new Map<string, LookupAnswer | Promise<LookupAnswer>>();
    const wanted = new Map<string, LookupKey>();
    const now = this.#now();
    for (let i = 0; i < n; i++) {
      let values: unknown[] | undefined;
      try {
        values = this.#keyValues(records[i]);
      } catch (err) {
        keyFailed.push({ index: i, error: toSluiceError(err, 'EXPR_EVAL', { step: o.stepId }) });
        continue;
      }
      if (values === undefined) continue;
      const key = encodeKey(values);
      keyOf[i] = key;
      if (answers.has(key) || wanted.has(key)) continue;
      const cached = o.cache.get(key, now);
      if (cached !== undefined) answers.set(key, cached);
      else {
        const running = this.#inFlight.get(key);
        if (running !== undefined) answers.set(key, running.answer);
        else wanted.set(key, values.slice());
      }
    }
    if (wanted.size > 0) this.#ask(wanted, answers, signal);
    const answered = new Map<string, LookupAnswer>();
    for (const [key, answer] of answers) answered.set(key, answer instanceof Promise ? await answer : answer);

    // Dead letters in input order: the key failures, merged with what the answers decide.
    const failed: { index: number; error: SluiceError }[] = [];
    const out: Row[] = new Array(n);
    const skip: number[] = [];
    let filtered = 0;
    let f = 0;
    for (let i = 0; i < n; i++) {
      if (f < keyFailed.length && keyFailed[f].index === i) {
        failed.push(keyFailed[f++]);
        skip.push(i);
        continue;
      }
      const key = keyOf[i];
      const answer = key === undefined ? null : (answered.get(key) ?? null);
      if (answer instanceof SluiceError) {
        failed.push({ index: i, error: answer });
        skip.push(i);
        continue;
      }
      if (answer === null && o.onMiss !== 'null') {
        skip.push(i);
        if (o.onMiss === 'drop') filtered++;
        else failed.push({ index: i, error: this.#missError(records[i], key === undefined) });
        continue;
      }
      try {
        out[i] = o.output(records[i], answer);
      } catch (err) {
        failed.push({ index: i, error: toSluiceError(err, 'EXPR_EVAL', { step: o.stepId }) });
        skip.push(i);
      }
    }
    return { batch: without(batch, out, skip), failed, filtered };
  };

  /**
   * The key's values in a scratch array reused for every record (copy it to keep it), or
   * undefined when one is NULL (it matches nothing).
   */
  #keyValues(record: Row): unknown[] | undefined {
    const parts = this.#o.keyParts;
    const values = this.#scratch;
    for (let p = 0; p < parts.length; p++) {
      const v = parts[p](record);
      if (v === null || v === undefined) return undefined;
      values[p] = v;
    }
    return values;
  }

  #now(): number {
    return this.#clock?.now() ?? Date.now();
  }

  /** Starts the calls for `wanted` (keys nobody is asking for), in chunks of `maxKeys`. */
  #ask(
    wanted: Map<string, LookupKey>,
    answers: Map<string, LookupAnswer | Promise<LookupAnswer>>,
    signal: AbortSignal,
  ): void {
    const max = this.#o.lookup.maxKeys ?? Number.POSITIVE_INFINITY;
    let chunk: string[] = [];
    const chunks: string[][] = [chunk];
    for (const key of wanted.keys()) {
      if (chunk.length >= max) {
        chunk = [];
        chunks.push(chunk);
      }
      chunk.push(key);
      const p = pending();
      this.#inFlight.set(key, p);
      answers.set(key, p.answer);
    }
    for (const keys of chunks) {
      this.#call(keys, wanted, signal).catch((err: unknown) => {
        for (const key of keys) {
          const p = this.#inFlight.get(key);
          this.#inFlight.delete(key);
          p?.fail(err);
        }
      });
    }
  }

  /**
   * Asks the lookup for `keys`, again for those whose answer was a transient error (up to
   * `retries` more times, after a backoff), and settles each key: into the cache and to the
   * batches waiting for it. Rejects only on a broken lookup (the job fails).
   */
  async #call(keys: readonly string[], values: ReadonlyMap<string, LookupKey>, signal: AbortSignal) {
    const o = this.#o;
    let remaining = keys;
    for (let attempt = 1; remaining.length > 0; attempt++) {
      const asked = remaining.map((k) => values.get(k)!);
      let answers: readonly LookupAnswer[];
      try {
        answers = await o.calls.attempt((s) => o.lookup.get(asked, s), signal);
      } catch (err) {
        const error = toSluiceError(err, 'LOOKUP_FAILED', { step: o.stepId });
        answers = asked.map(() => error);
      }
      if (!Array.isArray(answers) || answers.length !== asked.length) {
        throw new SluiceError(
          'INTERNAL',
          `the lookup answered ${Array.isArray(answers) ? answers.length : 'no array'} for ${asked.length} keys`,
          { step: o.stepId },
        );
      }
      const again: string[] = [];
      let requested = 0;
      const now = this.#now();
      for (let j = 0; j < remaining.length; j++) {
        const key = remaining[j];
        const answer = answers[j];
        if (answer instanceof SluiceError && o.calls.mayRetry(answer, attempt, signal)) {
          again.push(key);
          requested = Math.max(requested, requestedDelay(answer) ?? 0);
          continue;
        }
        this.#settle(key, asked[j], answer, now);
      }
      remaining = again;
      if (remaining.length > 0) await o.calls.pause(attempt, signal, requested);
    }
  }

  #settle(key: string, values: LookupKey, answer: LookupAnswer, now: number): void {
    const p = this.#inFlight.get(key);
    this.#inFlight.delete(key);
    if (answer instanceof SluiceError) {
      p?.settle(this.#keyError(answer, values));
      return;
    }
    if (answer !== null && (typeof answer !== 'object' || Array.isArray(answer))) {
      p?.settle(
        new SluiceError(
          'LOOKUP_FAILED',
          `the lookup answered ${typeof answer} for ${this.#o.describeKey(values)}, not a row`,
          {
            step: this.#o.stepId,
          },
        ),
      );
      return;
    }
    this.#o.cache.set(key, answer, now);
    p?.settle(answer);
  }

  /** A key's error as a dead letter's reason: the step, and which key. */
  #keyError(error: SluiceError, values: LookupKey): SluiceError {
    return new SluiceError(error.code, `looking up ${this.#o.describeKey(values)}: ${error.message}`, {
      step: this.#o.stepId,
      cause: error,
    });
  }

  #missError(record: Row, nullKey: boolean): SluiceError {
    const values = this.#o.keyParts.map((part) => {
      try {
        return part(record);
      } catch {
        return null;
      }
    });
    const why = nullKey
      ? `the key ${this.#o.describeKey(values)} is NULL, which matches no row`
      : `the table has no row for ${this.#o.describeKey(values)}`;
    return new SluiceError('LOOKUP_MISS', `${why} (on_miss: dead_letter)`, { step: this.#o.stepId });
  }
}
