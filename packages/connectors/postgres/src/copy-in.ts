/**
 * One `COPY … FROM STDIN` kept open while text is written into it, possibly over many writes of
 * the sink: a `pg` submittable that frames the text as CopyData on the connection's socket.
 */

import type { Duplex } from 'node:stream';
import type pg from 'pg';

/** The CopyData message type byte, and CopyDone with its length. */
const COPY_DATA = 0x64;
const COPY_DONE = Buffer.from([0x63, 0, 0, 0, 4]);

/**
 * A COPY in progress. `write` hands text to the socket (waiting only while the socket is full),
 * `end` finishes the statement and resolves once the server has taken every row, or rejects
 * with the server's error. The server checks rows as they arrive: when it refuses one it ends
 * the COPY at once (the rows sent after it are dropped, the transaction is aborted), and
 * `failure` is set — seen by the next `write` or `end`.
 */
export class CopyIn implements pg.Submittable {
  readonly #statement: string;
  /** The socket, once the server is ready for rows (CopyInResponse). */
  #socket: Duplex | undefined;
  /** Frames written before the server was ready. */
  #early: Buffer[] = [];
  #ended = false;
  #failure: unknown;
  #settled = false;
  #waiters: (() => void)[] = [];
  readonly #done: Promise<void>;
  #resolve: () => void = () => {};
  #reject: (err: unknown) => void = () => {};

  constructor(statement: string) {
    this.#statement = statement;
    this.#done = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // `end` awaits it; a failure seen through `failure` first is not unhandled.
    this.#done.catch(() => {});
  }

  /** Why the COPY ended early (the server refused a row, or the connection broke), if it did. */
  get failure(): unknown {
    return this.#failure;
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
    if (this.#ended) socket.write(COPY_DONE);
    this.#wake();
  }

  /** `pg`: the server refused the COPY (or the connection broke); it is over. */
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
   * Sends `text` (whole lines of COPY's text format) to the server; resolves at once, or when
   * the socket has room again, or when the COPY ended. Nothing is sent once it failed.
   */
  write(text: string): Promise<void> | undefined {
    if (this.#failure !== undefined || this.#ended) return undefined;
    const length = Buffer.byteLength(text);
    const frame = Buffer.allocUnsafe(5 + length);
    frame[0] = COPY_DATA;
    frame.writeUInt32BE(length + 4, 1);
    frame.write(text, 5);
    const socket = this.#socket;
    if (socket === undefined) {
      this.#early.push(frame);
      return this.#wait();
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
      this.#socket?.write(COPY_DONE);
    }
    return this.#done;
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
    this.#wake();
    if (err === undefined) this.#resolve();
    else this.#reject(err);
  }
}
