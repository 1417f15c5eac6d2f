/**
 * What a failure from the server or the connection means for the sink: a record the server
 * refuses for good, an outage worth retrying, or a setup error no retry fixes.
 */

import { SluiceError } from '@sluice/core';

/** What a failure says about the statement that met it. */
export type FailureKind = 'record' | 'transient' | 'setup';

/** The SQLSTATE of a server error (`DatabaseError.code`), or of a socket error (`ECONNRESET`). */
function codeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  const code = (err as { code: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** Socket error codes of a connection that failed or broke. */
const socketCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/**
 * `record`: the data of a row broke a rule of the table (SQLSTATE class 22, data exception —
 * wrong type, too long, out of range; class 23, integrity — NOT NULL, unique, check, foreign
 * key): the statement's rows are tried in halves until the row is found. `transient`: the
 * connection failed or broke (class 08, socket errors, `pg`'s "Connection terminated"), the
 * server is shutting down or starting (57P01–57P03), out of connections or resources (53), or
 * the transaction lost a race (40001, 40P01): retried with backoff. `setup`: anything else —
 * no such table or column, authentication, permissions, a database that does not exist.
 */
export function failureKind(err: unknown): FailureKind {
  const code = codeOf(err);
  if (code !== undefined) {
    if (socketCodes.has(code)) return 'transient';
    const cls = code.slice(0, 2);
    if (cls === '22' || cls === '23') return 'record';
    if (
      cls === '08' ||
      cls === '53' ||
      cls === '40' ||
      code === '57P01' ||
      code === '57P02' ||
      code === '57P03'
    )
      return 'transient';
    if (code.length === 5) return 'setup';
  }
  const message = err instanceof Error ? err.message : String(err);
  // `pg` reports a socket closed under it, a query on a dead client and its own connection timeout in words only.
  if (
    /Connection terminated|Client has encountered a connection error|not queryable|timeout expired/i.test(
      message,
    )
  )
    return 'transient';
  return 'setup';
}

/** The server's reason, as a dead letter or error shows it: message, detail and the column. */
export function serverReason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const e = err as Error & { detail?: unknown; column?: unknown; code?: unknown; where?: unknown };
  const parts = [e.message];
  if (typeof e.detail === 'string' && e.detail) parts.push(e.detail);
  if (typeof e.column === 'string' && e.column) parts.push(`column ${e.column}`);
  else if (typeof e.where === 'string' && /column /.test(e.where)) {
    const col = /column (\S+?):?(\s|$)/.exec(e.where);
    if (col) parts.push(`column ${col[1]}`);
  }
  if (typeof e.code === 'string') parts.push(`SQLSTATE ${e.code}`);
  return parts.join('; ');
}

/** A failure the sink cannot get past, as the one error class: the original stays as `cause`. */
export function sinkError(err: unknown, step: string, what: string): SluiceError {
  if (err instanceof SluiceError) return err;
  const kind = failureKind(err);
  const code = kind === 'transient' ? 'SINK_UNAVAILABLE' : 'CONFIG_INVALID';
  return new SluiceError(code, `postgres sink: ${what}: ${serverReason(err)}`, { step, cause: err });
}
