/**
 * `at_least_once` appends of the `postgres` sink: one transaction and a run of COPYs kept open
 * across writes (`CopyWindows`), the written batches kept until the commit so that a refused row
 * or a broken connection writes them again with the refused rows set apart. Split from
 * `sink.ts`, which owns the other modes and the sink's life cycle.
 */

import {
  INSERT,
  type LateRejection,
  type Row,
  type RowKind,
  type SinkBatch,
  SluiceError,
} from '@sluice/core';
import type pg from 'pg';
import { BinaryRows } from './copy-binary.ts';
import { CopyWindows, type Windows } from './copy-in.ts';
import { failureKind, serverReason } from './pg-errors.ts';
import type { SinkConnection } from './sink-connection.ts';
import { chunks, copyInto } from './sink-support.ts';
import type { Statements } from './statements.ts';

/**
 * `at_least_once` appends: the open transaction is committed once it holds this much COPY text
 * (bounding what its replay buffer holds) …
 */
const OPEN_BYTES = 8 * 1024 * 1024;
/** … or, at the end of a write, once it has been open this long (ms). */
const OPEN_MS = 1000;
/**
 * `at_least_once` appends: the COPY text of one COPY of the open transaction, at first and at
 * most (see `CopyWindows`: about two windows at most are unconfirmed by the server, so a slow
 * server holds the writes back). The least is small enough that a slow server stops the source
 * within about 64 KiB of rows (the conformance suite's slow-server test pushes about 120 KiB and
 * needs it stopped before all are read); the window grows while the server keeps up, as a COPY
 * statement costs the server milliseconds of its own (docs/benchmarks.md).
 */
const COPY_WINDOWS: Windows = { min: 32 * 1024, max: 1024 * 1024 };

/** The open transaction of `at_least_once` appends, and its COPYs. */
export class OpenAppends {
  readonly #connection: SinkConnection;
  readonly #statements: Statements;
  readonly #batchSize: number;
  /** The COPYs kept open across writes inside the open transaction, while they are. */
  #copy: CopyWindows | undefined;
  /** The window the last run of COPYs had grown or shrunk to: the next run's first. */
  #window = COPY_WINDOWS.min;
  /**
   * The batches written into the open transaction and not yet committed, in order — what is
   * written again, refused rows set apart, when the server refuses a row or the connection breaks.
   */
  #kept: SinkBatch[] = [];
  /** The COPY length of `#kept` (text or binary). */
  #keptBytes = 0;
  /** The binary rows of a chunk being written (one buffer, reused). */
  readonly #rows = new BinaryRows();
  /** A value with no binary form came in this transaction: its COPYs are text until it commits. */
  #textUntilCommit = false;
  /** When the open transaction began (performance.now()). */
  #openedAt = 0;
  /** Rows of earlier writes the server refused, for `takeRejections`. */
  #late: LateRejection[] = [];

  constructor(connection: SinkConnection, statements: Statements, batchSize: number) {
    this.#connection = connection;
    this.#statements = statements;
    this.#batchSize = batchSize;
  }

  /** Whether the open transaction is due for its commit at the end of a write (its size or age). */
  get due(): boolean {
    return (
      this.#kept.length > 0 &&
      (this.#keptBytes >= OPEN_BYTES || performance.now() - this.#openedAt >= OPEN_MS)
    );
  }

  /** The rows of earlier writes the server refused (found when a later write, a commit or the close ended their COPY). */
  takeRejections(): LateRejection[] | undefined {
    if (this.#late.length === 0) return undefined;
    const late = this.#late;
    this.#late = [];
    return late;
  }

  /** Forgets the open transaction (the connection is being dropped: it rolls back). */
  reset(): void {
    this.#copy = undefined;
    this.#kept = [];
    this.#keptBytes = 0;
    this.#late = [];
  }

  /**
   * at_least_once: sends the batch into the COPYs kept open across writes inside the open
   * transaction, and resolves once the text is on its way — or, when about two windows of it
   * (`COPY_WINDOWS`) are not yet confirmed by the server, once the older is (`CopyWindows`), so a
   * slow server holds the source back: the server's statement start and end and a round trip
   * per write cost more than half the time (a commit per write, a WAL flush each, more still;
   * see docs/benchmarks.md). The batch is kept until the commit. When the server refuses a row
   * it ends that COPY and the transaction aborts; the next write, or the checkpoint or close,
   * finds that (`CopyWindows.failure`) and writes every kept row again in a new
   * transaction with the refused ones set apart (`#rewrite`), reported by `takeRejections`. A
   * connection that breaks is opened again and the kept rows written the same way, so a resolved
   * write is never lost.
   */
  async append(batch: SinkBatch, all: readonly number[]): Promise<void> {
    const statements = this.#statements;
    if (this.#copy === undefined || this.#copy.failure !== undefined) await this.#reopen(true);
    // The batch's arrays belong to the runtime: kept as copies (the records themselves are not changed).
    const { records, times, kinds } = batch;
    this.#kept.push(
      kinds === undefined
        ? { records: records.slice(), times: times.slice() }
        : { records: records.slice(), times: times.slice(), kinds: kinds.slice() },
    );
    const copy = this.#copy;
    if (copy === undefined) throw new SluiceError('INTERNAL', 'postgres sink: no COPY open after reopening');
    for (const chunk of chunks(all, this.#batchSize)) {
      let data: string | Buffer;
      if (!copy.binary) data = statements.copyText(records, chunk);
      else {
        this.#rows.reset();
        if (!statements.copyRows(this.#rows, records, chunk)) {
          // A value with no binary form: this transaction goes on in text, the batch (kept) with it.
          this.#textUntilCommit = true;
          await copy.end().catch(() => {});
          return this.#reopen(true);
        }
        data = this.#rows.bytes;
      }
      this.#keptBytes += data.length;
      await copy.write(data);
      // The COPY ended on a refused row (of this or an earlier write): this batch is kept, so it is written again there.
      if (copy.failure !== undefined) return this.#reopen(true);
    }
  }

  /**
   * at_least_once appends: after the open COPY failed (or before the first), writes the kept rows
   * again in a new transaction, refused rows set apart, and opens a new COPY when `open`. Fails
   * for good on a failure that is neither a refused row nor an outage.
   */
  async #reopen(open: boolean): Promise<void> {
    const failure = this.#copy?.failure;
    if (this.#copy !== undefined) this.#window = this.#copy.window;
    this.#copy = undefined;
    if (failure !== undefined) {
      const kind = failureKind(failure);
      if (kind === 'transient') {
        this.#connection.log?.warn('postgres sink: connection lost', { reason: serverReason(failure) });
        this.#connection.broken();
        await this.#connection.drop();
      } else if (kind !== 'record') throw this.#connection.fatal(failure, 'append');
    }
    await this.#connection.attempt('append', async (client) => {
      await this.#rewrite(client);
      if (!open) return;
      const statements = this.#statements;
      const binary = this.#textUntilCommit ? undefined : statements.copyBinary;
      this.#copy = new CopyWindows(
        client,
        binary ?? statements.copy,
        COPY_WINDOWS,
        this.#window,
        binary !== undefined,
      );
    });
  }

  /**
   * at_least_once appends: begins a new transaction (rolling back the aborted one when the
   * connection survived it) and writes the kept rows into it, each refused row set apart with
   * the server's reason: one COPY when none is refused, else one statement behind a savepoint
   * up to each refused row (the server names its line) and bisection when it does not say. The
   * kept rows and the refusals change only when it succeeds, so a retry starts over.
   */
  async #rewrite(client: pg.Client): Promise<void> {
    if (this.#connection.inTransaction) {
      this.#connection.inTransaction = false;
      await client.query('ROLLBACK');
    }
    await client.query('BEGIN');
    this.#connection.inTransaction = true;
    if (this.#kept.length === 0) {
      this.#openedAt = performance.now();
      this.#keptBytes = 0;
      return;
    }
    const kept = flatten(this.#kept);
    const refused: { index: number; message: string }[] = [];
    const statements = this.#statements;
    const tryCopy = async (indexes: readonly number[]): Promise<unknown> => {
      await client.query('SAVEPOINT sluice_write');
      try {
        await copyInto(client, statements.copy, statements.copyText(kept.records, indexes));
      } catch (err) {
        if (failureKind(err) !== 'record') throw err;
        await client.query('ROLLBACK TO SAVEPOINT sluice_write');
        return err;
      }
      await client.query('RELEASE SAVEPOINT sluice_write');
      return undefined;
    };
    const bisect = async (indexes: readonly number[]): Promise<void> => {
      const err = await tryCopy(indexes);
      if (err === undefined) return;
      if (indexes.length === 1) {
        refused.push({ index: indexes[0], message: `postgres refused the row: ${serverReason(err)}` });
        return;
      }
      const mid = indexes.length >> 1;
      await bisect(indexes.slice(0, mid));
      await bisect(indexes.slice(mid));
    };
    let rest: readonly number[] = kept.records.map((_r, i) => i);
    while (rest.length > 0) {
      const err = await tryCopy(rest);
      if (err === undefined) break;
      const line = copyLine(err);
      if (line === undefined || line > rest.length) {
        await bisect(rest);
        break;
      }
      if (line > 1) await bisect(rest.slice(0, line - 1));
      await bisect([rest[line - 1]]);
      rest = rest.slice(line);
    }
    if (refused.length === 0) return;
    const out = new Set<number>();
    for (const r of refused) {
      out.add(r.index);
      const kind = kept.kinds?.[r.index];
      this.#late.push({
        record: kept.records[r.index],
        time: kept.times[r.index],
        ...(kind === undefined ? {} : { kind }),
        message: r.message,
      });
    }
    const records: Row[] = [];
    const times: number[] = [];
    const kinds: RowKind[] | undefined = kept.kinds === undefined ? undefined : [];
    for (let i = 0; i < kept.records.length; i++) {
      if (out.has(i)) continue;
      records.push(kept.records[i]);
      times.push(kept.times[i]);
      kinds?.push(kept.kinds![i]);
    }
    this.#kept =
      records.length === 0 ? [] : [kinds === undefined ? { records, times } : { records, times, kinds }];
  }

  /**
   * at_least_once appends: ends the open COPY and commits the open transaction — after writing
   * the kept rows again when the COPY failed on a refused row or the connection broke.
   */
  async commit(): Promise<void> {
    const copy = this.#copy;
    if (copy === undefined && this.#kept.length === 0 && !this.#connection.inTransaction) return;
    if (copy !== undefined) {
      await copy.end().catch(() => {});
      if (copy.failure !== undefined) await this.#reopen(false);
      else {
        this.#window = copy.window;
        this.#copy = undefined;
      }
    }
    await this.#connection.attempt('commit the appended rows', async (client) => {
      if (!this.#connection.inTransaction) await this.#rewrite(client);
      await client.query('COMMIT');
      this.#connection.inTransaction = false;
    });
    this.#kept = [];
    this.#keptBytes = 0;
    this.#textUntilCommit = false;
  }
}

/** The kept batches as one run of records, times and kinds (kinds when any batch has them). */
function flatten(batches: readonly SinkBatch[]): { records: Row[]; times: number[]; kinds?: RowKind[] } {
  if (batches.length === 1) {
    const [b] = batches;
    return { records: [...b.records], times: [...b.times], ...(b.kinds ? { kinds: [...b.kinds] } : {}) };
  }
  const records: Row[] = [];
  const times: number[] = [];
  const withKinds = batches.some((b) => b.kinds !== undefined);
  const kinds: RowKind[] | undefined = withKinds ? [] : undefined;
  for (const b of batches) {
    for (let i = 0; i < b.records.length; i++) {
      records.push(b.records[i]);
      times.push(b.times[i]);
      kinds?.push(b.kinds?.[i] ?? INSERT);
    }
  }
  return kinds === undefined ? { records, times } : { records, times, kinds };
}

/**
 * The line of the COPY's text the server refused (1-based), from its error's context
 * (`COPY t, line 7, column x: …`), or undefined when it does not say (another language).
 */
function copyLine(err: unknown): number | undefined {
  const where = typeof err === 'object' && err !== null && 'where' in err ? err.where : undefined;
  if (typeof where !== 'string') return undefined;
  const m = /^COPY [^\n]*?, line (\d+)/.exec(where);
  return m === null ? undefined : Number(m[1]);
}
