/**
 * Stage references in a pattern's conditions and measures. Besides the fields of a record they
 * may name stages: `A` (or `last(A)`) is the last record matched to stage A so far, `first(A)`
 * the first, `count(A)` how many; `last(A.x, n)` / `first(A.x, n)` the n-th from the end / the
 * start; `prev(A.x, n)` the record n before A's last one in the match; `sum`, `avg`, `min`, `max`
 * and `count` of an expression over A's records (`count(*)`: all records of the match); the same
 * functions over a plain field read every record of the match (SQL's default pattern variable);
 * `match_start()` and `match_end()` (or `match_rowtime()`) are the event times of the first and
 * the last record of the (partial) match. Those calls are rewritten into reads of reserved field
 * names before the expression compiler sees them, so one compiler serves every front end; a view
 * sets those names over the record without copying it.
 *
 * In a condition the references see the records taken before the current one; with running
 * semantics (SQL MATCH_RECOGNIZE's) a stage's own references also see the current record, as
 * the record is tested for that stage.
 */

import { SluiceError } from '../errors.ts';
import { compileExpression, type Expr, mapChildren } from '../expr/index.ts';
import type { Row } from '../record.ts';
import type { Clock } from '../time.ts';
import { type Accumulators, better, finish, numeric, poisoned, ROW } from './pattern-accumulators.ts';
import type { MatchData } from './pattern-compile.ts';

/**
 * Where the record a view is built over stands: `stage ≥ 0` — tested for that stage, and part of
 * its records (running semantics); {@link OUTSIDE} — tested, not part of the match (Flink CEP's
 * conditions); {@link LAST_ROW} — the match's last record (a measure).
 */
export const OUTSIDE = -1;
export const LAST_ROW = -2;

type Setter = (view: Row, match: MatchData | null, record: Row, stage: number) => void;

/** What an expression reads of the match, collected while rewriting it. */
export interface References {
  /** Reserved names set on the view, each with how it is set. */
  readonly names: Set<string>;
  /** Setters of computed names (offsets, aggregates), by name; filled by `rewrite`. */
  readonly computed?: Map<string, Setter>;
  /** Whether the expression reads the match's records in order (the matcher must keep them). */
  trail?: boolean;
  /**
   * The running accumulators aggregates are read from (a condition's); without, an aggregate
   * rereads its stage's records (a measure's: read once per match).
   */
  readonly accumulators?: Accumulators;
}

/** A fresh, empty {@link References}; `accumulators` for a condition's. */
export function newReferences(accumulators?: Accumulators): References {
  return accumulators === undefined
    ? { names: new Set(), computed: new Map(), trail: false }
    : { names: new Set(), computed: new Map(), trail: false, accumulators };
}

const AGGREGATES = new Set(['sum', 'avg', 'min', 'max', 'count']);
const NAVIGATION = new Set(['first', 'last', 'prev']);

function rootField(e: Expr): string | undefined {
  let node = e;
  while (node.kind === 'member' || node.kind === 'index') node = node.object;
  return node.kind === 'field' ? node.name : undefined;
}

function replaceRoot(e: Expr, name: string): Expr {
  if (e.kind === 'member' || e.kind === 'index') return { ...e, object: replaceRoot(e.object, name) };
  return { kind: 'field', name, start: e.start, end: e.end };
}

/** The stages an expression names (as `A` or the root of `A.x`), and whether it reads a plain field. */
function scan(e: Expr, stages: ReadonlySet<string>, found: { stages: Set<string>; plain: boolean }): void {
  const root = e.kind === 'member' || e.kind === 'index' || e.kind === 'field' ? rootField(e) : undefined;
  if (root !== undefined) {
    if (stages.has(root)) found.stages.add(root);
    else found.plain = true;
    if (e.kind === 'field' || rootField(e) === root) {
      if (e.kind === 'index') scan(e.index, stages, found);
      return;
    }
  }
  mapChildren(e, (c) => {
    scan(c, stages, found);
    return c;
  });
}

/** `e` with every stage root and every plain field read through the reserved field `row`. */
function throughRow(e: Expr, stages: ReadonlySet<string>, row: string): Expr {
  if (e.kind === 'field') {
    if (stages.has(e.name)) return { kind: 'field', name: row, start: e.start, end: e.end };
    return {
      kind: 'member',
      object: { kind: 'field', name: row, start: e.start, end: e.start },
      name: e.name,
      start: e.start,
      end: e.end,
    };
  }
  if (e.kind === 'member' || e.kind === 'index') {
    const root = rootField(e);
    if (root !== undefined && stages.has(root)) {
      const replaced = replaceRoot(e, row);
      return e.kind === 'index' && replaced.kind === 'index'
        ? { ...replaced, index: throughRow(e.index, stages, row) }
        : replaced;
    }
  }
  return mapChildren(e, (c) => throughRow(c, stages, row));
}

/** Whether `e` calls a pattern function (offsets and aggregates do not nest). */
function nests(e: Expr): boolean {
  let found = false;
  const visit = (x: Expr): Expr => {
    if (x.kind === 'call' && (AGGREGATES.has(x.name) || NAVIGATION.has(x.name))) found = true;
    return mapChildren(x, visit);
  };
  visit(e);
  return found;
}

/**
 * The records of stage `s` (every record of the match for −1) in order, with the current record
 * where it belongs (see {@link OUTSIDE}).
 */
function rowsOf(s: number, match: MatchData | null, record: Row, stage: number): Row[] {
  const out: Row[] = [];
  if (match !== null && match.trail !== undefined) {
    const trail = match.trail;
    const of = match.trailStages!;
    const size = match.size ?? trail.length;
    for (let i = 0; i < size; i++) if (s < 0 || of[i] === s) out.push(trail[i]);
  }
  if (stage >= 0 && (s < 0 || s === stage)) out.push(record);
  return out;
}

/**
 * Rewrites stage references of the parsed expression `source` into reads of reserved fields and
 * returns the new tree.
 * Throws CONFIG_INVALID for a pattern function applied to something it does not take, and for a
 * reference to one of the `absent` stages (they take no records).
 */
export function rewrite(
  source: Expr,
  stages: readonly string[],
  refs: References,
  where: { step: string; path: string; clock?: Clock },
  absent: readonly string[] = [],
): Expr {
  const stageSet = new Set(stages);
  const computed = refs.computed;
  const at = { step: where.step, path: where.path };
  const fail = (message: string): never => {
    throw new SluiceError('CONFIG_INVALID', message, at);
  };
  const refuseAbsent = (name: string | undefined): void => {
    if (name !== undefined && absent.includes(name)) {
      fail(
        `stage '${name}' is an absent (negative) stage and takes no records, so nothing can refer to it; refer to the stages that take records (${stages.join(', ')})`,
      );
    }
  };
  /** The one stage `arg` reads (−1: none, the whole match), refusing two. */
  const stageOf = (fn: string, arg: Expr): number => {
    const found = { stages: new Set<string>(), plain: false };
    scan(arg, stageSet, found);
    if (found.stages.size > 1 || (found.stages.size === 1 && found.plain))
      fail(
        `${fn}() reads one stage's records: its argument may name one stage (${[...found.stages].join(', ')}${found.plain ? ' and plain fields' : ''} found), e.g. ${fn}(A.price * A.tax)`,
      );
    if (nests(arg)) fail(`${fn}() cannot hold another pattern function (first, last, prev or an aggregate)`);
    return found.stages.size === 1 ? stages.indexOf([...found.stages][0]) : -1;
  };
  const offset = (fn: string, e: Expr & { kind: 'call' }): number => {
    const n = e.args[1];
    if (n === undefined) return fn === 'prev' ? 1 : 0;
    if (n.kind !== 'literal' || typeof n.value !== 'number' || !Number.isInteger(n.value) || n.value < 0)
      return fail(`the offset of ${fn}() is a whole number ≥ 0, e.g. ${fn}(A.price, 1)`);
    return n.value;
  };
  let counter = 0;
  const reserve = (label: string, setter: Setter): string => {
    if (computed === undefined) return fail(`${label} needs the references of a pattern step`);
    const name = `${label}#${counter++}`;
    computed.set(name, setter);
    refs.names.add(name);
    return name;
  };
  const visit = (e: Expr): Expr => {
    if (e.kind === 'call') {
      if (
        ((e.name === 'match_start' || e.name === 'match_end') && e.args.length === 0) ||
        // Flink's MATCH_ROWTIME([rowtime_field]): the field names the time attribute, whose value it is.
        (e.name === 'match_rowtime' &&
          (e.args.length === 0 || (e.args.length === 1 && e.args[0].kind === 'field')))
      ) {
        const name = e.name === 'match_start' ? 'match_start()' : 'match_end()';
        refs.names.add(name);
        return { kind: 'field', name, start: e.start, end: e.end };
      }
      if (e.name === 'count' && e.star) {
        const name = 'count(*)';
        refs.names.add(name);
        return { kind: 'field', name, start: e.start, end: e.end };
      }
      const arg = e.args[0];
      const root = arg === undefined ? undefined : rootField(arg);
      if (e.name === 'count' && arg?.kind === 'field' && stageSet.has(arg.name) && e.args.length === 1) {
        const name = `count(${arg.name})`;
        refs.names.add(name);
        return { kind: 'field', name, start: e.start, end: e.end };
      }
      if (NAVIGATION.has(e.name) || AGGREGATES.has(e.name)) {
        const max = NAVIGATION.has(e.name) ? 2 : 1;
        if (arg === undefined || e.args.length > max || e.star || e.distinct) {
          fail(
            NAVIGATION.has(e.name)
              ? `${e.name}() in a pattern takes a stage's field and an optional offset, e.g. ${e.name}(A.price, 1); the stages are ${stages.join(', ')}`
              : `${e.name}() in a pattern takes one expression over a stage's records, e.g. ${e.name}(A.price)${e.distinct ? ' (DISTINCT is not supported, as in Flink)' : ''}; the stages are ${stages.join(', ')}`,
          );
        }
        const s = stageOf(e.name, arg!);
        refuseAbsent(root);
        if (NAVIGATION.has(e.name)) {
          const n = offset(e.name, e);
          // The fast forms, read from a match's first and last record per stage.
          if (s >= 0 && n === 0 && e.name !== 'prev' && root === stages[s]) {
            const name = e.name === 'first' ? `first(${root})` : root!;
            refs.names.add(name);
            return replaceRoot(arg!, name);
          }
          refs.trail = true;
          const fn = e.name;
          const name = reserve(`${fn}(${s < 0 ? '*' : stages[s]},${n})`, (view, match, record, stage) => {
            let rows: Row[];
            let i: number;
            if (fn === 'prev') {
              rows = rowsOf(-1, match, record, stage);
              // From stage s's last record, or from the current one (the next one, when it is outside).
              const from =
                s >= 0
                  ? anchorOf(s, match, record, stage)
                  : stage === OUTSIDE
                    ? rows.length
                    : rows.length - 1;
              i = from < 0 ? -1 : from - n;
            } else {
              rows = rowsOf(s, match, record, stage);
              i = fn === 'first' ? n : rows.length - 1 - n;
            }
            view[name] = i >= 0 && i < rows.length ? rows[i] : null;
          });
          return throughRow(arg!, stageSet, name);
        }
        refs.trail = true;
        const tree = throughRow(arg!, stageSet, ROW);
        const value = compileExpression(tree, { ...at, clock: where.clock, missingAsNull: true });
        const fn = e.name;
        const acc = refs.accumulators;
        if (acc !== undefined) {
          const slot = acc.add({ fn, stage: s, value: value.evaluate });
          const base = 3 * slot;
          const name = reserve(`${fn}(${s < 0 ? '*' : stages[s]})`, (view, match, record, stage) => {
            let count = 0;
            let sum = 0;
            let best: unknown = null;
            if (match !== null) {
              const kept = acc.of(match);
              if (poisoned(kept, slot)) {
                view[name] = aggregate(fn, rowsOf(s, match, record, stage), value.evaluate);
                return;
              }
              count = kept[base] as number;
              sum = kept[base + 1] as number;
              best = kept[base + 2];
            }
            // The record being tested, as one of its stage's (running semantics).
            if (stage >= 0 && (s < 0 || s === stage)) {
              const v = value.evaluate({ [ROW]: record });
              if (v !== null && v !== undefined) {
                count++;
                if (fn === 'sum' || fn === 'avg') sum += numeric(fn, v);
                else if (fn === 'min' || fn === 'max') best = better(fn, best, v);
              }
            }
            view[name] = finish(fn, count, sum, best);
          });
          return { kind: 'field', name, start: e.start, end: e.end };
        }
        const name = reserve(`${fn}(${s < 0 ? '*' : stages[s]})`, (view, match, record, stage) => {
          view[name] = aggregate(fn, rowsOf(s, match, record, stage), value.evaluate);
        });
        return { kind: 'field', name, start: e.start, end: e.end };
      }
    }
    if (e.kind === 'field') {
      refuseAbsent(e.name);
      if (stageSet.has(e.name)) {
        refs.names.add(e.name);
        return e;
      }
    }
    return mapChildren(e, visit);
  };
  try {
    return visit(source);
  } catch (err) {
    if (err instanceof SluiceError && err.step === undefined) {
      throw new SluiceError(err.code, err.message, { ...at, cause: err.cause });
    }
    throw err;
  }
}

/** Index, among all the match's records, of stage `s`'s last record; −1 when it has none. */
function anchorOf(s: number, match: MatchData | null, record: Row, stage: number): number {
  const all = rowsOf(-1, match, record, stage);
  if (stage === s) return all.length - 1;
  if (match === null || match.trail === undefined) return -1;
  const of = match.trailStages!;
  for (let i = (match.size ?? match.trail.length) - 1; i >= 0; i--) if (of[i] === s) return i;
  return -1;
}

/** An SQL aggregate of `value` over `rows`: NULLs left out; NULL over none (count: 0). */
function aggregate(fn: string, rows: readonly Row[], value: (row: Row) => unknown): unknown {
  let count = 0;
  let sum = 0;
  let best: unknown = null;
  for (let i = 0; i < rows.length; i++) {
    const v = value({ [ROW]: rows[i] });
    if (v === null || v === undefined) continue;
    count++;
    if (fn === 'sum' || fn === 'avg') sum += numeric(fn, v);
    else if (fn === 'min' || fn === 'max') best = better(fn, best, v);
  }
  return finish(fn, count, sum, best);
}

/**
 * Builds a function giving the object an expression reads: `record`'s fields, with the stage
 * references the expression uses set on top (`Object.create(record)`: the record is not copied).
 * `stage` says where the record stands (see {@link OUTSIDE}).
 */
export function viewBuilder(
  stages: readonly string[],
  refs: References,
): (record: Row, match: MatchData | null, stage: number) => Row {
  const setters: Setter[] = [];
  for (const name of refs.names) {
    const own = refs.computed?.get(name);
    if (own !== undefined) setters.push(own);
    else if (name === 'match_start()') setters.push((v, m) => (v[name] = m === null ? null : m.startTime));
    else if (name === 'match_end()') setters.push((v, m) => (v[name] = m === null ? null : m.endTime));
    else if (name === 'count(*)')
      setters.push((v, m, _r, stage) => {
        let n = stage >= 0 ? 1 : 0;
        if (m !== null) for (let s = 2; s < m.marks.length; s += 3) n += m.marks[s];
        v[name] = n;
      });
    else if (name.startsWith('first(')) {
      const s = stages.indexOf(name.slice(6, -1));
      setters.push(
        (v, m, r, stage) =>
          (v[name] =
            stage === s && (m === null || m.marks[3 * s + 2] === 0) ? r : m === null ? null : m.rows[2 * s]),
      );
    } else if (name.startsWith('count(')) {
      const s = stages.indexOf(name.slice(6, -1));
      setters.push(
        (v, m, _r, stage) => (v[name] = (m === null ? 0 : m.marks[3 * s + 2]) + (stage === s ? 1 : 0)),
      );
    } else {
      const s = stages.indexOf(name);
      setters.push((v, m, r, stage) => (v[name] = stage === s ? r : m === null ? null : m.rows[2 * s + 1]));
    }
  }
  return (record, match, stage) => {
    const view = Object.create(record) as Row;
    for (let i = 0; i < setters.length; i++) setters[i](view, match, record, stage);
    return view;
  };
}
