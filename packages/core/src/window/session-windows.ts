/**
 * State of session windows: per key, disjoint sessions that grow and merge.
 *
 * A record at t opens the window [t, t + gap); every session of its key that overlaps it (the
 * intervals are half-open, so records exactly `gap` apart are in different sessions) merges into
 * one, whose end is its last record's time + gap. Each key's sessions are kept sorted by start.
 *
 * Sessions wait in one due-queue ordered by (due, seq): due is end − 1 before the session fires
 * and end − 1 + allowedLateness after, when its state is dropped. A session that grows is not
 * re-queued: when its old due time comes up it is put back with the new one, so in-order input
 * costs no queue work per record. The queue order is total, so a restored store fires sessions in
 * the same order as one that never stopped. The keyed state the runtime checkpoints is each key's
 * sessions ({@link SessionWindowStore.entries}); a restore queues them again.
 */

import type { Row } from '../record.ts';
import { type DueEntry, DueQueue } from './due-queue.ts';
import type { GroupKey } from './group-key.ts';
import type { ResultEmitter } from './result-emitter.ts';
import {
  checkAdd,
  checkedFunctions,
  createAccumulators,
  notWindowState,
  readNextSeq,
  type StoreSettings,
  type WindowStore,
} from './window-store.ts';

/** Checkpoint form of one session (a key's entry in the keyed state is a list of these, by start). */
interface SessionState {
  start: number;
  end: number;
  /** Whether the current result has been emitted (a change is then emitted at once). */
  fired: boolean;
  /** Creation order, the tie-break between sessions with the same end. */
  seq: number;
  keyValues: readonly unknown[] | null;
  accumulators: unknown[];
  /**
   * With allowed lateness: the result last emitted for this session, which its next firing
   * updates (UPDATE_BEFORE/UPDATE_AFTER). Kept while the session lives, also while it waits to
   * fire again after a late record made it grow beyond the watermark.
   */
  emitted?: Row;
  /**
   * With allowed lateness: the emitted results of sessions merged into this one, deleted
   * (DELETE) when this one next fires.
   */
  retracted?: Row[] | undefined;
}

interface Session extends SessionState, DueEntry {
  readonly key: GroupKey;
  readonly seq: number;
}

/** Checkpoint form of the store before its state was keyed (snapshot format v1, v2). */
interface SessionSnapshotV2 {
  sessions: (SessionState & { key: GroupKey })[];
  nextSeq: number;
}

/** Window state for session windows. */
export class SessionWindowStore implements WindowStore {
  readonly #gap: number;
  readonly #settings: StoreSettings;
  readonly #byKey = new Map<GroupKey, Session[]>();
  #queue = new DueQueue<Session>();
  #nextSeq = 0;
  #updates: Session[] = [];
  readonly #checked: number[];
  /** Whether sessions keep what they emitted (allowed lateness > 0). */
  readonly #retain: boolean;

  constructor(gap: number, settings: StoreSettings) {
    this.#gap = gap;
    this.#settings = settings;
    this.#retain = settings.allowedLateness > 0;
    this.#checked = checkedFunctions(settings.functions);
  }

  /**
   * Throws when the functions refuse to merge sessions `first` … `last` of `list` (a copy of
   * their accumulators is merged to find out) or to add `values` to the result; changes nothing.
   */
  #check(list: readonly Session[], first: number, last: number, values: readonly unknown[]): void {
    const { functions } = this.#settings;
    if (last === first) {
      checkAdd(functions, this.#checked, list[first].accumulators, values);
      return;
    }
    const merged = list[first].accumulators.slice();
    for (let j = 0; j < functions.length; j++) {
      const fn = functions[j];
      if (fn.check === undefined && fn.checkMerge === undefined) continue;
      merged[j] = structuredClone(merged[j]);
      for (let i = first + 1; i <= last; i++) {
        const other = list[i].accumulators[j];
        fn.checkMerge?.(merged[j], other);
        merged[j] = fn.merge(merged[j], structuredClone(other));
      }
    }
    checkAdd(functions, this.#checked, merged, values);
  }

  #due(session: Session): number {
    return session.fired ? session.end - 1 + this.#settings.allowedLateness : session.end - 1;
  }

  add(key: GroupKey, record: Row, time: number, values: readonly unknown[], progress: number): boolean {
    const { functions } = this.#settings;
    const end = time + this.#gap;
    let list = this.#byKey.get(key);
    let first = -1;
    let last = -1;
    if (list !== undefined) {
      for (let i = list.length - 1; i >= 0; i--) {
        const s = list[i];
        if (s.end <= time) break;
        if (s.start < end) {
          if (last < 0) last = i;
          first = i;
        }
      }
    }
    let session: Session;
    if (first < 0) {
      if (end - 1 + this.#settings.allowedLateness <= progress) return false;
      session = {
        key,
        start: time,
        end,
        fired: false,
        seq: this.#nextSeq++,
        keyValues: this.#settings.keyValuesOf(record),
        accumulators: createAccumulators(functions),
        queuedDue: end - 1,
        heapIndex: -1,
      };
      if (list === undefined) {
        list = [session];
        this.#byKey.set(key, list);
      } else {
        let at = list.length;
        while (at > 0 && list[at - 1].start > time) at--;
        list.splice(at, 0, session);
      }
      this.#queue.push(session);
    } else {
      this.#check(list!, first, last, values);
      session = list![first];
      if (time < session.start) session.start = time;
      const mergedEnd = Math.max(end, list![last].end);
      if (mergedEnd > session.end) session.end = mergedEnd;
      if (last > first) {
        for (let i = first + 1; i <= last; i++) {
          const other = list![i];
          for (let j = 0; j < functions.length; j++) {
            session.accumulators[j] = functions[j].merge(session.accumulators[j], other.accumulators[j]);
          }
          if (other.emitted !== undefined || other.retracted !== undefined) this.#absorb(session, other);
          this.#queue.remove(other);
        }
        list!.splice(first + 1, last - first);
      }
    }
    const accumulators = session.accumulators;
    for (let j = 0; j < functions.length; j++) accumulators[j] = functions[j].add(accumulators[j], values[j]);
    session.fired = session.end - 1 <= progress;
    if (session.fired) this.#updates.push(session);
    const due = this.#due(session);
    if (due < session.queuedDue) {
      session.queuedDue = due;
      this.#queue.update(session);
    }
    return true;
  }

  /** Moves what `other` emitted into the results `session` deletes when it next fires. */
  #absorb(session: Session, other: Session): void {
    const retracted = session.retracted ?? [];
    if (other.retracted !== undefined) retracted.push(...other.retracted);
    if (other.emitted !== undefined) retracted.push(other.emitted);
    session.retracted = retracted;
  }

  /**
   * Emits the session's result: as an INSERT the first time (without allowed lateness, always),
   * else as a change of what it and the sessions merged into it emitted before.
   */
  #fire(s: Session, emitter: ResultEmitter): void {
    if (!this.#retain) {
      emitter.add(s.key, s.keyValues, s.start, s.end, s.accumulators);
      return;
    }
    s.emitted = emitter.change(s.key, s.keyValues, s.start, s.end, s.accumulators, s.emitted, s.retracted);
    if (s.retracted !== undefined) s.retracted = undefined;
  }

  advance(progress: number, emitter: ResultEmitter): void {
    const queue = this.#queue;
    for (let s = queue.peek(); s !== undefined && s.queuedDue <= progress; s = queue.peek()) {
      const due = this.#due(s);
      if (due !== s.queuedDue) {
        s.queuedDue = due;
        queue.update(s);
      } else if (!s.fired) {
        s.fired = true;
        this.#fire(s, emitter);
        s.queuedDue = this.#due(s);
        queue.update(s);
      } else {
        queue.remove(s);
        const list = this.#byKey.get(s.key)!;
        list.splice(list.indexOf(s), 1);
        if (list.length === 0) this.#byKey.delete(s.key);
      }
    }
  }

  get nextDue(): number {
    return this.#queue.peek()?.queuedDue ?? Number.POSITIVE_INFINITY;
  }

  get hasUpdates(): boolean {
    return this.#updates.length > 0;
  }

  flushUpdates(emitter: ResultEmitter): void {
    if (this.#updates.length === 0) return;
    const updates = [...new Set(this.#updates)].sort((a, b) => a.end - b.end || a.seq - b.seq);
    this.#updates = [];
    for (const s of updates) {
      if (s.heapIndex >= 0 && s.fired) this.#fire(s, emitter);
    }
  }

  *entries(): Iterable<readonly [GroupKey, SessionState[]]> {
    for (const [key, list] of this.#byKey) {
      const sessions: SessionState[] = [];
      for (const s of list) {
        const saved: SessionState = {
          start: s.start,
          end: s.end,
          fired: s.fired,
          seq: s.seq,
          keyValues: s.keyValues,
          accumulators: s.accumulators,
        };
        if (s.emitted !== undefined) saved.emitted = s.emitted;
        if (s.retracted !== undefined) saved.retracted = s.retracted;
        sessions.push(saved);
      }
      yield [key, sessions];
    }
  }

  restoreKey(key: GroupKey, entry: unknown): void {
    if (!Array.isArray(entry)) notWindowState('session windows');
    for (const saved of entry as SessionState[]) this.#restoreSession(key, saved);
  }

  #restoreSession(key: GroupKey, saved: SessionState): void {
    if (typeof saved?.end !== 'number' || typeof saved.seq !== 'number') notWindowState('session windows');
    const session: Session = { ...saved, key, queuedDue: 0, heapIndex: -1 };
    session.queuedDue = this.#due(session);
    let list = this.#byKey.get(key);
    if (list === undefined) {
      list = [];
      this.#byKey.set(key, list);
    }
    list.push(session);
    this.#queue.push(session);
  }

  rebuild(): void {
    // Each key's sessions came back as one list, sorted by start, and went into the queue.
  }

  snapshot(): { nextSeq: number } {
    return { nextSeq: this.#nextSeq };
  }

  restore(state: unknown): void {
    this.#nextSeq = readNextSeq(state, 'session windows');
  }

  restoreLegacy(state: unknown): void {
    const snapshot = state as Partial<SessionSnapshotV2> | null;
    if (!Array.isArray(snapshot?.sessions)) notWindowState('session windows');
    this.#nextSeq = readNextSeq(snapshot, 'session windows');
    for (const { key, ...saved } of snapshot.sessions) this.#restoreSession(key, saved);
  }
}
