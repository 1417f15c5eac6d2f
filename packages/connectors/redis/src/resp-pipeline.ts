/**
 * The `redis` sink's write path below the client library: a batch of commands encoded as RESP
 * into one buffer, written to one socket in one call, and the replies parsed as they arrive —
 * counted, with each error reply kept by the index of its command. node-redis spends a promise,
 * a queue entry and a `writev` chunk per argument on every command (docs/benchmarks.md); here a
 * batch costs one write, one promise and the bytes.
 *
 * The connection is opened from the same options as node-redis's (`redis://` or `rediss://`
 * URL with user, password and database; `connect_timeout`; `reply_timeout`) and set up the same
 * way: `AUTH`, `SELECT`, `CLIENT SETNAME`. It does not reconnect by itself: a lost connection
 * fails the batch in flight as transient, with the number of replies received, and the next
 * batch opens a new one (the sink's retries space the attempts with capped backoff).
 */

import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Row } from '@sluice/core';
import type { CommandWriter } from './commands.ts';
import { fieldText } from './encode.ts';
import type { Template } from './template.ts';

/** Where and as whom to connect, from a `redis://[[user]:password@]host[:port][/db]` URL. */
export interface RespEndpoint {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  readonly username?: string;
  readonly password?: string;
  readonly database?: number;
}

/** Reads a Redis URL as node-redis does; throws a TypeError naming what is wrong (never the URL). */
export function parseRedisUrl(url: string): RespEndpoint {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError('the URL cannot be parsed');
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new TypeError(`the URL's scheme must be redis: or rediss:, not ${u.protocol}`);
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  const endpoint: {
    host: string;
    port: number;
    tls: boolean;
    username?: string;
    password?: string;
    database?: number;
  } = {
    host: host || '127.0.0.1',
    port: u.port === '' ? 6379 : Number(u.port),
    tls: u.protocol === 'rediss:',
  };
  if (u.username) endpoint.username = decodeURIComponent(u.username);
  if (u.password) endpoint.password = decodeURIComponent(u.password);
  if (u.pathname.length > 1) {
    const database = Number(u.pathname.slice(1));
    if (!Number.isInteger(database) || database < 0)
      throw new TypeError('the URL path must be a database number');
    endpoint.database = database;
  }
  return endpoint;
}

// ---------------------------------------------------------------------------------------------
// Encoding

const CR = 13;
const LF = 10;
const STAR = 42;
const DOLLAR = 36;

/** Text up to this many UTF-16 units is written by a loop, longer text by Buffer#write. */
const SHORT = 64;

/** The number of decimal digits of a non-negative integer. */
function digitCount(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/**
 * A batch of commands as RESP (arrays of bulk strings) in one growing buffer, reused from batch to
 * batch, with the record each command was written for. Byte lengths are not computed apart: each
 * string is written once, after a length prefix sized for its character count, and moved in the
 * rare case its UTF-8 bytes need more digits.
 */
export class RespEncoder implements CommandWriter {
  #buf: Buffer;
  #pos = 0;
  /** Where each command of the batch starts, and the end of the last (`count + 1` entries). */
  readonly #starts: number[] = [0];
  /** The number of commands (the arrays are written by index, not emptied: they keep their room). */
  #count = 0;
  /** The record of each command, and its name. */
  readonly #records: number[] = [];
  readonly #names: string[] = [];
  /** Constant arguments (command names, options) encoded once. */
  readonly #constants = new Map<string, Buffer>();
  /** The constant written last (most batches repeat one command name): no lookup. */
  #lastConstant: string | undefined;
  #lastBytes: Buffer | undefined;
  /** The bulk string being written: where its `$` is, the digits its prefix has room for, its body. */
  #argAt = 0;
  #guess = 0;
  #body = 0;
  /** The field texts of a template being filled. */
  readonly #texts: string[] = [];

  constructor(initialSize = 64 * 1024) {
    this.#buf = Buffer.allocUnsafe(initialSize);
  }

  /** The number of commands encoded since the last `reset`. */
  get count(): number {
    return this.#count;
  }

  /** The record command `j` was written for. */
  recordOf(j: number): number {
    return this.#records[j] as number;
  }

  /** The name of command `j` (`HSET`). */
  nameOf(j: number): string {
    return this.#names[j] as string;
  }

  /** Empties the batch (the buffer is kept). */
  reset(): void {
    this.#pos = 0;
    this.#count = 0;
  }

  /** Encodes one command, `args[0]` its name, for record `record`. */
  command(args: readonly string[], record = -1): void {
    const n = args.length;
    this.begin(record, args[0] as string, n);
    for (let i = 1; i < n; i++) this.arg(args[i] as string);
    this.end();
  }

  /** Starts a command of `count` strings, `name` the first: `*count\r\n$…\r\nname\r\n`. */
  begin(record: number, name: string, count: number): void {
    this.#ensure(24);
    const buf = this.#buf;
    buf[this.#pos++] = STAR;
    this.#pos = writeDigits(buf, this.#pos, count);
    buf[this.#pos++] = CR;
    buf[this.#pos++] = LF;
    this.constant(name);
    this.#records[this.#count] = record;
    this.#names[this.#count] = name;
  }

  /** Ends the command begun last. */
  end(): void {
    this.#starts[++this.#count] = this.#pos;
  }

  /** A string that recurs in every batch (a command name, `MAXLEN`): its encoding is cached. */
  constant(s: string): void {
    let bytes = s === this.#lastConstant ? this.#lastBytes : this.#constants.get(s);
    if (bytes === undefined) {
      const body = Buffer.from(s, 'utf8');
      bytes = Buffer.concat([Buffer.from(`$${body.length}\r\n`, 'latin1'), body, Buffer.from('\r\n')]);
      this.#constants.set(s, bytes);
    }
    this.#lastConstant = s;
    this.#lastBytes = bytes;
    this.#ensure(bytes.length);
    this.#buf.set(bytes, this.#pos);
    this.#pos += bytes.length;
  }

  /** One bulk string: `$<bytes>\r\n<UTF-8 bytes>\r\n`. */
  arg(s: string): void {
    this.#open(s.length);
    this.#put(s);
    this.#close();
  }

  /** The bulk string of `template` filled from `record`, written part by part (no string built). */
  filled(template: Template, record: Row): void {
    const { parts, fields } = template;
    if (fields.length === 1) {
      // The usual key, `prefix:{id}`: no list of texts.
      const text = fieldText(record[fields[0] as string]);
      const head = parts[0] as string;
      const tail = parts[1] as string;
      this.#open(head.length + text.length + tail.length);
      this.#put(head);
      this.#put(text);
      this.#put(tail);
      this.#close();
      return;
    }
    const texts = this.#texts;
    let chars = 0;
    for (let i = 0; i < fields.length; i++) {
      const text = fieldText(record[fields[i] as string]);
      texts[i] = text;
      chars += text.length;
    }
    for (let i = 0; i < parts.length; i++) chars += (parts[i] as string).length;
    this.#open(chars);
    this.#put(parts[0] as string);
    for (let i = 0; i < fields.length; i++) {
      this.#put(texts[i] as string);
      this.#put(parts[i + 1] as string);
    }
    this.#close();
  }

  /** Starts a bulk string of `chars` UTF-16 units, with a length prefix sized for `chars` bytes. */
  #open(chars: number): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit; the prefix at most 1 + 10 + 2 bytes.
    this.#ensure(chars * 3 + 16);
    this.#argAt = this.#pos;
    this.#guess = digitCount(chars);
    this.#pos += this.#guess + 3;
    this.#body = this.#pos;
  }

  /**
   * Writes `s` as UTF-8 at the end: short ASCII text byte by byte (cheaper than a call into the
   * binding up to some 64 characters: keys with a long prefix stay on this path), anything else
   * with Buffer#write.
   */
  #put(s: string): void {
    const n = s.length;
    const buf = this.#buf;
    const at = this.#pos;
    if (n <= SHORT) {
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[at + i] = c;
      }
      if (i === n) {
        this.#pos = at + n;
        return;
      }
    }
    this.#pos = at + buf.write(s, at, 'utf8');
  }

  /** Ends the bulk string begun last: its length prefix (moved when it needs more digits) and CR LF. */
  #close(): void {
    const buf = this.#buf;
    let body = this.#body;
    const bytes = this.#pos - body;
    const digits = digitCount(bytes);
    if (digits !== this.#guess) {
      buf.copyWithin(body + digits - this.#guess, body, body + bytes);
      body += digits - this.#guess;
    }
    const at = this.#argAt;
    buf[at] = DOLLAR;
    writeDigits(buf, at + 1, bytes);
    buf[body - 2] = CR;
    buf[body - 1] = LF;
    buf[body + bytes] = CR;
    buf[body + bytes + 1] = LF;
    this.#pos = body + bytes + 2;
  }

  /** The bytes of the batch (a view of the encoder's buffer: valid until the next `reset`). */
  bytes(): Buffer {
    return this.#buf.subarray(0, this.#pos);
  }

  /** The bytes of commands `commands` (positions in the batch, in order), as a copy. */
  select(commands: readonly number[]): Buffer {
    const parts: Buffer[] = [];
    for (const j of commands) parts.push(this.#buf.subarray(this.#starts[j], this.#starts[j + 1]));
    return Buffer.concat(parts);
  }

  #ensure(more: number): void {
    if (this.#pos + more <= this.#buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#pos + more));
    this.#buf.copy(grown, 0, 0, this.#pos);
    this.#buf = grown;
  }
}

/** Writes `n` (a non-negative integer) in decimal at `at`; returns the position after it. */
function writeDigits(buf: Buffer, at: number, n: number): number {
  if (n < 10) {
    buf[at] = 48 + n;
    return at + 1;
  }
  const end = at + digitCount(n);
  let p = end;
  while (n >= 10) {
    const q = Math.floor(n / 10);
    buf[--p] = 48 + n - q * 10;
    n = q;
  }
  buf[--p] = 48 + n;
  return end;
}

/** Encodes one command on its own (a copy). */
export function encodeCommand(args: readonly string[]): Buffer {
  const encoder = new RespEncoder(256);
  encoder.command(args);
  return Buffer.from(encoder.bytes());
}

// ---------------------------------------------------------------------------------------------
// Replies

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

// ---------------------------------------------------------------------------------------------
// The connection

/** What became of a batch: how many replies came, the error replies by command, a lost connection. */
export interface PipelineResult {
  /** Replies received, in command order: commands `0 … replied - 1` were answered. */
  readonly replied: number;
  /** Error replies by command index (among the answered ones). */
  readonly errors: ReadonlyMap<number, string> | undefined;
  /** Set when the connection was lost before every reply came (the rest may or may not have run). */
  readonly lost: Error | undefined;
}

export interface RespConnectOptions {
  readonly endpoint: RespEndpoint;
  /** ms one connection attempt (with its setup commands) may take. */
  readonly connectTimeout: number;
  /** ms the connection may go without data while it expects replies. */
  readonly replyTimeout: number;
  /** `CLIENT SETNAME`: how `CLIENT LIST` shows the connection. */
  readonly name: string;
}

/** A connection setup command refused: the message of Redis's error reply. */
export class RespSetupError extends Error {
  override name = 'RespSetupError';
}

/** The buffer a connection reads into (its replies are read before the next read). */
const READ_BUFFER = 64 * 1024;

/**
 * One connection that writes batches of encoded commands and counts their replies; a batch at a
 * time. Once lost it stays closed (`open` is false): the owner opens a new one.
 */
export class RespConnection {
  readonly #socket: Socket;
  readonly #reader: RespReplyReader;
  #open = true;
  #expected = 0;
  #errors: Map<number, string> | undefined;
  #done: ((result: PipelineResult) => void) | undefined;
  /** Why the connection ended, once it has. */
  #failure: Error | undefined;

  private constructor(socket: Socket, reader: RespReplyReader) {
    this.#socket = socket;
    this.#reader = reader;
    socket.on('timeout', () => {
      // Idle without a batch in flight is fine; with one, the server stopped answering.
      if (this.#done !== undefined) this.#lose(new Error('reply timeout: no reply from Redis in time'));
    });
    socket.on('error', (err) => this.#lose(err));
    socket.on('close', () => this.#lose(new Error('connection closed')));
    socket.on('end', () => this.#lose(new Error('connection closed by the server')));
  }

  /** Whether batches can still be sent. */
  get open(): boolean {
    return this.#open;
  }

  /**
   * Connects, authenticates, selects the database and names the connection. Rejects with a
   * RespSetupError when Redis refuses a setup command (its reply's text), otherwise with the
   * socket's error or a timeout.
   */
  static async connect(options: RespConnectOptions): Promise<RespConnection> {
    const { endpoint } = options;
    // Replies are read straight from the socket into one buffer (`onread`): no stream, no Buffer
    // per read. The reader copies what it keeps of a chunk. Data before the connection is made
    // (none is asked for) is dropped.
    let connection: RespConnection | undefined;
    const reader = new RespReplyReader((reply, message) => {
      if (connection !== undefined) connection.#error(reply, message);
    });
    const onread = {
      buffer: Buffer.allocUnsafe(READ_BUFFER),
      callback: (bytes: number, buf: Uint8Array): boolean => {
        if (connection !== undefined) connection.#read(buf as Buffer, bytes);
        return true;
      },
    };
    const socket = await new Promise<Socket>((resolve, reject) => {
      // TLS sockets take no `onread` (in Node's types): they read by 'data' events.
      const s = endpoint.tls
        ? tlsConnect({ host: endpoint.host, port: endpoint.port, servername: endpoint.host })
        : netConnect({ host: endpoint.host, port: endpoint.port, onread });
      if (endpoint.tls)
        s.on('data', (chunk: Buffer) => {
          if (connection !== undefined) connection.#read(chunk, chunk.length);
        });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`connection timeout after ${options.connectTimeout} ms`));
      }, options.connectTimeout);
      s.once(endpoint.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      // Stays on: an error before the connection takes the socket over ends the socket.
      s.once('error', (err) => {
        clearTimeout(timer);
        s.destroy();
        reject(err);
      });
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 5000);
    socket.setTimeout(options.replyTimeout);
    connection = new RespConnection(socket, reader);
    if (socket.destroyed) connection.#lose(new Error('connection closed'));
    const setup = new RespEncoder(256);
    if (endpoint.password !== undefined)
      setup.command(
        endpoint.username === undefined
          ? ['AUTH', endpoint.password]
          : ['AUTH', endpoint.username, endpoint.password],
      );
    if (endpoint.database !== undefined) setup.command(['SELECT', String(endpoint.database)]);
    setup.command(['CLIENT', 'SETNAME', options.name]);
    const result = await connection.send(setup.bytes(), setup.count);
    if (result.lost !== undefined) {
      connection.destroy();
      throw result.lost;
    }
    const refused = result.errors?.values().next().value;
    if (refused !== undefined) {
      connection.destroy();
      throw new RespSetupError(refused);
    }
    return connection;
  }

  /**
   * Writes `bytes` (`count` encoded commands) and resolves once every reply came, or once the
   * connection is lost (with the replies received until then). Never rejects.
   */
  send(bytes: Buffer, count: number): Promise<PipelineResult> {
    if (!this.#open)
      return Promise.resolve({
        replied: 0,
        errors: undefined,
        lost: this.#failure ?? new Error('connection closed'),
      });
    if (this.#done !== undefined) throw new Error('a batch is already in flight on this connection');
    if (count === 0) return Promise.resolve({ replied: 0, errors: undefined, lost: undefined });
    this.#expected = count;
    this.#reader.count = 0;
    this.#errors = undefined;
    const result = new Promise<PipelineResult>((resolve) => {
      this.#done = resolve;
    });
    this.#socket.write(bytes);
    return result;
  }

  #read(buf: Buffer, bytes: number): void {
    if (!this.#open) return;
    try {
      this.#reader.feed(buf.subarray(0, bytes));
    } catch (err) {
      this.#lose(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    const replied = this.#reader.count;
    if (replied === 0) return;
    if (this.#done === undefined || replied > this.#expected)
      this.#lose(new Error('a reply from Redis that no command asked for'));
    else if (replied === this.#expected) this.#finish(undefined);
  }

  #error(reply: number, message: string): void {
    this.#errors ??= new Map();
    this.#errors.set(reply, message);
  }

  #finish(lost: Error | undefined): void {
    const done = this.#done;
    this.#done = undefined;
    done?.({ replied: this.#reader.count, errors: this.#errors, lost });
  }

  #lose(err: Error): void {
    if (!this.#open) return;
    this.#open = false;
    this.#failure = err;
    this.#socket.destroy();
    this.#finish(err);
    this.#reader.reset();
  }

  /** Closes the connection once the server has read what was written (no batch may be in flight). */
  async close(): Promise<void> {
    if (!this.#open) return;
    this.#open = false;
    this.#failure = new Error('connection closed');
    const socket = this.#socket;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        socket.destroy();
        resolve();
      }, 1000);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.end();
    });
  }

  /** Drops the connection at once; a batch in flight ends as lost. */
  destroy(): void {
    this.#lose(new Error('connection destroyed'));
  }
}
