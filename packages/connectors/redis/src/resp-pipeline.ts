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
 *
 * The encoding is `resp-encoder.ts`, the reading of replies `resp-replies.ts`.
 */

import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { RespEncoder } from './resp-encoder.ts';
import { RespReplyReader } from './resp-replies.ts';

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
        ? tlsConnect({
            host: endpoint.host,
            port: endpoint.port,
            // SNI takes host names only (an IP address there is deprecated).
            ...(isIP(endpoint.host) === 0 ? { servername: endpoint.host } : {}),
          })
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
