/**
 * Durations and timestamps. Event time is always a number of epoch milliseconds.
 */

import { SluiceError } from './errors.ts';

const units: { [unit: string]: number } = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * Parses a duration such as `250ms`, `5s`, `1m`, `1h30m` or `2d` (a bare number is milliseconds).
 * Throws CONFIG_INVALID naming `path` when the text is not a duration.
 */
export function parseDuration(value: string | number, path = 'duration'): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return value;
    throw new SluiceError('CONFIG_INVALID', `${value} is not a duration; give zero or more milliseconds`, {
      path,
    });
  }
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * units[m[2]];
    matched = re.lastIndex;
  }
  if (matched === 0 || matched !== text.length) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `'${value}' is not a duration; write a number with a unit, e.g. 500ms, 5s, 1m, 1h, 2d`,
      { path },
    );
  }
  return total;
}

/** Formats milliseconds as the shortest duration text, e.g. 90000 → `1m30s`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0ms';
  let rest = ms;
  let out = '';
  for (const [unit, size] of [
    ['d', units.d],
    ['h', units.h],
    ['m', units.m],
    ['s', units.s],
  ] as const) {
    if (rest >= size) {
      const n = Math.floor(rest / size);
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  if (rest > 0) out += `${rest}ms`;
  return out;
}

/**
 * Reads a timestamp: epoch milliseconds (number or numeric string) or ISO-8601 text (UTC when
 * it has no offset).
 * Returns NaN when the value is not a timestamp.
 */
export function toEpochMillis(value: unknown): number {
  if (typeof value === 'number') return Number.isFinite(value) ? value : Number.NaN;
  if (typeof value === 'string') {
    if (value.length > 0 && value.length < 17 && /^-?\d+$/.test(value)) return Number(value);
    // ISO-8601 date-times without an offset are UTC here (Date.parse would read local time).
    if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value))
      return Date.parse(`${value.replace(' ', 'T')}Z`);
    return Date.parse(value);
  }
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'bigint') return Number(value);
  return Number.NaN;
}

/** A source of processing time. Tests use a manual clock; the runtime uses `systemClock`. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to. */
export class ManualClock implements Clock {
  #now: number;
  constructor(start = 0) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  set(ms: number): void {
    this.#now = ms;
  }
  advance(ms: number): void {
    this.#now += ms;
  }
}

/** Watermark meaning "no record will ever come again". */
export const END_OF_TIME = Number.POSITIVE_INFINITY;
/** Watermark before any record. */
export const START_OF_TIME = Number.NEGATIVE_INFINITY;
