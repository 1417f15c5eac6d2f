/**
 * Window specs: which windows a record belongs to, and their validation.
 *
 * Windows are half-open intervals [start, end) of epoch milliseconds, aligned to the epoch (plus
 * `offset` for tumbling windows). Every length is a whole, positive number of milliseconds.
 */

import { SluiceError } from '../errors.ts';

/** The kinds of window, with their lengths in milliseconds. */
export type WindowSpec =
  /** Back-to-back windows of `size`, starting at multiples of `size` plus `offset`. */
  | { type: 'tumbling'; size: number; offset?: number }
  /** Windows of `size` starting every `slide` (slide ≤ size); a record is in ⌈size/slide⌉ or so. */
  | { type: 'hopping'; size: number; slide: number }
  /** Per key, records closer than `gap` join one session [first, last + gap). */
  | { type: 'session'; gap: number }
  /**
   * Periods of `size` aligned to the epoch; within one, the windows [start, start + step),
   * [start, start + 2·step) … [start, start + size), all sharing `start` (Flink CUMULATE).
   */
  | { type: 'cumulative'; size: number; step: number };

/** Most windows one record may fall into (hopping size/slide, cumulative size/step). */
export const MAX_WINDOWS_PER_RECORD = 10_000;

function fail(path: string, message: string): never {
  throw new SluiceError('CONFIG_INVALID', message, { path });
}

function length(spec: object, field: string, path: string): number {
  const value = (spec as { [field: string]: unknown })[field];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    fail(
      `${path}.${field}`,
      `must be a positive duration such as 1m or 500ms, got ${typeof value === 'number' ? `${value} ms` : String(value)}`,
    );
  }
  return value;
}

/**
 * Checks a window spec and returns it in normal form (a tumbling `offset` reduced into
 * [0, size)). Throws CONFIG_INVALID naming `path` when a length is not a positive whole number
 * of milliseconds, a hopping `slide` exceeds `size`, a cumulative `size` is not a multiple of
 * `step`, or a record would fall into more than {@link MAX_WINDOWS_PER_RECORD} windows.
 */
export function validateWindowSpec(spec: WindowSpec, path = 'window'): WindowSpec {
  if (typeof spec !== 'object' || spec === null) fail(path, 'must be an object with a type');
  switch (spec.type) {
    case 'tumbling': {
      const size = length(spec, 'size', path);
      const offset = spec.offset ?? 0;
      if (typeof offset !== 'number' || !Number.isSafeInteger(offset)) {
        fail(`${path}.offset`, `must be a whole number of milliseconds, got ${String(offset)}`);
      }
      return { type: 'tumbling', size, offset: ((offset % size) + size) % size };
    }
    case 'hopping': {
      const size = length(spec, 'size', path);
      const slide = length(spec, 'slide', path);
      if (slide > size) {
        fail(
          `${path}.slide`,
          `slide ${slide} is longer than size ${size}: records between windows would be lost`,
        );
      }
      if (Math.ceil(size / slide) > MAX_WINDOWS_PER_RECORD) {
        fail(`${path}.slide`, `size/slide is over ${MAX_WINDOWS_PER_RECORD} windows per record`);
      }
      return { type: 'hopping', size, slide };
    }
    case 'session':
      return { type: 'session', gap: length(spec, 'gap', path) };
    case 'cumulative': {
      const size = length(spec, 'size', path);
      const step = length(spec, 'step', path);
      if (size % step !== 0) fail(`${path}.size`, `size ${size} is not a multiple of step ${step}`);
      if (size / step > MAX_WINDOWS_PER_RECORD) {
        fail(`${path}.step`, `size/step is over ${MAX_WINDOWS_PER_RECORD} windows per record`);
      }
      return { type: 'cumulative', size, step };
    }
    default:
      return fail(
        `${path}.type`,
        `unknown window type '${String((spec as { type?: unknown }).type)}'; use tumbling, hopping, session or cumulative`,
      );
  }
}
