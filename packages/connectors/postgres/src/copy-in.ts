/**
 * One `COPY … FROM STDIN` kept open while rows are written into it (text lines, or rows of the
 * binary format), possibly over many writes of the sink: a `pg` submittable that frames them as
 * CopyData on the connection's socket; and `CopyWindows`, a run of them in one transaction that
 * bounds the bytes the server has not confirmed.
 */

import type { Duplex } from 'node:stream';
import type pg from 'pg';
import { BINARY_HEADER, BINARY_TRAILER } from './copy-binary.ts';

/** The CopyData message type byte, and CopyDone with its length. */
const COPY_DATA = 0x64;
const COPY_DONE = Buffer.from([0x63, 0, 0, 0, 4]);

/** `data` framed as one CopyData message. */
function copyData(data: string | Uint8Array): Buffer {
  const length = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  const frame = Buffer.allocUnsafe(5 + length);
  frame[0] = COPY_DATA;
  frame.writeUInt32BE(length + 4, 1);
  if (typeof data === 'string') frame.write(data, 5);
  else frame.set(data, 5);
  return frame;
}

/**
 * A COPY in progress. `write` hands text to the socket (waiting only while the socket is full;
 * before the server is ready for rows — its turn on the connection has not come — the frames
 * are held in memory and `write` does not wait: `CopyWindows` bounds them),
 * `end` finishes the statement and resolves once the server has taken every row, or rejects
 * with the server's error. The server checks rows as they arrive: when it refuses one it ends
 * the COPY at once (the rows sent after it are dropped, the transaction is aborted), and
 * `failure` is set — seen by the next `write` or `end`.
 */
export class CopyIn implements pg.Submittable {
  readonly #statement: string;
  /** The binary format: its header goes first, its trailer last. */
  readonly #binary: boolean;
  /** The socket, once the server is ready for rows (CopyInResponse). */
  #socket: Duplex | undefined;
  /** Frames written before the server was ready. */
  #early: Buffer[] = [];
  #ended = false;
  /** The bytes of rows (text lines or binary rows) written into it. */
  #bytes = 0;
  #failure: unknown;
  #settled = false;
  #waiters: (() => void)[] = [];
  readonly #done: Promise<void>;
  /** Resolves once the server is ready for rows, or the COPY is over. */
  readonly #started: Promise<void>;
  #start: () => void = () => {};
  #resolve: () => void = () => {};
  #reject: (err: unknown) => void = () => {};
  /** Called once when the COPY is over (completed or failed), before `end` resolves. */
  readonly #onSettled: ((copy: CopyIn) => void) | undefined;

  /**
   * `binary`: the statement copies in the binary format, and what is written are its rows;
   * `onSettled`: called once the COPY is over — for a completed one, from `pg`'s ReadyForQuery,
   * when the connection takes the next statement.
   */
  constructor(statement: string, binary = false, onSettled?: (copy: CopyIn) => void) {
    this.#statement = statement;
    this.#binary = binary;
    this.#onSettled = onSettled;
    if (binary) this.#early.push(copyData(BINARY_HEADER));
    this.#done = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // `end` awaits it; a failure seen through `failure` first is not unhandled.
    this.#done.catch(() => {});
    this.#started = new Promise<void>((resolve) => {
      this.#start = resolve;
    });
  }

  /** Why the COPY ended early (the server refused a row, or the connection broke), if it did. */
  get failure(): unknown {
    return this.#failure;
  }

  /** The bytes of rows written into it so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Whether the server has confirmed every row (the statement completed) or the COPY failed. */
  get settled(): boolean {
    return this.#settled;
  }

  /** Resolves once the server is ready for rows (the frames held till then are sent) or the COPY is over. */
  get started(): Promise<void> {
    return this.#started;
  }

  /** Called by `pg` when the statement's turn comes on the connection. */
  submit(connection: pg.Connection): void {
    connection.query(this.#statement);
  }

  /** `pg`: the server is ready for rows. */
  handleCopyInResponse(connection: pg.Connection): void {
    const socket = connection.stream;
    this.#socket = socket;
    for (const frame of this.#early) socket.write(frame);
    this.#early = [];
    if (this.#ended) this.#finish(socket);
    this.#start();
    this.#wake();
  }

  /**
   * `pg`: the server refused the COPY (or the connection broke); it is over. Also called by
   * `CopyWindows` on a COPY it never submitted, after an earlier one of the run failed.
   */
  handleError(err: unknown): void {
    this.#failure = err;
    this.#socket = undefined;
    this.#early = [];
    this.#settle(err);
  }

  handleCommandComplete(): void {}

  /** `pg`: the statement finished (after CopyDone). */
  handleReadyForQuery(): void {
    this.#settle(undefined);
  }

  /**
   * Sends `data` — whole lines of COPY's text format, or whole rows of its binary format — to
   * the server, or holds it until the server is ready for rows; resolves at once, or when the
   * socket has room again, or when the COPY ended. Nothing is sent once it failed.
   */
  write(data: string | Uint8Array): Promise<void> | undefined {
    if (this.#failure !== undefined || this.#ended) return undefined;
    const frame = copyData(data);
    this.#bytes += frame.length - 5;
    const socket = this.#socket;
    if (socket === undefined) {
      this.#early.push(frame);
      return undefined;
    }
    if (socket.write(frame)) return undefined;
    const waiting = this.#wait();
    socket.once('drain', () => this.#wake());
    return waiting;
  }

  /** Ends the COPY: resolves once the server has every row, rejects with its error if it refused one. */
  end(): Promise<void> {
    if (!this.#ended && this.#failure === undefined) {
      this.#ended = true;
      if (this.#socket !== undefined) this.#finish(this.#socket);
    }
    return this.#done;
  }

  /** The binary format's trailer, then CopyDone. */
  #finish(socket: Duplex): void {
    if (this.#binary) socket.write(copyData(BINARY_TRAILER));
    socket.write(COPY_DONE);
  }

  #wait(): Promise<void> {
    return new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  #settle(err: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#start();
    this.#wake();
    this.#onSettled?.(this);
    if (err === undefined) this.#resolve();
    else this.#reject(err);
  }
}

/** How a run of COPYs sizes its windows (bytes of COPY data). */
export interface Windows {
  /** The first COPY's window, and the least a window shrinks to. */
  readonly min: number;
  /** The most a window grows to. */
  readonly max: number;
}

/** A wait for the older COPY at most this long (ms) doubles the window: the server keeps up. */
const GROW_MS = 20;
/** A wait longer than this (ms) halves it: the server is slow, the source is held back sooner. */
const SHRINK_MS = 250;

/**
 * The COPYs of `at_least_once` appends inside one open transaction, one after another: the text
 * the server has not confirmed is bounded. The server acknowledges nothing inside a COPY, and the
 * kernel's socket buffers take hundreds of KiB on loopback without waiting, so a COPY kept open
 * over many writes would let the source read on however slow the server is. Once the current
 * COPY holds a window of text it is ended (CopyDone: the server's CommandComplete confirms every
 * row in it, in the open transaction, nothing committed) and the writes go on into the next one,
 * held in memory until the previous completes. The run keeps its own queue of those COPYs and
 * hands the next to `pg` only when the connection is idle (from the ReadyForQuery that ends the
 * previous one): `pg` 8 warns when a query is issued while another runs, and `pg` 9 drops its
 * queue. When a COPY
 * fills while the one before it is still unconfirmed, the write waits for that one: at most
 * about two windows are unconfirmed. With a fast server the previous COPY completes while the
 * next fills, so nothing waits; with a slow one the wait reaches the source.
 *
 * The window starts small (`min`) and doubles, up to `max`, each time the older COPY was
 * confirmed within GROW_MS of being needed, halving when that took longer than SHRINK_MS: a
 * COPY statement costs the server milliseconds of its own (start, end), so a fast server is
 * given few large COPYs, while a slow one still holds the source back within two small windows
 * — what is unconfirmed stays about the same time of the server's work, not the same bytes.
 */
export class CopyWindows {
  readonly #client: pg.Client;
  readonly #statement: string;
  readonly #binary: boolean;
  readonly #sizes: Windows;
  #window: number;
  /** The COPY taking the writes. */
  #current: CopyIn;
  /** COPYs ended and not yet confirmed (or found failed), oldest first. */
  #ended: CopyIn[] = [];
  /** COPYs not yet handed to `pg` (their frames held), in order: the next goes when the connection is idle. */
  #queued: CopyIn[] = [];
  /** The COPY the connection is running (handed to `pg`, not yet over). */
  #running: CopyIn | undefined;
  /** The first failure of a COPY no longer in `#ended`. */
  #failure: unknown;

  /**
   * `window`: the first COPY's (a run after a commit goes on with the last run's); `binary`: the
   * statement copies in the binary format (`CopyIn`).
   */
  constructor(client: pg.Client, statement: string, sizes: Windows, window = sizes.min, binary = false) {
    this.#client = client;
    this.#statement = statement;
    this.#binary = binary;
    this.#sizes = sizes;
    this.#window = Math.min(sizes.max, Math.max(sizes.min, window));
    this.#current = this.#next();
  }

  /** A new COPY of the run: handed to `pg` at once when the connection is idle, else queued. */
  #next(): CopyIn {
    const copy = new CopyIn(this.#statement, this.#binary, (c) => this.#settled(c));
    if (this.#running === undefined && this.#queued.length === 0) this.#submit(copy);
    else this.#queued.push(copy);
    return copy;
  }

  #submit(copy: CopyIn): void {
    this.#running = copy;
    this.#client.query(copy);
  }

  /**
   * A COPY of the run is over. Completed: the connection is idle (`pg` calls this from its
   * ReadyForQuery), so the next queued COPY goes. Failed: the transaction is aborted, or the
   * connection gone, so the queued ones fail without being sent, as `pg` would fail them.
   */
  #settled(copy: CopyIn): void {
    if (copy !== this.#running) return;
    this.#running = undefined;
    if (copy.failure === undefined) {
      const next = this.#queued.shift();
      if (next !== undefined) this.#submit(next);
      return;
    }
    const queued = this.#queued;
    this.#queued = [];
    for (const q of queued) q.handleError(new Error('an earlier COPY of the transaction failed'));
  }

  /** Whether the COPYs are of the binary format. */
  get binary(): boolean {
    return this.#binary;
  }

  /** The current window (bytes). */
  get window(): number {
    return this.#window;
  }

  /**
   * Why a COPY of the run failed, if one did: the oldest failure (after a refused row the next
   * COPYs fail only because the transaction is aborted).
   */
  get failure(): unknown {
    if (this.#failure !== undefined) return this.#failure;
    for (const copy of this.#ended) if (copy.failure !== undefined) return copy.failure;
    return this.#current.failure;
  }

  /**
   * Sends `data` (as `CopyIn.write` takes it) into the current COPY; ends it once it holds a
   * window, and then waits while the COPY before it is unconfirmed. Resolves at once when nothing
   * has to wait.
   */
  write(data: string | Uint8Array): Promise<void> | undefined {
    const current = this.#current;
    const waiting = current.write(data);
    this.#prune();
    if (current.bytes < this.#window || current.failure !== undefined) return waiting;
    void current.end();
    this.#ended.push(current);
    this.#current = this.#next();
    if (this.#ended.length < 2) return waiting;
    return this.#hold(waiting);
  }

  /** Ends the current COPY; resolves once the server confirmed every COPY, rejects with the first failure. */
  async end(): Promise<void> {
    const all = [...this.#ended, this.#current];
    for (const copy of all) await copy.end().catch(() => {});
    const failure = this.failure;
    if (failure !== undefined) throw failure;
  }

  /** Waits while more than the COPY just ended is unconfirmed, and sizes the next window by how long that took. */
  async #hold(waiting: Promise<void> | undefined): Promise<void> {
    const since = performance.now();
    await waiting;
    // The connection's replies that have arrived are read before deciding: writes that never
    // wait for I/O would otherwise find the older COPY unconfirmed however fast the server is.
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.#prune();
    while (this.#ended.length > 1 && this.failure === undefined) {
      await this.#ended[0].end().catch(() => {});
      this.#prune();
    }
    // The COPY just ended starts once the older completed; its text goes to the server before
    // the next window is filled, so the server works on it meanwhile. (The replies are read only
    // when a write waits: without this the server would have nothing while the client fills.)
    await this.#ended.at(-1)?.started;
    const waited = performance.now() - since;
    if (waited <= GROW_MS) this.#window = Math.min(this.#sizes.max, this.#window * 2);
    else if (waited > SHRINK_MS) this.#window = Math.max(this.#sizes.min, this.#window >> 1);
  }

  /** Drops the confirmed COPYs from the front of `#ended`, keeping the first failure. */
  #prune(): void {
    while (this.#ended.length > 0 && this.#ended[0].settled) {
      const copy = this.#ended.shift();
      if (copy?.failure !== undefined) this.#failure ??= copy.failure;
    }
  }
}
