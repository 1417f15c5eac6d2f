/**
 * Window assigners: the windows that contain a given time.
 */

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

/** `value` modulo `size`, in [0, size) also for negative values. */
function floorMod(value: number, size: number): number {
  const r = value % size;
  return r < 0 ? r + size : r;
}

/** Builds the assigner for `spec`, validating it first (CONFIG_INVALID, see validateWindowSpec). */
export function createWindowAssigner(input: WindowSpec): WindowAssigner {
  const spec = validateWindowSpec(input);
  switch (spec.type) {
    case 'tumbling': {
      const { size } = spec;
      const offset = spec.offset ?? 0;
      return {
        spec,
        merging: false,
        maxWindows: 1,
        assign(time, starts, ends) {
          const start = time - floorMod(time - offset, size);
          starts[0] = start;
          ends[0] = start + size;
          return 1;
        },
      };
    }
    case 'hopping': {
      const { size, slide } = spec;
      return {
        spec,
        merging: false,
        maxWindows: Math.ceil(size / slide),
        assign(time, starts, ends) {
          let n = 0;
          for (let start = time - floorMod(time, slide); start > time - size; start -= slide) {
            starts[n] = start;
            ends[n] = start + size;
            n++;
          }
          return n;
        },
      };
    }
    case 'cumulative': {
      const { size, step } = spec;
      const steps = size / step;
      return {
        spec,
        merging: false,
        maxWindows: steps,
        assign(time, starts, ends) {
          const start = time - floorMod(time, size);
          let n = 0;
          for (let k = Math.floor((time - start) / step) + 1; k <= steps; k++) {
            starts[n] = start;
            ends[n] = start + k * step;
            n++;
          }
          return n;
        },
      };
    }
    case 'session': {
      const { gap } = spec;
      return {
        spec,
        merging: true,
        maxWindows: 1,
        assign(time, starts, ends) {
          starts[0] = time;
          ends[0] = time + gap;
          return 1;
        },
      };
    }
  }
}
