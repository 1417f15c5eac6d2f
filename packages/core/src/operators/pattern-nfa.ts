/**
 * The pattern matcher of one key: a Pike-style NFA simulation whose threads carry the records
 * they matched, kept in priority order so that the preferred match of each start is the one a
 * backtracking matcher (SQL's MATCH_RECOGNIZE) would find first.
 *
 * A thread waits for the next element of one stage. On each record, in event-time order, every
 * thread either takes the record (the stage's condition holds: it then branches into the
 * choices its quantifiers allow, greedy ones preferring to take more, reluctant ones to move
 * on), skips it (relaxed contiguity: the condition failed), or dies (strict contiguity). Every
 * record may also start a match. A thread reaching the end of the pattern accepts: with a skip
 * strategy other than `no_skip` it cuts the threads of its start that rank below it, and the
 * match is final once no thread of its start or an earlier one remains. `within` kills threads
 * whose first record is that long before the current time.
 *
 * An alternation (SQL `(B | C)`) is a run of stages entered together, the earlier ranked higher;
 * the stage after it follows each of them.
 *
 * Absent stages (Flink `notNext`, `notFollowedBy`) are no states of their own: a thread that has
 * just left a positive stage carries a guard naming the gap it crossed, and dies on a record that
 * meets one of the gap's conditions — a `notNext` one only on the first record after the last one
 * taken, a `notFollowedBy` one until the next stage takes a record. A guarded thread past the last
 * stage waits at the end: for the next record (`notNext`) or for `within` (`notFollowedBy`).
 */

import type { Accumulators } from './pattern-accumulators.ts';
import type { Absence, MatchData, Stage } from './pattern-compile.ts';

/** After-match skip strategies (Flink's AfterMatchSkipStrategy, SQL's AFTER MATCH SKIP). */
export type SkipStrategy = 'no_skip' | 'to_next_row' | 'past_last_row' | 'to_first' | 'to_last';

/**
 * A partial match waiting for an element of `stage`, which already holds `count` records;
 * `stage` is the number of stages when it waits past the last one (only with a guard).
 */
export interface Thread {
  readonly stage: number;
  readonly count: number;
  readonly match: MatchData;
  /** The absent stages still to check; absent when none (always so in patterns without any). */
  readonly guard?: Guard;
}

/**
 * The absent stages a thread crossed since the last record it took: those of gap `gap` (between
 * positive stages gap − 1 and gap), all of them while `next` (no record seen since), afterwards
 * only the `notFollowedBy` ones. Part of checkpoints.
 */
export interface Guard {
  readonly gap: number;
  readonly next: boolean;
}

/** A complete match, or a partial match that ran out of time. */
export interface Result {
  readonly kind: 'match' | 'timeout';
  readonly match: MatchData;
}

/** The state of one key: part of checkpoints. */
export interface KeyState {
  /** Live partial matches, by start (position of the first record), then by priority. */
  threads: Thread[];
  /** Results not yet final, by start (skip strategies other than `no_skip`). */
  results: Result[];
  /** Starts that emitted a match and still have threads (`no_skip`: such starts do not time out). */
  emitted: number[];
  /** The `within` deadline scheduled for the key, or -1. */
  deadline: number;
}

/** A fresh key state. */
export function newKeyState(): KeyState {
  return { threads: [], results: [], emitted: [], deadline: -1 };
}

/** Runs a compiled pattern over the keys' records; results collect in `ready`. */
export class Matcher {
  readonly stages: readonly Stage[];
  /** Absent stages by gap (see {@link CompiledStages}). */
  readonly #absent: readonly (readonly Absence[])[];
  /** Per gap, the guard of a thread that just crossed it, and of one that has seen a record since; undefined when none is left to check. */
  readonly #fresh: (Guard | undefined)[] = [];
  readonly #stale: (Guard | undefined)[] = [];
  /** Whether the pattern has absent stages: without, threads never carry a guard. */
  readonly #guarded: boolean;
  readonly #skip: SkipStrategy;
  /** Whether matches keep every record taken (`MatchData.trail`). */
  readonly #keep: boolean;
  /** The conditions' running aggregates, folded as a match takes a record; null when none. */
  readonly #acc: Accumulators | null;
  readonly #skipStage: number;
  /** Bound in ms from the first record of a match, or Infinity. */
  readonly within: number;
  /** Stages whose condition the first record of a match is tested against, in priority order. */
  readonly #entry: number[] = [];
  /** Results that became final, in order; the caller drains it. */
  readonly ready: Result[] = [];
  /** The first error a condition threw on the current record, if any (the record is then a dead letter). */
  failure: unknown;
  /** The threads after the current record; allocated only when there is one. */
  #next: Thread[] | null = null;
  #cut = -1;
  #ks: KeyState = newKeyState();

  constructor(
    stages: readonly Stage[],
    skip: SkipStrategy,
    skipStage: number,
    within: number,
    absent: readonly (readonly Absence[])[] = [],
    keepRows = false,
    accumulators?: Accumulators,
  ) {
    this.stages = stages;
    this.#keep = keepRows;
    this.#acc = accumulators ?? null;
    this.#absent = absent;
    this.#guarded = absent.some((list) => list.length > 0);
    for (let gap = 0; gap <= stages.length; gap++) {
      const list = absent[gap] ?? [];
      this.#fresh.push(list.length > 0 ? { gap, next: true } : undefined);
      this.#stale.push(list.some((a) => !a.next) ? { gap, next: false } : undefined);
    }
    this.#skip = skip;
    this.#skipStage = skipStage;
    this.within = within;
    this.#collectEntry(0);
  }

  /** The stages a match may begin with, in the order `#enter` prefers them. */
  #collectEntry(k: number): void {
    if (k === this.stages.length) return;
    const s = this.stages[k];
    if (s.lastAlternative !== k) {
      for (let a = k; a <= s.lastAlternative; a++) this.#entry.push(a);
    } else if (s.min > 0) this.#entry.push(k);
    else if (s.greedy) {
      this.#entry.push(k);
      this.#collectEntry(k + 1);
    } else {
      this.#collectEntry(k + 1);
      this.#entry.push(k);
    }
  }

  /** Whether `record` meets a condition of the absent stages `guard` still checks: the thread then dies. */
  #forbids(guard: Guard, record: Readonly<Record<string, unknown>>, match: MatchData): boolean {
    const list = this.#absent[guard.gap];
    for (let i = 0; i < list.length; i++) {
      const a = list[i];
      if (a.next && !guard.next) continue;
      try {
        if (a.test(record, match)) return true;
      } catch (err) {
        this.failure ??= err;
      }
    }
    return false;
  }

  /** `th` after a record it let pass: a `notNext` guard is spent. */
  #skipped(th: Thread): Thread {
    const guard = th.guard;
    if (guard === undefined || !guard.next) return th;
    const stale = this.#stale[guard.gap];
    const { stage, count, match } = th;
    return stale === undefined ? { stage, count, match } : { stage, count, match, guard: stale };
  }

  #test(stage: number, record: Readonly<Record<string, unknown>>, match: MatchData | null): boolean {
    try {
      return this.stages[stage].test(record, match);
    } catch (err) {
      this.failure ??= err;
      return false;
    }
  }

  /** Feeds the key's next record in event-time order (`pos` grows with every record fed). */
  feed(ks: KeyState, record: Readonly<Record<string, unknown>>, time: number, pos: number): void {
    this.#ks = ks;
    const old = ks.threads;
    this.#next = null;
    this.#cut = -1;
    const end = this.stages.length;
    for (let i = 0; i < old.length; i++) {
      const th = old[i];
      if (th.match.start === this.#cut) continue;
      const guard = this.#guarded ? th.guard : undefined;
      if (guard !== undefined) {
        if (this.#forbids(guard, record, th.match)) continue;
        if (th.stage === end) {
          // Past the last stage: the record after the match was not a forbidden one.
          if (this.#stale[guard.gap] === undefined) this.#accept(th.match);
          else this.#push(this.#skipped(th));
          continue;
        }
      }
      const stage = this.stages[th.stage];
      if (this.#test(th.stage, record, th.match)) {
        this.#after(
          th.stage,
          th.count + 1,
          take(th.match, th.stage, record, time, pos, end, this.#keep, this.#acc),
        );
        if (stage.any && th.match.start !== this.#cut) this.#push(this.#skipped(th));
      } else if (!stage.strict) {
        this.#push(guard === undefined ? th : this.#skipped(th));
      }
    }
    const entry = this.#entry;
    for (let i = 0; i < entry.length && this.#cut !== pos; i++) {
      const k = entry[i];
      if (this.#test(k, record, null))
        this.#after(k, 1, take(null, k, record, time, pos, end, this.#keep, this.#acc));
    }
    ks.threads = this.#next ?? NO_THREADS;
    this.#settle(ks);
  }

  /** Kills the threads whose first record is `within` or more before `time`; they time out. */
  expire(ks: KeyState, time: number): void {
    const threads = ks.threads;
    let i = 0;
    while (i < threads.length && threads[i].match.startTime + this.within <= time) i++;
    if (i === 0) return;
    ks.threads = threads.slice(i);
    // The threads of a start are adjacent and expire together (they share its first record).
    for (let t = 0; t < i; ) {
      const start = threads[t].match.start;
      let to = t + 1;
      while (to < i && threads[to].match.start === start) to++;
      // A thread waiting past the last stage for `within` (notFollowedBy) has its match now.
      let matched = false;
      for (let u = t; u < to; u++) {
        const th = threads[u];
        if (th.stage !== this.stages.length || th.guard === undefined) continue;
        if (this.#stale[th.guard.gap] === undefined) continue;
        matched = true;
        if (this.#skip === 'no_skip') {
          this.ready.push({ kind: 'match', match: th.match });
          if (!ks.emitted.includes(start)) ks.emitted.push(start);
          continue;
        }
        // It outranks any match of its start found before: threads ranked below that were cut.
        const at = ks.results.findIndex((r) => r.match.start === start);
        if (at >= 0) ks.results[at] = { kind: 'match', match: th.match };
        else insertResult(ks.results, { kind: 'match', match: th.match });
        break;
      }
      // Otherwise the first thread of the start ranks highest: it is the partial match reported.
      if (!matched) {
        const match = threads[t].match;
        if (this.#skip === 'no_skip') {
          if (!ks.emitted.includes(start)) this.ready.push({ kind: 'timeout', match });
        } else if (!ks.results.some((r) => r.match.start === start)) {
          insertResult(ks.results, { kind: 'timeout', match });
        }
      }
      t = to;
    }
    this.#settle(ks);
  }

  /** End of input: no record follows, so partial matches end (without timing out) and pending matches are final. */
  end(ks: KeyState): void {
    ks.threads = [];
    this.#settle(ks);
  }

  #after(stage: number, count: number, match: MatchData): void {
    const s = this.stages[stage];
    const loop = count < s.max;
    const exit = count >= s.min;
    // Leaving the stage (and its alternation) crosses the absent stages after it (the same
    // whichever optional stages follow are skipped: none may come right after an optional stage).
    const following = s.lastAlternative + 1;
    const guard = exit && this.#guarded ? this.#fresh[following] : undefined;
    if (s.greedy) {
      if (loop) this.#expect(stage, count, match, undefined);
      if (exit) this.#enter(following, match, guard);
    } else {
      if (exit) this.#enter(following, match, guard);
      if (loop) this.#expect(stage, count, match, undefined);
    }
  }

  #enter(stage: number, match: MatchData, guard: Guard | undefined): void {
    if (stage === this.stages.length) {
      if (guard === undefined) this.#accept(match);
      else this.#expect(stage, 0, match, guard);
      return;
    }
    const s = this.stages[stage];
    if (s.lastAlternative !== stage) {
      // An alternation: each of its stages, the earlier preferred (all take at least one record).
      for (let a = stage; a <= s.lastAlternative; a++) this.#expect(a, 0, match, guard);
    } else if (s.min > 0) this.#expect(stage, 0, match, guard);
    else if (s.greedy) {
      this.#expect(stage, 0, match, guard);
      this.#enter(stage + 1, match, guard);
    } else {
      this.#enter(stage + 1, match, guard);
      this.#expect(stage, 0, match, guard);
    }
  }

  #expect(stage: number, count: number, match: MatchData, guard: Guard | undefined): void {
    if (this.#cut === match.start) return;
    this.#push(guard === undefined ? { stage, count, match } : { stage, count, match, guard });
  }

  #push(thread: Thread): void {
    if (this.#next === null) this.#next = [thread];
    else this.#next.push(thread);
  }

  #accept(match: MatchData): void {
    if (this.#cut === match.start) return;
    const ks = this.#ks;
    if (this.#skip === 'no_skip') {
      this.ready.push({ kind: 'match', match });
      if (!ks.emitted.includes(match.start)) ks.emitted.push(match.start);
      return;
    }
    // Every thread of this start still to come ranks lower: none can give a preferred match.
    this.#cut = match.start;
    const results = ks.results;
    const at = results.findIndex((r) => r.match.start === match.start);
    if (at >= 0) results[at] = { kind: 'match', match };
    else insertResult(results, { kind: 'match', match });
  }

  /** Moves results that can no longer be bettered to `ready`, applying the skip strategy. */
  #settle(ks: KeyState): void {
    if (this.#skip === 'no_skip') {
      if (ks.emitted.length > 0) {
        const first = ks.threads.length > 0 ? ks.threads[0].match.start : Number.POSITIVE_INFINITY;
        ks.emitted = ks.emitted.filter((s) => s >= first);
      }
      return;
    }
    while (ks.results.length > 0) {
      const result = ks.results[0];
      if (ks.threads.length > 0 && ks.threads[0].match.start <= result.match.start) return;
      ks.results.shift();
      this.ready.push(result);
      if (result.kind === 'match') {
        const resume = this.#resumeAt(result.match);
        ks.threads = ks.threads.filter((t) => t.match.start >= resume);
        ks.results = ks.results.filter((r) => r.match.start >= resume);
      }
    }
  }

  /** The position matching resumes at after `match`: starts before it are dropped. */
  #resumeAt(match: MatchData): number {
    let at: number;
    const s = this.#skipStage;
    switch (this.#skip) {
      case 'past_last_row':
        at = match.endPos + 1;
        break;
      case 'to_first':
        at = match.marks[3 * s + 2] > 0 ? match.marks[3 * s] : match.start + 1;
        break;
      case 'to_last':
        at = match.marks[3 * s + 2] > 0 ? match.marks[3 * s + 1] : match.start + 1;
        break;
      default:
        at = match.start + 1;
    }
    // Resuming at the match's own start would find it again.
    return Math.max(at, match.start + 1);
  }
}

/** The threads of a key with none: shared, since thread lists are replaced, never changed in place. */
const NO_THREADS: Thread[] = [];

function insertResult(results: Result[], result: Result): void {
  let i = results.length;
  while (i > 0 && results[i - 1].match.start > result.match.start) i--;
  results.splice(i, 0, result);
}

/** A new match: `prev` (or nothing) with `record` taken into `stage`. */
function take(
  prev: MatchData | null,
  stage: number,
  record: Readonly<Record<string, unknown>>,
  time: number,
  pos: number,
  stages: number,
  keep: boolean,
  acc: Accumulators | null,
): MatchData {
  let rows: (Record<string, unknown> | null)[];
  let marks: number[];
  if (prev === null) {
    rows = new Array<Record<string, unknown> | null>(2 * stages).fill(null);
    marks = new Array<number>(3 * stages).fill(0);
  } else {
    rows = prev.rows.slice();
    marks = prev.marks.slice();
  }
  const r = record as Record<string, unknown>;
  if (marks[3 * stage + 2] === 0) {
    rows[2 * stage] = r;
    marks[3 * stage] = pos;
  }
  rows[2 * stage + 1] = r;
  marks[3 * stage + 1] = pos;
  marks[3 * stage + 2]++;
  const match: MatchData = {
    start: prev === null ? pos : prev.start,
    startTime: prev === null ? time : prev.startTime,
    endPos: pos,
    endTime: time,
    rows,
    marks,
  };
  if (acc !== null) match.acc = acc.fold(prev, stage, r);
  if (!keep) return match;
  // The trail is appended to in place while this match is the longest sharing it; a second
  // match extending the same one copies its part first.
  const size = prev?.size ?? 0;
  let trail = prev?.trail;
  let trailStages = prev?.trailStages;
  if (trail === undefined || trailStages === undefined || trail.length !== size) {
    trail = trail === undefined ? [] : trail.slice(0, size);
    trailStages = trailStages === undefined ? [] : trailStages.slice(0, size);
  }
  trail.push(r);
  trailStages.push(stage);
  return { ...match, trail, trailStages, size: size + 1 };
}
