/**
 * The window kinds, one entry each: their lengths (with the descriptions the `aggregate` step's
 * YAML schema shows), their checks beyond "a positive whole number of milliseconds", and their
 * assigner. `validateWindowSpec`, `createWindowAssigner` and the step's config schema all read
 * this table; a kind is added here and in the `WindowSpec` union, nowhere else.
 */

import { SluiceError } from '../errors.ts';
import type { WindowAssigner } from './window-assigner.ts';
import type { WindowSpec } from './window-spec.ts';

/** Most windows one record may fall into (hopping size/slide, cumulative size/step). */
export const MAX_WINDOWS_PER_RECORD = 10_000;

/** A length of a window kind, as the YAML schema describes it. */
export interface WindowLength {
  readonly description: string;
  /** An optional length may be absent, and may be zero or negative (checked by `normalize`). */
  readonly optional?: true;
}

/** One kind of window. `S` is its member of the `WindowSpec` union. */
export interface WindowKind<S extends WindowSpec> {
  /** Its lengths in milliseconds, in the order they are checked and listed. */
  readonly lengths: { readonly [F in Exclude<keyof S, 'type'>]-?: WindowLength };
  /**
   * Checks what the lengths alone do not (each required length has been checked to be a
   * positive whole number of milliseconds) and returns the spec in normal form. Throws
   * CONFIG_INVALID naming the field under `path`.
   */
  normalize(spec: S, path: string): S;
  /** The assigner of a spec that `normalize` returned. */
  assigner(spec: S): Omit<WindowAssigner, 'spec'>;
}

/** The table type: one entry per member of the `WindowSpec` union, none missing. */
export type WindowKinds = {
  readonly [K in WindowSpec['type']]: WindowKind<Extract<WindowSpec, { type: K }>>;
};

export function failWindow(path: string, message: string): never {
  throw new SluiceError('CONFIG_INVALID', message, { path });
}

/** `value` modulo `size`, in [0, size) also for negative values. */
function floorMod(value: number, size: number): number {
  const r = value % size;
  return r < 0 ? r + size : r;
}

export const windowKinds: WindowKinds = {
  tumbling: {
    lengths: {
      size: { description: 'Window length.' },
      offset: { description: 'Shift of window starts from the epoch, e.g. for time zones.', optional: true },
    },
    normalize(spec, path) {
      const { size } = spec;
      const offset = spec.offset ?? 0;
      if (typeof offset !== 'number' || !Number.isSafeInteger(offset)) {
        failWindow(`${path}.offset`, `must be a whole number of milliseconds, got ${String(offset)}`);
      }
      return { type: 'tumbling', size, offset: ((offset % size) + size) % size };
    },
    assigner(spec) {
      const { size } = spec;
      const offset = spec.offset ?? 0;
      return {
        merging: false,
        maxWindows: 1,
        assign(time, starts, ends) {
          const start = time - floorMod(time - offset, size);
          starts[0] = start;
          ends[0] = start + size;
          return 1;
        },
      };
    },
  },
  hopping: {
    lengths: {
      size: { description: 'Window length.' },
      slide: { description: 'Distance between starts.' },
    },
    normalize(spec, path) {
      const { size, slide } = spec;
      if (slide > size) {
        failWindow(
          `${path}.slide`,
          `slide ${slide} is longer than size ${size}: records between windows would be lost`,
        );
      }
      if (Math.ceil(size / slide) > MAX_WINDOWS_PER_RECORD) {
        failWindow(`${path}.slide`, `size/slide is over ${MAX_WINDOWS_PER_RECORD} windows per record`);
      }
      return { type: 'hopping', size, slide };
    },
    assigner(spec) {
      const { size, slide } = spec;
      return {
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
    },
  },
  session: {
    lengths: {
      gap: { description: 'A session closes after this long without a record of its key.' },
    },
    normalize: (spec) => ({ type: 'session', gap: spec.gap }),
    // The record's own window [t, t + gap), which the operator merges with the key's other sessions.
    assigner(spec) {
      const { gap } = spec;
      return {
        merging: true,
        maxWindows: 1,
        assign(time, starts, ends) {
          starts[0] = time;
          ends[0] = time + gap;
          return 1;
        },
      };
    },
  },
  cumulative: {
    lengths: {
      size: { description: 'Length of the period the windows grow over.' },
      step: { description: 'Growth step: a window [start, start + n·step) fires for each n.' },
    },
    normalize(spec, path) {
      const { size, step } = spec;
      if (size % step !== 0) failWindow(`${path}.size`, `size ${size} is not a multiple of step ${step}`);
      if (size / step > MAX_WINDOWS_PER_RECORD) {
        failWindow(`${path}.step`, `size/step is over ${MAX_WINDOWS_PER_RECORD} windows per record`);
      }
      return { type: 'cumulative', size, step };
    },
    assigner(spec) {
      const { size, step } = spec;
      const steps = size / step;
      return {
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
    },
  },
};

/** A window kind looked up by name: given a spec whose `type` names it. */
export interface NamedWindowKind {
  readonly lengths: { readonly [field: string]: WindowLength };
  normalize(spec: WindowSpec, path: string): WindowSpec;
  assigner(spec: WindowSpec): Omit<WindowAssigner, 'spec'>;
}

/**
 * The kind named `type`, or undefined for a name that is none. Its functions take only specs of
 * that type (the table is keyed by `type`, which TypeScript cannot follow through a lookup).
 */
export function windowKind(type: unknown): NamedWindowKind | undefined {
  if (typeof type !== 'string' || !Object.hasOwn(windowKinds, type)) return undefined;
  return windowKinds[type as WindowSpec['type']] as unknown as NamedWindowKind;
}

/** The kinds' names as a phrase: `tumbling, hopping, session or cumulative`. */
export function windowKindNames(): string {
  const names = Object.keys(windowKinds);
  return `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
}
