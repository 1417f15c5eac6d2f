/**
 * What every connector's integration tests need around a real server: telling a missing server
 * from a broken test (skip with the reason outside CI, fail under `CI=true`), and an outage made
 * without stopping a server that other tests and sessions share.
 */

import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

/**
 * Reports that a service the tests need is not there: prints `skipped: <message>` — or, under
 * CI (`CI=true`), throws, so the test file fails instead of skipping.
 */
export function reportMissingService(message: string): void {
  if (process.env.CI === 'true') throw new Error(`${message} (CI=true: a missing service is a failure)`);
  console.log(`skipped: ${message}`);
}

/** Whether something accepts TCP connections at `host:port` (false after 2 s without an answer). */
export function portOpen(address: string): Promise<boolean> {
  const { host, port } = splitAddress(address);
  return new Promise((resolve) => {
    const socket = tcpConnect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Whether `name` accepts connections at `address`; when it does not, reports it
 * (`reportMissingService`, with `hint` saying how to start it) and returns false.
 */
export async function serviceAvailable(name: string, address: string, hint: string): Promise<boolean> {
  const ok = await portOpen(address);
  if (!ok) reportMissingService(`${name} not reachable at ${address} (${hint})`);
  return ok;
}

/** How long a connection's other side may take to flush and close after one side closed cleanly. */
const LINGER_MS = 2000;

/**
 * A TCP proxy in front of a shared server that can go down — dropping every connection and
 * refusing new ones — and come back on the same port: a server outage as a client sees it,
 * without stopping the server itself.
 */
export class OutageProxy {
  readonly #target: { host: string; port: number };
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  /** The proxy's port on 127.0.0.1: chosen at the first `up()` and kept after it. */
  port = 0;

  /** @param target the server's `host:port` */
  constructor(target: string) {
    this.#target = splitAddress(target);
  }

  /** Starts accepting connections (again), on the port of the first start; nothing when it is up. */
  async up(): Promise<void> {
    if (this.#server !== undefined) return;
    const server = createServer((client) => {
      this.connections++;
      const upstream = tcpConnect(this.#target);
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => {});
      }
      this.#relay(client, upstream);
      this.#relay(upstream, client);
      // One side closing ends the other. A clean close (FIN) lets what is still queued for the other
      // side through first — a client's last acknowledgements before it disconnects must reach the
      // server, as they would without the proxy; an error or `down()` drops the connection at once.
      const follow = (closed: Socket, other: Socket) =>
        closed.on('close', (hadError) => {
          if (hadError || other.destroyed) return other.destroy();
          other.end();
          setTimeout(() => other.destroy(), LINGER_MS).unref();
        });
      follow(client, upstream);
      follow(upstream, client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    const address = server.address();
    if (address !== null && typeof address === 'object') this.port = address.port;
    this.#server = server;
  }

  /** Bytes a second each direction of each connection passes while throttled; undefined: no limit. */
  #rate: number | undefined;
  /** Connections accepted so far, over every `up()`: a client's reconnect attempts after an outage. */
  connections = 0;

  /**
   * Slows every connection, open and new, to `bytesPerSecond` in each direction (a slow or
   * overloaded server as the client sees it: its writes take longer to be taken); undefined lifts
   * the limit.
   */
  throttle(bytesPerSecond: number | undefined): void {
    this.#rate = bytesPerSecond;
  }

  /** Copies `from` to `to`, pausing `from` while `to` is full and for as long as the throttle asks. */
  #relay(from: Socket, to: Socket): void {
    from.on('data', (chunk: Buffer) => {
      const flushed = to.write(chunk);
      const rate = this.#rate;
      if (flushed && rate === undefined) return;
      from.pause();
      let waits = (flushed ? 0 : 1) + (rate === undefined ? 0 : 1);
      const resume = () => {
        if (--waits === 0 && !from.destroyed) from.resume();
      };
      if (!flushed) to.once('drain', resume);
      if (rate !== undefined) setTimeout(resume, (chunk.length / rate) * 1000);
    });
    from.on('end', () => to.end());
  }

  /** Drops every open connection and stops accepting new ones. */
  async down(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const s of this.#sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The proxy's `127.0.0.1:port`. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }
}

function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
}
