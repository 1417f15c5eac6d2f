/**
 * State of tumbling, hopping and cumulative windows: windows shared by all keys.
 *
 * A window is known by its end (its start follows from the spec), so the state is a Map from
 * window end to the window's groups, plus the ends in ascending order. Consecutive records
 * mostly hit the same window, so the last window looked up is cached. The keyed state the
 * runtime checkpoints is per key ({@link AlignedWindowStore.entries}): each key's groups, with
 * their windows, are gathered at a checkpoint, and the windows rebuilt from them at a restore —
 * both off the path of records.
 */

import type { Row } from '../record.ts';
import type { GroupKey } from './group-key.ts';
import type { ResultEmitter } from './result-emitter.ts';
import type { WindowAssigner } from './window-assigner.ts';
import {
  checkAdd,
  checkedFunctions,
  createAccumulators,
  type Group,
  notWindowState,
  readNextSeq,
  type StoreSettings,
  type WindowStore,
} from './window-store.ts';

/** One window and the groups in it; plain data, checkpointed as it is. */
interface WindowState {
  start: number;
  end: number;
  /** Whether the window's results have been emitted (a change is then emitted as an update). */
  fired: boolean;
  groups: Map<GroupKey, Group>;
}

/** Checkpoint form before the state was keyed (snapshot format v1, v2): the windows in ascending end order. */
interface AlignedSnapshotV2 {
  windows: (Omit<WindowState, 'groups'> & { groups: Map<GroupKey, Omit<Group, 'seq'>> })[];
}

/** One key's group in one window: a key's entry in the keyed state is a list of these, by end. */
interface KeyWindow {
  start: number;
  end: number;
  fired: boolean;
  group: Group;
}

interface Update {
  window: WindowState;
  key: GroupKey;
  group: Group;
}

/** Window state for assigners whose windows do not merge. */
export class AlignedWindowStore implements WindowStore {
  readonly #assigner: WindowAssigner;
  readonly #settings: StoreSettings;
  readonly #windows = new Map<number, WindowState>();
  /** Ends of `#windows`, ascending. */
  #ends: number[] = [];
  #cachedEnd = Number.NaN;
  #cached: WindowState | undefined;
  readonly #starts: Float64Array;
  readonly #windowEnds: Float64Array;
  #updates: Update[] = [];
  readonly #updated = new Set<Group>();
  #nextDue = Number.NEGATIVE_INFINITY;
  readonly #checked: number[];
  #nextSeq = 0;

  constructor(assigner: WindowAssigner, settings: StoreSettings) {
    this.#assigner = assigner;
    this.#settings = settings;
    this.#checked = checkedFunctions(settings.functions);
    this.#starts = new Float64Array(assigner.maxWindows);
    this.#windowEnds = new Float64Array(assigner.maxWindows);
  }

  add(key: GroupKey, record: Row, time: number, values: readonly unknown[], progress: number): boolean {
    const { functions, allowedLateness } = this.#settings;
    const count = this.#assigner.assign(time, this.#starts, this.#windowEnds);
    const checked = this.#checked;
    if (count === 1) return this.#addToOne(key, record, values, progress);
    if (checked.length > 0) {
      for (let w = 0; w < count; w++) {
        const end = this.#windowEnds[w];
        if (end - 1 + allowedLateness <= progress) continue;
        const group = (end === this.#cachedEnd ? this.#cached : this.#windows.get(end))?.groups.get(key);
        if (group !== undefined) checkAdd(functions, checked, group.accumulators, values);
      }
    }
    let accepted = false;
    for (let w = 0; w < count; w++) {
      const end = this.#windowEnds[w];
      if (end - 1 + allowedLateness <= progress) continue;
      accepted = true;
      const window = end === this.#cachedEnd ? this.#cached! : this.#window(this.#starts[w], end, progress);
      let group = window.groups.get(key);
      if (group === undefined) {
        group = {
          seq: this.#nextSeq++,
          keyValues: this.#settings.keyValuesOf(record),
          accumulators: createAccumulators(functions),
        };
        window.groups.set(key, group);
      }
      const accumulators = group.accumulators;
      for (let j = 0; j < functions.length; j++)
        accumulators[j] = functions[j].add(accumulators[j], values[j]);
      if (window.fired && !this.#updated.has(group)) {
        this.#updated.add(group);
        this.#updates.push({ window, key, group });
      }
    }
    return accepted;
  }

  /**
   * `add` for a record in exactly one window (tumbling windows): one lookup of its group, the
   * checks of the functions that can refuse a value, then the additions.
   */
  #addToOne(key: GroupKey, record: Row, values: readonly unknown[], progress: number): boolean {
    const { functions, allowedLateness } = this.#settings;
    const end = this.#windowEnds[0];
    if (end - 1 + allowedLateness <= progress) return false;
    const window = end === this.#cachedEnd ? this.#cached! : this.#window(this.#starts[0], end, progress);
    let group = window.groups.get(key);
    if (group === undefined) {
      group = {
        seq: this.#nextSeq++,
        keyValues: this.#settings.keyValuesOf(record),
        accumulators: createAccumulators(functions),
      };
      window.groups.set(key, group);
    } else if (this.#checked.length > 0) {
      checkAdd(functions, this.#checked, group.accumulators, values);
    }
    const accumulators = group.accumulators;
    for (let j = 0; j < functions.length; j++) accumulators[j] = functions[j].add(accumulators[j], values[j]);
    if (window.fired && !this.#updated.has(group)) {
      this.#updated.add(group);
      this.#updates.push({ window, key, group });
    }
    return true;
  }

  /** The window ending at `end`, created when missing (already fired when it is already due). */
  #window(start: number, end: number, progress: number): WindowState {
    let window = this.#windows.get(end);
    if (window === undefined) {
      window = { start, end, fired: end - 1 <= progress, groups: new Map() };
      this.#windows.set(end, window);
      const due = window.fired ? end - 1 + this.#settings.allowedLateness : end - 1;
      if (due < this.#nextDue) this.#nextDue = due;
      const ends = this.#ends;
      if (ends.length === 0 || end > ends[ends.length - 1]) {
        ends.push(end);
      } else {
        let lo = 0;
        let hi = ends.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (ends[mid] < end) lo = mid + 1;
          else hi = mid;
        }
        ends.splice(lo, 0, end);
      }
    }
    this.#cachedEnd = end;
    this.#cached = window;
    return window;
  }

  advance(progress: number, emitter: ResultEmitter): void {
    const ends = this.#ends;
    const retain = this.#settings.allowedLateness > 0;
    for (let i = 0; i < ends.length && ends[i] - 1 <= progress; i++) {
      const window = this.#windows.get(ends[i])!;
      if (window.fired) continue;
      window.fired = true;
      if (retain) {
        for (const [key, group] of window.groups) {
          group.emitted = emitter.add(key, group.keyValues, window.start, window.end, group.accumulators);
        }
      } else {
        for (const [key, group] of window.groups) {
          emitter.add(key, group.keyValues, window.start, window.end, group.accumulators);
        }
      }
    }
    const lateness = this.#settings.allowedLateness;
    let expired = 0;
    while (expired < ends.length && ends[expired] - 1 + lateness <= progress) {
      this.#windows.delete(ends[expired]);
      expired++;
    }
    if (expired > 0) {
      ends.splice(0, expired);
      this.#cachedEnd = Number.NaN;
      this.#cached = undefined;
    }
    // Next: the first window not fired yet, or the first fired one's end of allowed lateness.
    let next = Number.POSITIVE_INFINITY;
    if (ends.length > 0) {
      next = ends[0] - 1 + lateness;
      for (let i = 0; i < ends.length; i++) {
        if (ends[i] - 1 > progress) {
          if (ends[i] - 1 < next) next = ends[i] - 1;
          break;
        }
      }
    }
    this.#nextDue = next;
  }

  get nextDue(): number {
    return this.#nextDue;
  }

  get hasUpdates(): boolean {
    return this.#updates.length > 0;
  }

  flushUpdates(emitter: ResultEmitter): void {
    if (this.#updates.length === 0) return;
    const updates = this.#updates.sort((a, b) => a.window.end - b.window.end);
    for (const { window, key, group } of updates) {
      group.emitted = emitter.change(
        key,
        group.keyValues,
        window.start,
        window.end,
        group.accumulators,
        group.emitted,
      );
    }
    this.#updates = [];
    this.#updated.clear();
  }

  entries(): Iterable<readonly [GroupKey, KeyWindow[]]> {
    const byKey = new Map<GroupKey, KeyWindow[]>();
    for (const end of this.#ends) {
      const { start, fired, groups } = this.#windows.get(end)!;
      for (const [key, group] of groups) {
        const window: KeyWindow = { start, end, fired, group };
        const list = byKey.get(key);
        if (list === undefined) byKey.set(key, [window]);
        else list.push(window);
      }
    }
    return byKey.entries();
  }

  restoreKey(key: GroupKey, entry: unknown): void {
    if (!Array.isArray(entry)) notWindowState('aligned windows');
    for (const { start, end, fired, group } of entry as KeyWindow[]) {
      if (typeof end !== 'number' || typeof group?.seq !== 'number') notWindowState('aligned windows');
      let window = this.#windows.get(end);
      if (window === undefined) {
        window = { start, end, fired, groups: new Map() };
        this.#windows.set(end, window);
      }
      window.groups.set(key, group);
    }
  }

  rebuild(): void {
    this.#ends = [...this.#windows.keys()].sort((a, b) => a - b);
    for (const window of this.#windows.values())
      window.groups = new Map([...window.groups].sort((a, b) => a[1].seq - b[1].seq));
    this.#cachedEnd = Number.NaN;
    this.#cached = undefined;
    // Unknown until the next advance computes it: advance at the first chance.
    this.#nextDue = Number.NEGATIVE_INFINITY;
  }

  snapshot(): { nextSeq: number } {
    return { nextSeq: this.#nextSeq };
  }

  restore(state: unknown): void {
    this.#nextSeq = readNextSeq(state, 'aligned windows');
  }

  restoreLegacy(state: unknown): void {
    const windows = (state as Partial<AlignedSnapshotV2> | null)?.windows;
    if (!Array.isArray(windows)) notWindowState('aligned windows');
    this.#windows.clear();
    // Groups take their window's order, which is the order they fire in.
    for (const window of windows) {
      const groups = new Map<GroupKey, Group>();
      for (const [key, group] of window.groups) groups.set(key, { ...group, seq: this.#nextSeq++ });
      this.#windows.set(window.end, { ...window, groups });
    }
    this.#ends = [...this.#windows.keys()].sort((a, b) => a - b);
    this.#cachedEnd = Number.NaN;
    this.#cached = undefined;
    this.#nextDue = Number.NEGATIVE_INFINITY;
  }
}
