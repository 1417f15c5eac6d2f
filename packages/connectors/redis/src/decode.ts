/**
 * Stream entries and pub/sub messages → Sluice records, for the `redis` source.
 */

import { type DecodeFailure, jsonValueProblem, type Row } from '@sluice/core';

/** A decoded input: the record and, for JSON, the text it was parsed from. */
export type Decoded = { row: Row; text: string | undefined } | { failure: DecodeFailure };

/** Parses `raw` as one JSON object; anything else is a failure with the reason. */
export function decodeJson(raw: string, maxDepth: number, what: string): Decoded {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    return { failure: { payload: raw, message: `${what} is not valid JSON: ${(err as Error).message}` } };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    const kind = Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : typeof parsed;
    return { failure: { payload: raw, message: `${what} is JSON ${kind}, not an object` } };
  }
  const problem = jsonValueProblem(raw, parsed, maxDepth);
  if (problem !== undefined) return { failure: { payload: raw, message: `${what} ${problem}` } };
  return { row: parsed as Row, text: raw };
}

/**
 * A stream entry's fields as a record (`format: fields`), or its `jsonField` parsed (`json`). With
 * `fields` the object is the record itself, not a copy: the reader builds a fresh one per entry
 * and keeps no reference to it.
 */
export function decodeEntry(
  id: string,
  fields: { [field: string]: string },
  format: 'fields' | 'json',
  jsonField: string,
  maxDepth: number,
): Decoded {
  if (format === 'fields') return { row: fields, text: undefined };
  const raw = fields[jsonField];
  if (raw === undefined)
    return {
      failure: {
        payload: JSON.stringify({ ...fields }),
        message: `entry ${id} has no field '${jsonField}'`,
        offset: id,
      },
    };
  const decoded = decodeJson(raw, maxDepth, `entry ${id}: field '${jsonField}'`);
  if ('failure' in decoded) decoded.failure.offset = id;
  return decoded;
}

/** The time of a stream entry: the milliseconds part of its id. */
export function entryTime(id: string): number {
  const dash = id.indexOf('-');
  return Number(dash < 0 ? id : id.slice(0, dash));
}
