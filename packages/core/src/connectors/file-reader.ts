/**
 * Reads one file as a source partition: once to its end, or followed like `tail -F` (rotation
 * and truncation detected), resumable at an exact byte offset.
 */

import type { Stats } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import type { Logger, SourceBatch, SourceReader } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import { createDecoder, type DecodeOutput, type RecordDecoder, sourceBatchOf } from './format-decode.ts';
import type { DecodeOptions } from './format-options.ts';

/** Bytes read from the file at a time. */
const CHUNK_BYTES = 1 << 20;
/** How far back from the end `start: end` looks for the start of the last line. */
const TAIL_SCAN_BYTES = 64 * 1024;

/**
 * Position of a `file` partition: the byte offset just after the last record returned, and the
 * inode of the file it belongs to (to notice a file replaced while the job was down).
 */
export interface FilePosition {
  offset: number;
  inode?: number;
}

/** What a `FileReader` needs besides its path. */
export interface FileReaderOptions {
  /** Absolute path; also the partition id. */
  readonly path: string;
  readonly mode: 'once' | 'follow';
  /** Follow mode: how long to wait for new data before returning an empty batch, ms. */
  readonly pollMs: number;
  /** Follow mode, no restored position: read the file from its start, or only what is appended. */
  readonly start: 'beginning' | 'end';
  readonly decode: DecodeOptions;
  readonly log: Logger;
  /** Source id, for error messages. */
  readonly step: string;
}

/** The reader of one file partition. Create it with `FileReader.open`. */
export class FileReader implements SourceReader {
  readonly partition: string;
  readonly #options: FileReaderOptions;
  readonly #decoder: RecordDecoder;
  #fh: FileHandle | null = null;
  #inode: number | undefined;
  /** File offset of the next byte to read. */
  #readPos = 0;
  #scratch: Buffer | null = null;
  /** Follow mode: the path now names another file; read the old one to its end, then switch. */
  #draining = false;
  #done = false;

  private constructor(options: FileReaderOptions) {
    this.partition = options.path;
    this.#options = options;
    this.#decoder = createDecoder(options.decode);
  }

  /**
   * Opens the file and places the reader: at `restored` when given (from the start, with a
   * warning, when the file was replaced or is shorter), else at the start or, following with
   * `start: end`, at the start of its last line. In follow mode a missing file is waited for.
   */
  static async open(options: FileReaderOptions, restored: unknown): Promise<FileReader> {
    const reader = new FileReader(options);
    await reader.#start(checkPosition(restored, options));
    return reader;
  }

  position(): FilePosition {
    const offset = this.#decoder.offset;
    return this.#inode === undefined ? { offset } : { offset, inode: this.#inode };
  }

  async read(max: number, signal: AbortSignal): Promise<SourceBatch | null> {
    if (this.#done) return null;
    const decoder = this.#decoder;
    const out = decoder.newOutput();
    if (signal.aborted) return sourceBatchOf(out);
    const follow = this.#options.mode === 'follow';
    let waited = false;
    for (;;) {
      if (this.#done) return sourceBatchOf(out);
      let count = out.records.length + out.failures.length;
      if (count < max) count += decoder.decode(out, max - count, false);
      if (count >= max) return sourceBatchOf(out);
      if (this.#fh !== null && (await this.#fill()) > 0) continue;
      if (!follow) {
        decoder.decode(out, max - count, true);
        if (out.records.length + out.failures.length > 0) return sourceBatchOf(out);
        await this.close();
        return null;
      }
      if (count > 0) return sourceBatchOf(out);
      if (await this.#checkFile(out, max)) continue;
      if (waited || signal.aborted) return sourceBatchOf(out);
      await sleep(this.#options.pollMs, signal);
      waited = true;
    }
  }

  async close(): Promise<void> {
    this.#done = true;
    const fh = this.#fh;
    this.#fh = null;
    if (fh !== null) await fh.close();
  }

  async #start(restored: FilePosition | undefined): Promise<void> {
    const { path, log, mode } = this.#options;
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      if (mode === 'follow' && isNotFound(err)) {
        log.warn('file does not exist yet; waiting for it', { path });
        this.#decoder.reset(0);
        return;
      }
      throw this.#ioError(`cannot open '${path}'`, err);
    }
    try {
      const { ino, size } = await fh.stat();
      let offset = 0;
      if (restored !== undefined) {
        if (restored.inode !== undefined && restored.inode !== ino) {
          log.warn('file was replaced since the checkpoint (its inode changed); reading it from the start', {
            path,
          });
        } else if (restored.offset > size) {
          log.warn('file is shorter than the checkpointed offset (truncated?); reading it from the start', {
            path,
            offset: restored.offset,
            size,
          });
        } else {
          offset = restored.offset;
        }
      } else if (mode === 'follow' && this.#options.start === 'end') {
        offset = await lastLineStart(fh, size);
      }
      await this.#attach(fh, ino, offset);
    } catch (err) {
      await fh.close();
      throw err instanceof SluiceError ? err : this.#ioError(`cannot read '${path}'`, err);
    }
  }

  /** Makes `fh` the file being read, from `offset` (re-reading the CSV header when it needs it). */
  async #attach(fh: FileHandle, inode: number, offset: number): Promise<void> {
    const decode = this.#options.decode;
    const columns =
      decode.format === 'csv' && decode.header && offset > 0 ? await readCsvHeader(fh, decode) : undefined;
    this.#fh = fh;
    this.#inode = inode;
    this.#readPos = offset;
    this.#draining = false;
    this.#decoder.reset(offset, columns);
  }

  /** Reads the next chunk into the decoder; returns the bytes read (0 at the end of the file). */
  async #fill(): Promise<number> {
    const fh = this.#fh!;
    const buffer = this.#scratch ?? Buffer.allocUnsafe(CHUNK_BYTES);
    let bytesRead: number;
    try {
      ({ bytesRead } = await fh.read(buffer, 0, CHUNK_BYTES, this.#readPos));
    } catch (err) {
      throw this.#ioError(`cannot read '${this.partition}'`, err);
    }
    if (bytesRead === 0) {
      this.#scratch = buffer;
      return 0;
    }
    this.#readPos += bytesRead;
    if (bytesRead > CHUNK_BYTES / 4) {
      this.#scratch = null;
      this.#decoder.push(buffer.subarray(0, bytesRead));
    } else {
      this.#scratch = buffer;
      this.#decoder.push(Buffer.from(buffer.subarray(0, bytesRead)));
    }
    return bytesRead;
  }

  /**
   * Follow mode at the end of the file: notices a file that appeared, was rotated (the path names
   * another inode) or truncated. Returns whether there may be more to read now.
   */
  async #checkFile(out: DecodeOutput, max: number): Promise<boolean> {
    const { path, log } = this.#options;
    let current: Stats | null;
    try {
      current = await stat(path);
    } catch (err) {
      if (!isNotFound(err)) throw this.#ioError(`cannot stat '${path}'`, err);
      current = null;
    }
    const fh = this.#fh;
    if (fh === null) {
      if (current === null || !current.isFile()) return false;
      const opened = await this.#openIfPresent();
      if (opened === null) return false;
      log.info('file appeared; reading it', { path });
      await this.#attach(opened, current.ino, 0);
      return true;
    }
    if (current !== null && current.ino !== this.#inode) {
      if (!this.#draining) {
        this.#draining = true;
        return true;
      }
      const count = out.records.length + out.failures.length;
      this.#decoder.decode(out, max - count, true);
      if (this.#decoder.pending > 0) return true;
      const opened = await this.#openIfPresent();
      if (opened === null) return false;
      const ino = await this.#statOf(opened, 'ino');
      await fh.close();
      log.info('file was rotated; reading the new file from the start', { path });
      await this.#attach(opened, ino, 0);
      return true;
    }
    const size = current?.size ?? (await this.#statOf(fh, 'size'));
    if (size < this.#readPos) {
      log.warn('file was truncated; reading it from the start', { path, size, offset: this.#readPos });
      this.#readPos = 0;
      this.#decoder.reset(0);
      return true;
    }
    return false;
  }

  async #statOf(fh: FileHandle, field: 'ino' | 'size'): Promise<number> {
    try {
      return (await fh.stat())[field];
    } catch (err) {
      throw this.#ioError(`cannot stat '${this.partition}'`, err);
    }
  }

  async #openIfPresent(): Promise<FileHandle | null> {
    try {
      return await open(this.#options.path, 'r');
    } catch (err) {
      if (isNotFound(err)) return null;
      throw this.#ioError(`cannot open '${this.#options.path}'`, err);
    }
  }

  #ioError(message: string, cause: unknown): SluiceError {
    const detail = cause instanceof Error ? `: ${cause.message}` : '';
    return new SluiceError('IO_ERROR', message + detail, { step: this.#options.step, cause });
  }
}

function checkPosition(restored: unknown, options: FileReaderOptions): FilePosition | undefined {
  if (restored === undefined) return undefined;
  const position = restored as Partial<FilePosition> | null;
  const offset = position?.offset;
  const inode = position?.inode;
  if (
    typeof offset !== 'number' ||
    !Number.isSafeInteger(offset) ||
    offset < 0 ||
    (inode !== undefined && typeof inode !== 'number')
  ) {
    throw new SluiceError(
      'CHECKPOINT_INCOMPATIBLE',
      `position ${JSON.stringify(restored)} of '${options.path}' is not a file position { offset, inode }; ` +
        'restart with --from-scratch',
      { step: options.step },
    );
  }
  return inode === undefined ? { offset } : { offset, inode };
}

/** Offset just after the last `\n` in the final bytes of the file (or `size`, or 0 for a short file). */
async function lastLineStart(fh: FileHandle, size: number): Promise<number> {
  const length = Math.min(size, TAIL_SCAN_BYTES);
  if (length === 0) return 0;
  const buffer = Buffer.allocUnsafe(length);
  const { bytesRead } = await fh.read(buffer, 0, length, size - length);
  const nl = buffer.subarray(0, bytesRead).lastIndexOf(0x0a);
  if (nl >= 0) return size - length + nl + 1;
  return size <= TAIL_SCAN_BYTES ? 0 : size;
}

/** Reads the column names from the first CSV row of the file (undefined when it has none). */
async function readCsvHeader(fh: FileHandle, options: DecodeOptions): Promise<readonly string[] | undefined> {
  const decoder = createDecoder(options);
  const sink: DecodeOutput = { records: [], offsets: [], failures: [] };
  const size = 64 * 1024;
  let position = 0;
  while (decoder.columns === undefined) {
    const buffer = Buffer.allocUnsafe(size);
    const { bytesRead } = await fh.read(buffer, 0, size, position);
    position += bytesRead;
    if (bytesRead > 0) decoder.push(buffer.subarray(0, bytesRead));
    decoder.decode(sink, 1, bytesRead === 0);
    if (bytesRead === 0) break;
  }
  return decoder.columns;
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
