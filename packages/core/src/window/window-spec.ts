/**
 * Window specs: which windows a record belongs to, and their validation (each kind's own checks
 * are in `window-kinds.ts`).
 *
 * Windows are half-open intervals [start, end) of epoch milliseconds, aligned to the epoch (plus
 * `offset` for tumbling windows). Every length is a whole, positive number of milliseconds.
 */

import { failWindow, windowKind, windowKindNames } from './window-kinds.ts';

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

export { MAX_WINDOWS_PER_RECORD } from './window-kinds.ts';

/**
 * Checks a window spec and returns it in normal form (a tumbling `offset` reduced into
 * [0, size)). Throws CONFIG_INVALID naming `path` when a length is not a positive whole number
 * of milliseconds, a hopping `slide` exceeds `size`, a cumulative `size` is not a multiple of
 * `step`, or a record would fall into more than {@link MAX_WINDOWS_PER_RECORD} windows.
 */
export function validateWindowSpec(spec: WindowSpec, path = 'window'): WindowSpec {
  if (typeof spec !== 'object' || spec === null) failWindow(path, 'must be an object with a type');
  const kind = windowKind((spec as { type?: unknown }).type);
  if (kind === undefined) {
    return failWindow(
      `${path}.type`,
      `unknown window type '${String((spec as { type?: unknown }).type)}'; use ${windowKindNames()}`,
    );
  }
  const fields = spec as unknown as { readonly [field: string]: unknown };
  for (const [field, length] of Object.entries(kind.lengths)) {
    if (length.optional) continue;
    const value = fields[field];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
      failWindow(
        `${path}.${field}`,
        `must be a positive duration such as 1m or 500ms, got ${typeof value === 'number' ? `${value} ms` : String(value)}`,
      );
    }
  }
  return kind.normalize(spec, path);
}
