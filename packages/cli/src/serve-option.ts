/**
 * `sluice run --serve [host:]port`: the HTTP server of `@sluice/server` attached to the job,
 * loaded only when asked for. Tokens come from the environment (`SLUICE_READ_TOKEN`,
 * `SLUICE_ADMIN_TOKEN`), never from the command line, where other users could read them; TLS
 * from the PEM files `--serve-tls-cert` and `--serve-tls-key` name (the key stays in its file),
 * a request rate limit per client address from `--serve-rate-limit`.
 */

import { type Job, SluiceError } from '@sluice/core';

/** Where to listen: `port`, `host:port` or `[ipv6]:port`; the host defaults to loopback. */
export function parseServeAddress(text: string): { host: string; port: number } | undefined {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[^:[\]]+):)?(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port > 65535) return undefined;
  const host = m[1] === undefined ? '127.0.0.1' : m[1].replace(/^\[(.*)\]$/, '$1');
  return { host, port };
}

/** Parses `--serve-rate-limit`: `<per second>` or `<per second>,<burst>`, both above 0. */
export function parseRateLimit(text: string): { perSecond: number; burst?: number } | undefined {
  const m = /^(\d+(?:\.\d+)?)(?:,(\d+))?$/.exec(text);
  if (!m) return undefined;
  const perSecond = Number(m[1]);
  const burst = m[2] === undefined ? undefined : Number(m[2]);
  if (!(perSecond > 0) || burst === 0) return undefined;
  return burst === undefined ? { perSecond } : { perSecond, burst };
}

/** The server's options from the command line besides its address (see `run --help`). */
export interface ServeExtras {
  /** PEM certificate and key, read from the files `--serve-tls-cert` and `--serve-tls-key` name. */
  tls?: { cert: Buffer; key: Buffer };
  rateLimit?: { perSecond: number; burst?: number };
}

/** What `startServer` gives back. */
export interface Served {
  url: string;
  close(): Promise<void>;
}

/** Imports `@sluice/server` and serves `job` at `address`; says what to install when it is missing. */
export async function startServer(
  job: Job,
  address: { host: string; port: number },
  env: NodeJS.ProcessEnv,
  extras: ServeExtras = {},
): Promise<Served> {
  let mod: typeof import('@sluice/server');
  try {
    mod = await import('@sluice/server');
  } catch (err) {
    throw new SluiceError(
      'PIPELINE_LOAD',
      '--serve needs the package @sluice/server: run `npm install @sluice/server`',
      {
        cause: err,
      },
    );
  }
  const tokens = {
    ...(env.SLUICE_READ_TOKEN ? { read: env.SLUICE_READ_TOKEN } : {}),
    ...(env.SLUICE_ADMIN_TOKEN ? { admin: env.SLUICE_ADMIN_TOKEN } : {}),
  };
  return mod.serve(job, { ...address, tokens, ...extras });
}
