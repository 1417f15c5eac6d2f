/**
 * File operations of the write-ahead log: reading frames back, finding where the valid frames of
 * a segment end, writing a group of buffers, and syncing a folder.
 */

import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { crc32 } from 'node:zlib';

/** Frame header: payload length (u32 LE) and the payload's CRC-32 (u32 LE). */
export const HEADER_BYTES = 8;
const READ_BYTES = 1 << 20;

/** Reads frames one after another from an offset, a block at a time. */
export class FrameReader {
  readonly #handle: FileHandle;
  #block = Buffer.alloc(0);
  /** File offset of `#block[0]`. */
  #blockAt: number;
  offset: number;

  constructor(handle: FileHandle, offset: number) {
    this.#handle = handle;
    this.#blockAt = offset;
    this.offset = offset;
  }

  /** The payload of the frame at `offset`, or undefined when it is torn, damaged or passes `end`. */
  async next(end: number): Promise<Buffer | undefined> {
    const header = await this.#bytes(HEADER_BYTES, end);
    if (header === undefined) return undefined;
    const length = header.readUInt32LE(0);
    const crc = header.readUInt32LE(4);
    if (length === 0) return undefined;
    const payload = await this.#bytes(length, end, HEADER_BYTES);
    if (payload === undefined || crc32(payload) !== crc) return undefined;
    this.offset += HEADER_BYTES + length;
    return payload;
  }

  /** `n` bytes at `offset + skip`, or undefined when the file (or `end`) ends first. */
  async #bytes(n: number, end: number, skip = 0): Promise<Buffer | undefined> {
    const from = this.offset + skip;
    if (from + n > end) return undefined;
    const have = this.#blockAt + this.#block.length;
    if (from < this.#blockAt || from + n > have) {
      const size = Math.max(n, READ_BYTES);
      const block = Buffer.allocUnsafe(size);
      const { bytesRead } = await this.#handle.read(block, 0, size, from);
      this.#block = block.subarray(0, bytesRead);
      this.#blockAt = from;
      if (bytesRead < n) return undefined;
    }
    const start = from - this.#blockAt;
    return this.#block.subarray(start, start + n);
  }
}

/** Length of the valid frames at the start of a segment of `size` bytes. */
export async function validLength(handle: FileHandle, size: number): Promise<number> {
  const reader = new FrameReader(handle, 0);
  while (reader.offset < size) {
    if ((await reader.next(size)) === undefined) break;
  }
  return reader.offset;
}

/** Writes every buffer in order at the end of the file (retrying partial writes). */
export async function writeAll(handle: FileHandle, buffers: Buffer[]): Promise<void> {
  for (let i = 0; i < buffers.length; ) {
    const group = buffers.slice(i, i + 512);
    let total = 0;
    for (const b of group) total += b.length;
    const { bytesWritten } = await handle.writev(group);
    if (bytesWritten < total) {
      const rest = Buffer.concat(group).subarray(bytesWritten);
      let done = 0;
      while (done < rest.length) done += (await handle.write(rest, done)).bytesWritten;
    }
    i += group.length;
  }
}

/** Makes a new file's directory entry durable. A no-op where directories cannot be synced. */
export async function syncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL') throw err;
  } finally {
    await handle?.close();
  }
}
