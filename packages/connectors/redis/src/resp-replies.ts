/**
 * RESP2 replies as the `redis` sink reads them (`resp-pipeline.ts`): counted as they arrive, in
 * chunks split anywhere, each error reply's text kept by its number.
 */

const LF = 10;
const STAR = 42;
const DOLLAR = 36;

/**
 * Reads RESP2 replies from the chunks a socket delivers, split anywhere: counts complete top-level
 * replies and calls `onError` with the number of each error reply (from 0) and its text (`-ERR …`
 * without the `-`). Replies inside arrays are skipped, not built: a write needs only to know which
 * command failed and why.
 */
export class RespReplyReader {
  /** Complete replies read since the last `reset`. */
  count = 0;
  /** The start of a reply not yet complete, kept until the next chunk (a copy). */
  #pending: Buffer | undefined;
  readonly #onError: (reply: number, message: string) => void;

  constructor(onError: (reply: number, message: string) => void) {
    this.#onError = onError;
  }

  /** Starts counting again and drops a partial reply (of a connection that is gone). */
  reset(): void {
    this.count = 0;
    this.#pending = undefined;
  }

  /** Reads `chunk` (which may be reused once this returns). Throws when the bytes are not RESP. */
  feed(chunk: Buffer): void {
    let buf = chunk;
    if (this.#pending !== undefined) {
      buf = Buffer.concat([this.#pending, chunk]);
      this.#pending = undefined;
    }
    const length = buf.length;
    let pos = 0;
    let count = this.count;
    while (pos < length) {
      const type = buf[pos] as number;
      // The usual replies of writes, `:n\r\n` and `+OK\r\n`, without the general path.
      if (type === 58 || type === 43) {
        // A short line: found by a loop, cheaper than a call into the binding (indexOf).
        let end = pos + 1;
        while (end < length && buf[end] !== LF) end++;
        if (end === length) break;
        pos = end + 1;
        count++;
        continue;
      }
      if (type === 45) {
        const end = buf.indexOf(LF, pos + 1);
        if (end < 0) break;
        const message = buf.toString('utf8', pos + 1, end - 1);
        pos = end + 1;
        this.count = count + 1;
        this.#onError(count++, message);
        continue;
      }
      const end = skipReply(buf, pos);
      if (end < 0) break;
      pos = end;
      count++;
    }
    this.count = count;
    if (pos < length) this.#pending = Buffer.from(buf.subarray(pos));
  }
}

/** The position after the complete reply at `pos`, or -1 when it is not all there yet. */
function skipReply(buf: Buffer, pos: number): number {
  const type = buf[pos];
  const lineEnd = buf.indexOf(LF, pos + 1);
  if (lineEnd < 0) return -1;
  switch (type) {
    case 43: // +simple
    case 45: // -error
    case 58: // :integer
      return lineEnd + 1;
    case DOLLAR: {
      const size = Number(buf.toString('latin1', pos + 1, lineEnd - 1));
      if (!Number.isInteger(size)) throw new Error('malformed RESP bulk length');
      if (size < 0) return lineEnd + 1;
      const end = lineEnd + 1 + size + 2;
      return end <= buf.length ? end : -1;
    }
    case STAR: {
      const count = Number(buf.toString('latin1', pos + 1, lineEnd - 1));
      if (!Number.isInteger(count)) throw new Error('malformed RESP array length');
      let at = lineEnd + 1;
      for (let i = 0; i < count; i++) {
        if (at >= buf.length) return -1;
        at = skipReply(buf, at);
        if (at < 0) return -1;
      }
      return at;
    }
    default:
      throw new Error(`unexpected RESP reply type ${JSON.stringify(String.fromCharCode(type ?? 0))}`);
  }
}
