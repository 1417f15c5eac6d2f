/**
 * Column values as records carry them, one rule for every path that reads rows (the lookup table,
 * the CDC source's snapshot and its replication stream): `pg`'s parsers, but 64-bit integers as
 * numbers when exact, else as bigints (`pg` gives them as strings).
 */

import pg from 'pg';

/** 64-bit integer text as a number when exact, else as a bigint. */
export function parseInt8(text: string): number | bigint {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : BigInt(text);
}

/** The parsers of a `pg` client or pool that reads rows for records. */
export const recordTypes: pg.CustomTypesConfig = {
  getTypeParser: (oid, format) =>
    oid === pg.types.builtins.INT8 && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(oid, format),
};

/**
 * Makes a row parsed with `pg`'s default parsers (as logical replication's decoder does) what
 * `recordTypes` would have given: each 64-bit integer column (`int8Columns`) from text to a number
 * or bigint. Changes `row` in place.
 */
export function fixInt8(row: { [column: string]: unknown }, int8Columns: readonly string[]): void {
  for (const name of int8Columns) {
    const v = row[name];
    if (typeof v === 'string') row[name] = parseInt8(v);
  }
}
