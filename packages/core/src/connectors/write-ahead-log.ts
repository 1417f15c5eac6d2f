/**
 * A local write-ahead log: frames appended to numbered segment files in one folder, made durable
 * by group commit (one `fdatasync` for every frame appended while the previous one ran), read back
 * from any position after a restart, and trimmed a whole segment at a time.
 *
 * A segment is `wal-<number, 20 digits>.log`, a sequence of frames: payload length (u32 LE), the
 * CRC-32 of the payload (u32 LE), then the payload. A crash can leave a torn frame only at the end
 * of the newest segment (a segment is synced before the next one is written); opening the log
 * cuts it off. Such a frame was never reported durable, so nothing acknowledged is lost.
 */

import { type FileHandle, mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { SluiceError } from '../errors.ts';
import { FrameReader, HEADER_BYTES, syncDir, validLength, writeAll } from './write-ahead-log-files.ts';

/** Where a frame starts: a segment number and a byte offset in it. */
export interface WalPosition {
  readonly segment: number;
  readonly offset: number;
}

/** A frame read back: where it starts, where the next one starts, and its payload. */
export interface WalFrame {
  readonly position: WalPosition;
  readonly next: WalPosition;
  readonly payload: Buffer;
}

/** What `append` returns: the frame's place, and a promise resolved once it is on disk. */
export interface WalAppend {
  readonly position: WalPosition;
  readonly next: WalPosition;
  /** Resolves after the fsync that covers the frame; rejects with WAL_FAILED if it failed. */
  readonly durable: Promise<void>;
}

const SEGMENT_NAME = /^wal-(\d{20})\.log$/;

/** File name of segment `n`. */
export function segmentFileName(n: number): string {
  return `wal-${String(n).padStart(20, '0')}.log`;
}

/** Orders positions: negative when `a` is before `b`. */
export function comparePositions(a: WalPosition, b: WalPosition): number {
  return a.segment === b.segment ? a.offset - b.offset : a.segment - b.segment;
}

interface Pending {
  readonly segment: number;
  readonly buffers: Buffer[];
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/** A write-ahead log in one folder. Open it with `WriteAheadLog.open`; one process at a time. */
export class WriteAheadLog {
  readonly dir: string;
  readonly #segmentBytes: number;
  readonly #step: string;
  /** Segment numbers on disk, ascending (the newest may not exist yet). */
  readonly #segments: number[];
  /** Segment and size the next frame goes to (frames not yet written included). */
  #segment: number;
  #size: number;
  /** The segment file being appended to. */
  #file: { segment: number; handle: FileHandle } | undefined;
  #pending: Pending[] = [];
  #pumping = false;
  #failure: SluiceError | undefined;
  #closed = false;

  private constructor(dir: string, segmentBytes: number, step: string, segments: number[], size: number) {
    this.dir = dir;
    this.#segmentBytes = segmentBytes;
    this.#step = step;
    this.#segments = segments;
    this.#segment = segments.at(-1) ?? 0;
    this.#size = size;
  }

  /**
   * Opens (creating the folder) the log in `dir`. A torn frame at the end of the newest segment
   * is cut off (`onTorn` is told how many bytes). Segments roll once they pass `segmentBytes`.
   * Rejects with WAL_FAILED when the folder cannot be read or written.
   */
  static async open(
    dir: string,
    options: { segmentBytes: number; step: string; onTorn?: (bytes: number, file: string) => void },
  ): Promise<WriteAheadLog> {
    const failed = (what: string, err: unknown) =>
      walError(`cannot ${what} the write-ahead log in ${dir}`, err, options.step);
    let segments: number[];
    try {
      await mkdir(dir, { recursive: true });
      segments = (await readdir(dir))
        .map((name) => SEGMENT_NAME.exec(name))
        .filter((m) => m !== null)
        .map((m) => Number(m[1]))
        .sort((a, b) => a - b);
    } catch (err) {
      throw failed('open', err);
    }
    let size = 0;
    const last = segments.at(-1);
    if (last !== undefined) {
      const file = join(dir, segmentFileName(last));
      try {
        const handle = await open(file, 'r+');
        try {
          const length = (await handle.stat()).size;
          size = await validLength(handle, length);
          if (size < length) {
            await handle.truncate(size);
            await handle.datasync();
            options.onTorn?.(length - size, file);
          }
        } finally {
          await handle.close();
        }
      } catch (err) {
        throw failed('recover', err);
      }
    }
    return new WriteAheadLog(dir, options.segmentBytes, options.step, segments, size);
  }

  /** Position of the oldest frame kept. */
  get start(): WalPosition {
    return { segment: this.#segments[0] ?? this.#segment, offset: 0 };
  }

  /** Position the next frame will take. */
  get end(): WalPosition {
    return { segment: this.#segment, offset: this.#size };
  }

  /** The failure that stopped the log, if any: later appends reject with it. */
  get failure(): SluiceError | undefined {
    return this.#failure;
  }

  /**
   * Appends one frame whose payload is the concatenation of `parts` (not copied: they must not
   * change until `durable` settles). Frames are written in the order of the calls; `durable`
   * resolves, in that order, after the fsync covering the frame.
   */
  append(parts: readonly Buffer[]): WalAppend {
    let length = 0;
    let crc = 0;
    for (const p of parts) {
      length += p.length;
      crc = crc32(p, crc);
    }
    const frameBytes = HEADER_BYTES + length;
    if (this.#size > 0 && this.#size + frameBytes > this.#segmentBytes) {
      this.#segment++;
      this.#size = 0;
    }
    const position = { segment: this.#segment, offset: this.#size };
    this.#size += frameBytes;
    const next = { segment: this.#segment, offset: this.#size };
    if (this.#failure || this.#closed) {
      return {
        position,
        next,
        durable: Promise.reject(
          this.#failure ?? walError('the write-ahead log is closed', undefined, this.#step),
        ),
      };
    }
    if (length > 0xffff_ffff) {
      return {
        position,
        next,
        durable: Promise.reject(walError(`a frame of ${length} bytes is too large`, undefined, this.#step)),
      };
    }
    const header = Buffer.allocUnsafe(HEADER_BYTES);
    header.writeUInt32LE(length, 0);
    header.writeUInt32LE(crc, 4);
    const durable = new Promise<void>((resolve, reject) => {
      this.#pending.push({ segment: position.segment, buffers: [header, ...parts], resolve, reject });
    });
    if (!this.#pumping) void this.#pump();
    return { position, next, durable };
  }

  /** Writes and syncs what is pending, in rounds: each round is one group of frames and one fsync. */
  async #pump(): Promise<void> {
    this.#pumping = true;
    let round: Pending[] = [];
    try {
      while (this.#pending.length > 0) {
        round = this.#pending;
        this.#pending = [];
        let i = 0;
        while (i < round.length) {
          const segment = round[i].segment;
          const handle = await this.#fileFor(segment);
          const buffers: Buffer[] = [];
          for (; i < round.length && round[i].segment === segment; i++) buffers.push(...round[i].buffers);
          await writeAll(handle, buffers);
        }
        await this.#file?.handle.datasync();
        for (const p of round) p.resolve();
        round = [];
      }
    } catch (err) {
      this.#failure = walError(`cannot write the write-ahead log in ${this.dir}`, err, this.#step);
      for (const p of [...round, ...this.#pending]) p.reject(this.#failure);
      this.#pending = [];
    } finally {
      this.#pumping = false;
    }
  }

  /** The handle of `segment`, syncing and closing the previous segment first. */
  async #fileFor(segment: number): Promise<FileHandle> {
    if (this.#file?.segment === segment) return this.#file.handle;
    if (this.#file) {
      await this.#file.handle.datasync();
      await this.#file.handle.close();
      this.#file = undefined;
    }
    const handle = await open(join(this.dir, segmentFileName(segment)), 'a');
    this.#file = { segment, handle };
    if (this.#segments.at(-1) !== segment) {
      this.#segments.push(segment);
      await syncDir(this.dir);
    }
    return handle;
  }

  /**
   * Reads the frames from `from` up to `until` (exclusive), in order. A position inside a removed
   * segment starts at the oldest segment kept instead; `onSkipped` is told so. Rejects with
   * WAL_FAILED on a frame that does not check (a corrupt log is not skipped).
   */
  async *read(
    from: WalPosition,
    until: WalPosition,
    onSkipped?: (kept: WalPosition) => void,
  ): AsyncGenerator<WalFrame> {
    let at = from;
    if (this.#segments.length > 0 && at.segment < this.#segments[0]) {
      at = { segment: this.#segments[0], offset: 0 };
      onSkipped?.(at);
    }
    while (comparePositions(at, until) < 0) {
      const file = join(this.dir, segmentFileName(at.segment));
      let handle: FileHandle;
      try {
        handle = await open(file, 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' && at.segment < until.segment) {
          at = { segment: at.segment + 1, offset: 0 };
          continue;
        }
        throw walError(`cannot read ${file}`, err, this.#step);
      }
      try {
        const end = at.segment === until.segment ? until.offset : (await handle.stat()).size;
        const reader = new FrameReader(handle, at.offset);
        while (reader.offset < end) {
          const offset = reader.offset;
          const payload = await reader.next(end);
          if (payload === undefined) {
            throw walError(`${file} holds a damaged frame at byte ${offset}`, undefined, this.#step);
          }
          yield {
            position: { segment: at.segment, offset },
            next: { segment: at.segment, offset: reader.offset },
            payload,
          };
        }
      } finally {
        await handle.close();
      }
      if (at.segment >= until.segment) break;
      at = { segment: at.segment + 1, offset: 0 };
    }
  }

  /** Removes the segments wholly before `position` (never the one being written). */
  async trim(position: WalPosition): Promise<void> {
    while (
      this.#segments.length > 1 &&
      this.#segments[0] < position.segment &&
      this.#segments[0] !== this.#file?.segment
    ) {
      const segment = this.#segments.shift()!;
      await rm(join(this.dir, segmentFileName(segment)), { force: true });
    }
  }

  /** Waits for pending frames, then closes the segment file. Later appends reject. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#pumping) await new Promise((r) => setImmediate(r));
    const file = this.#file;
    this.#file = undefined;
    await file?.handle.close();
  }
}

/** Whether `dir` holds segment files with frames in them (a log left by an earlier run). */
export async function hasFrames(dir: string): Promise<boolean> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return false;
  }
  for (const name of names) {
    if (SEGMENT_NAME.test(name) && (await stat(join(dir, name))).size > 0) return true;
  }
  return false;
}

function walError(what: string, cause: unknown, step: string): SluiceError {
  const reason = cause instanceof Error ? `: ${cause.message}` : '';
  return new SluiceError(
    'WAL_FAILED',
    `${what}${reason}; the source stops taking requests (what it acknowledged is in the log and is replayed on restart)`,
    { step, cause },
  );
}
