/**
 * `top_n`: the first `n` records per key by an order, kept up to date as records arrive, emitted
 * as a retract changelog — what `ROW_NUMBER() OVER (PARTITION BY … ORDER BY …) <= n` gives in
 * Flink SQL and ksqlDB's TOPK, as rows rather than an array.
 */

import { SluiceError, toSluiceError } from '../errors.ts';
import type { Operator, OperatorContext, Output } from '../operator.ts';
import {
  type Batch,
  type ChangeBatch,
  DELETE,
  emptyChangeBatch,
  INSERT,
  pushChange,
  type Row,
  type RowKind,
  UPDATE_AFTER,
  UPDATE_BEFORE,
} from '../record.ts';
import { type KeyedMap, keyedBackend, type MemoryStateBackend, type StateBackend } from '../state.ts';
import { type Clock, systemClock } from '../time.ts';
import { RESULT_BATCH_SIZE } from '../window/result-emitter.ts';
import { type OrderTerm, type Ranked, rankPosition, type SortValues, sortValues } from './rank-order.ts';
import { keysOf, registerTtl, StateTtl } from './state-ttl.ts';

export type { OrderTerm } from './rank-order.ts';

export interface TopNOptions {
  /** The step id; names the state in checkpoints and appears in errors. */
  readonly stepId: string;
  /** The partition key of a record; absent: the batch's `key_by` keys, else one partition. */
  readonly keyFn?: (record: Row) => string;
  readonly orderBy: readonly OrderTerm[];
  readonly n: number;
  /** A field to write each row's rank (1 = first) into; rows whose rank changes are updated. */
  readonly rankField?: string;
  /**
   * State time-to-live in ms of processing time: a key whose list no record entered for this
   * long is forgotten. Absent: lists are kept for the life of the job.
   */
  readonly ttl?: number;
}

/**
 * v3: the lists (map `lists`) and the times of the ttl (view `written`) are keyed state
 * (`OperatorContext.state`), snapshotted by key group. v2 and v1 held them in the operator's
 * snapshot; v1 had no `written`, its keys live `ttl` from the restore. Both are still read.
 */
const SNAPSHOT_FORMAT = 'sluice.top_n.v3';
const SNAPSHOT_FORMAT_V2 = 'sluice.top_n.v2';
const SNAPSHOT_FORMAT_V1 = 'sluice.top_n.v1';

/** The name of the keyed map of each key's list (part of the checkpoint format). */
const LISTS_STATE = 'lists';

interface TopNSnapshot {
  format: typeof SNAPSHOT_FORMAT;
  /** What the state was built for: a restore refuses state of a different step. */
  shape: string;
  keyedInput: boolean;
  /** The keyed state, when no runtime holds it (an operator opened without `OperatorContext.state`). */
  keyed?: unknown;
}

/** The operator's snapshot before v3: all of its state. */
interface TopNSnapshotV2 {
  format: typeof SNAPSHOT_FORMAT_V2 | typeof SNAPSHOT_FORMAT_V1;
  shape: string;
  keyedInput: boolean;
  lists: Map<string, Ranked[]>;
  /** With a ttl: processing time a record last entered each key's list, oldest first (v2; null without a ttl). */
  written?: Map<string, number> | null;
}

const GLOBAL = '';

/**
 * Builds a top-n operator.
 *
 * Records are taken in input order. A record ranks before another when its first `order_by`
 * value does (ascending, or descending when the term says so), then its second, and so on; NULL
 * ranks after every value in either direction; of two records equal on every term the earlier
 * ranks first. Numbers compare as numbers, text by UTF-16 code units, booleans false before true;
 * a record whose term is of another kind than the rows it is compared with (text against a
 * number), an object, or NaN goes to the dead-letter output.
 *
 * A record that ranks within the first `n` of its key is emitted as an INSERT; the record it
 * pushes out of the first `n`, if any, as a DELETE; with `rankField`, every record whose rank it
 * moves by one as an UPDATE_BEFORE (old rank) followed at once by an UPDATE_AFTER (new rank). A
 * record that does not make the first `n` is counted as filtered. Emitted records take the event
 * time of the record that caused the change. The input must be append-only: a row never leaves
 * except by being pushed out, so a row pushed out can never come back, and each key keeps at most
 * `n` rows. The lists are kept for the life of the job; with `ttl`, a key whose list no record
 * entered for `ttl` ms of processing time (the job clock, checked at each batch and each
 * processing-time tick) is forgotten without emitting anything: its next record starts a new list,
 * entering at rank 1, while the rows emitted before stay downstream (as in Flink).
 */
export function createTopN(options: TopNOptions): Operator {
  return new TopN(options);
}

class TopN implements Operator {
  readonly absorbs = true;
  readonly #options: TopNOptions;
  readonly #shape: string;
  /** The keyed state when no runtime holds it; it then goes into `snapshot`. */
  #own: MemoryStateBackend | undefined;
  #lists!: KeyedMap<Ranked[]>;
  #keyedInput = false;
  readonly #ttl: StateTtl<string> | undefined;
  #clock: Clock = systemClock;

  constructor(options: TopNOptions) {
    const { n, stepId } = options;
    if (!Number.isSafeInteger(n) || n < 1) {
      throw new SluiceError('CONFIG_INVALID', `top_n 'n' must be a positive integer, got ${n}`, {
        step: stepId,
        path: 'n',
      });
    }
    if (options.orderBy.length === 0) {
      throw new SluiceError('CONFIG_INVALID', 'top_n needs at least one order_by term', {
        step: stepId,
        path: 'order_by',
      });
    }
    this.#options = options;
    this.#shape = JSON.stringify({
      key: options.keyFn !== undefined,
      orderBy: options.orderBy.map((t) => [t.text, t.descending]),
      n,
      rankField: options.rankField ?? null,
    });
    if (options.ttl !== undefined) this.#ttl = new StateTtl(options.ttl);
    this.#attach(undefined);
  }

  /** Takes its keyed state from `state`, or keeps it itself (restored from `own`) without one. */
  #attach(state: StateBackend | undefined, saved?: unknown): void {
    const { backend, own } = keyedBackend(state, saved);
    this.#own = own;
    this.#lists = backend.map<Ranked[]>(LISTS_STATE);
    registerTtl(backend, this.#ttl);
  }

  open(ctx: OperatorContext): void {
    this.#clock = ctx.clock;
    const saved = ctx.restored as Partial<TopNSnapshot> | Partial<TopNSnapshotV2> | null | undefined;
    const step = this.#options.stepId;
    const legacy = saved?.format === SNAPSHOT_FORMAT_V2 || saved?.format === SNAPSHOT_FORMAT_V1;
    if (
      saved !== undefined &&
      ((saved?.format !== SNAPSHOT_FORMAT && !legacy) ||
        saved.shape !== this.#shape ||
        (legacy && !(saved.lists instanceof Map)))
    ) {
      throw new SluiceError(
        'CHECKPOINT_INCOMPATIBLE',
        `the checkpointed state of top_n step '${step}' was made with a different key, order, n or rank field; restart with --from-scratch to drop it`,
        { step },
      );
    }
    this.#attach(ctx.state, legacy ? undefined : (saved as Partial<TopNSnapshot> | undefined)?.keyed);
    if (saved === undefined) return;
    this.#keyedInput = saved.keyedInput === true;
    let written: Map<string, number> | undefined;
    if (legacy) {
      // Before v3 the lists were the operator's: they move into the keyed state.
      const old = saved as TopNSnapshotV2;
      for (const [key, list] of old.lists) this.#lists.set(key, list);
      if (old.written instanceof Map) written = old.written;
    }
    this.#ttl?.restore(written, keysOf(this.#lists.entries()), this.#ttl.now(ctx.clock.now()));
  }

  processBatch(batch: Batch, out: Output): void {
    const { records } = batch;
    const count = records.length;
    const keys = batch.keys;
    if (keys !== undefined) this.#keyedInput = true;
    const { keyFn, n, rankField, stepId } = this.#options;
    const ttl = this.#ttl;
    const now = ttl === undefined ? 0 : ttl.now(this.#clock.now());
    if (ttl !== undefined) this.#expire(now);
    let result = emptyChangeBatch(batch, this.#keyedInput && keyFn === undefined);
    let filtered = 0;
    for (let i = 0; i < count; i++) {
      const record = records[i];
      let key: string;
      let sort: SortValues;
      let list: Ranked[];
      let at: number;
      try {
        key = keyFn !== undefined ? keyFn(record) : keys !== undefined ? keys[i] : GLOBAL;
        sort = sortValues(this.#options.orderBy, record);
        list = this.#lists.get(key) ?? [];
        at = rankPosition(this.#options.orderBy, list, sort);
      } catch (err) {
        out.deadLetter(batch, i, toSluiceError(err, 'USER_FUNCTION_FAILED', { step: stepId }));
        continue;
      }
      if (at >= n) {
        filtered++;
        continue;
      }
      if (list.length === 0) this.#lists.set(key, list);
      if (ttl !== undefined) ttl.touch(key, now);
      const entry: Ranked = { row: record, sort };
      list.splice(at, 0, entry);
      // The row pushed out (at index n now) leaves under the rank it was emitted with.
      if (list.length > n) this.#push(result, batch, i, DELETE, list.pop()!, n, key);
      if (rankField !== undefined) {
        for (let j = list.length - 1; j > at; j--) {
          this.#push(result, batch, i, UPDATE_BEFORE, list[j], j, key);
          this.#push(result, batch, i, UPDATE_AFTER, list[j], j + 1, key);
        }
      }
      this.#push(result, batch, i, INSERT, entry, at + 1, key);
      if (result.records.length >= RESULT_BATCH_SIZE) {
        out.emit(result);
        result = emptyChangeBatch(batch, this.#keyedInput && keyFn === undefined);
      }
    }
    if (filtered > 0) out.filtered(filtered);
    if (result.records.length > 0) out.emit(result);
  }

  /** Emits `ranked` as a change of `kind`, with its rank when the step writes ranks. */
  #push(
    to: ChangeBatch,
    from: Batch,
    i: number,
    kind: RowKind,
    ranked: Ranked,
    rank: number,
    key: string,
  ): void {
    const rankField = this.#options.rankField;
    pushChange(
      to,
      from,
      i,
      kind,
      rankField === undefined ? ranked.row : { ...ranked.row, [rankField]: rank },
      key,
    );
  }

  onProcessingTime(now: number): void {
    if (this.#ttl !== undefined) this.#expire(this.#ttl.now(now));
  }

  /** Forgets the lists whose time-to-live is up at `now`. */
  #expire(now: number): void {
    const lists = this.#lists;
    this.#ttl!.expire(now, (key) => lists.delete(key));
  }

  snapshot(): TopNSnapshot {
    const snapshot: TopNSnapshot = {
      format: SNAPSHOT_FORMAT,
      shape: this.#shape,
      keyedInput: this.#keyedInput,
    };
    if (this.#own !== undefined) snapshot.keyed = this.#own.snapshot();
    return snapshot;
  }
}
