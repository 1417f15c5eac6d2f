/**
 * Window assigners: the windows that contain a given time.
 */

import { windowKind } from './window-kinds.ts';
import type { WindowSpec } from './window-spec.ts';
import { validateWindowSpec } from './window-spec.ts';

/**
 * Computes the windows containing a time, into caller-owned arrays (nothing is allocated per
 * record). For sessions it returns the record's own window [t, t + gap), which the operator then
 * merges with the key's other sessions.
 */
export interface WindowAssigner {
  readonly spec: WindowSpec;
  /** Whether windows merge per key after assignment (sessions). */
  readonly merging: boolean;
  /** Most windows `assign` can return; size `starts` and `ends` to this. */
  readonly maxWindows: number;
  /** Writes the [start, end) of every window containing `time` from index 0; returns how many. */
  assign(time: number, starts: Float64Array, ends: Float64Array): number;
}

/** Builds the assigner for `spec`, validating it first (CONFIG_INVALID, see validateWindowSpec). */
export function createWindowAssigner(input: WindowSpec): WindowAssigner {
  const spec = validateWindowSpec(input);
  return { spec, ...windowKind(spec.type)!.assigner(spec) };
}
