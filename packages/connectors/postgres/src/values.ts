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
