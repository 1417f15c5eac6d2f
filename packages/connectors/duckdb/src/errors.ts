/**
 * How the `duckdb` sink tells DuckDB's failures apart: a value DuckDB refuses for good (the
 * record goes to the dead letters), a database file another process holds (retried), or anything
 * else (the write fails).
 */

import { SluiceError } from '@sluice/core';

/** What a DuckDB failure means for the sink. */
export type FailureKind = 'record' | 'transient' | 'fatal';

/** The classes of DuckDB errors a single value causes: it will never be written as it is. */
const RECORD =
  /^(Conversion|Constraint|Invalid Input|Out of Range|Mismatch Type|Type Mismatch) Error|^Failed to cast/;
/** A database file another process holds (it may let go: a pipeline restarting). */
const TRANSIENT = /Could not set lock|Conflicting lock/;

export function failureKind(err: unknown): FailureKind {
  if (err instanceof SluiceError) return 'fatal';
  const message = reasonOf(err);
  if (RECORD.test(message)) return 'record';
  if (TRANSIENT.test(message)) return 'transient';
  return 'fatal';
}

/** DuckDB's message, as it gave it. */
export function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
