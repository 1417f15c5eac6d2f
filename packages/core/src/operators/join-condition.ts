/**
 * What every join shares: the `on` condition split into the keys each side is looked up by and
 * the rest of the condition, and the output row built from a matched pair.
 *
 * Expressions in a join name the records of its two inputs by the inputs' ids: with
 * `input: [bids, auctions]`, `bids.auction = auctions.id`. The equalities between one side and
 * the other that `on` is a conjunction of become the join key (each side's values, evaluated on
 * that side's record alone); whatever else `on` says is checked on each pair the key matches.
 * As in SQL, a NULL key value matches nothing.
 */

import { type Logger, silentLogger } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import { compileExpression, compilePredicate, type Expr, mapChildren } from '../expr/index.ts';
import type { OperatorContext, Output, StepInfo } from '../operator.ts';
import { inputName } from '../plan/plan.ts';
import type { Batch, Row } from '../record.ts';
import { type KeyedView, keyedBackend, type MemoryStateBackend } from '../state.ts';
import { encodeKey, encodeKeyValue } from './key.ts';

/** Which input a part of the condition reads. */
type Side = 'left' | 'right';

/** A compiled `on` condition. */
export interface JoinCondition {
  /** The ids of the two inputs: how expressions name their records. */
  readonly left: string;
  readonly right: string;
  /** The join key of a left record; undefined when a key value is NULL (it matches nothing). */
  readonly leftKey: (record: Row) => string | undefined;
  readonly rightKey: (record: Row) => string | undefined;
  /** The rest of the condition on a pair (`{ [left]: l, [right]: r }`); undefined when none. */
  readonly residual: ((pair: Row) => boolean) | undefined;
}

/**
 * The names by which a join's expressions read its two inputs (`inputName`: an id, or a side
 * output's port). Throws CONFIG_INVALID (path `input`) unless there are two inputs read by two
 * different names.
 */
export function joinInputs(step: { readonly id: string; readonly inputs?: readonly string[] }): {
  left: string;
  right: string;
} {
  const inputs = step.inputs ?? [];
  if (inputs.length !== 2 || inputs[0] === inputs[1]) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `a join reads two different inputs, its left and its right: write input: [left, right] (it has ${inputs.length === 0 ? 'none' : inputs.map((i) => `'${i}'`).join(', ')})`,
      { step: step.id, path: 'input' },
    );
  }
  const [left, right] = inputs.map(inputName);
  if (left === right) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `both inputs of the join are read as '${left}' in its expressions ('${inputs[0]}' and '${inputs[1]}'; a side output is read by its port name): put a map step before one of them, so that it has an id of its own`,
      { step: step.id, path: 'input' },
    );
  }
  return { left, right };
}

function conjuncts(e: Expr, out: Expr[]): Expr[] {
  if (e.kind === 'binary' && e.op === 'and') {
    conjuncts(e.left, out);
    conjuncts(e.right, out);
  } else out.push(e);
  return out;
}

/** The inputs an expression reads: `bids.x` reads bids; a bare field that names no input, neither. */
function sidesOf(e: Expr, names: { left: string; right: string }, found: Set<Side>): Set<Side> {
  if (e.kind === 'field') {
    if (e.name === names.left) found.add('left');
    else if (e.name === names.right) found.add('right');
    return found;
  }
  mapChildren(e, (child) => {
    sidesOf(child, names, found);
    return child;
  });
  return found;
}

/** `bids.auction` → `auction`: the expression as it reads one side's record directly. */
function onOneSide(e: Expr, input: string): Expr {
  if (e.kind === 'member' && e.object.kind === 'field' && e.object.name === input)
    return { kind: 'field', name: e.name, start: e.start, end: e.end };
  if (e.kind === 'field' && e.name === input) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `a join key reads a field of '${input}' (${input}.field), not the whole record`,
    );
  }
  return mapChildren(e, (child) => onOneSide(child, input));
}

function keyOf(parts: readonly ((record: Row) => unknown)[]): (record: Row) => string | undefined {
  if (parts.length === 1) {
    const only = parts[0];
    return (r) => {
      const v = only(r);
      return v === null || v === undefined ? undefined : encodeKeyValue(v);
    };
  }
  const values: unknown[] = new Array(parts.length);
  return (r) => {
    for (let p = 0; p < parts.length; p++) {
      const v = parts[p](r);
      if (v === null || v === undefined) return undefined;
      values[p] = v;
    }
    return encodeKey(values);
  };
}

/**
 * Splits a join's `on` condition (its tree) into the join key — for each side, the expressions of
 * the equalities between that side and the other, rewritten to read that side's record directly
 * (`bids.auction` → `auction`), in the same order on both sides — and the rest of the condition.
 * A repartition topic places each side's records by these expressions, so that the records a key
 * pairs meet in one task. Throws CONFIG_INVALID when a key reads a whole record.
 */
export function joinKeyExpressions(
  root: Expr,
  names: { readonly left: string; readonly right: string },
): { left: Expr[]; right: Expr[]; rest: Expr[] } {
  const left: Expr[] = [];
  const right: Expr[] = [];
  const rest: Expr[] = [];
  for (const c of conjuncts(root, [])) {
    if (c.kind === 'binary' && c.op === '=') {
      const a = sidesOf(c.left, names, new Set());
      const b = sidesOf(c.right, names, new Set());
      if (a.size === 1 && b.size === 1 && !a.has([...b][0])) {
        const [l, r] = a.has('left') ? [c.left, c.right] : [c.right, c.left];
        left.push(onOneSide(l, names.left));
        right.push(onOneSide(r, names.right));
        continue;
      }
    }
    rest.push(c);
  }
  return { left, right, rest };
}

/**
 * Compiles `on` for a join of `left` and `right`: the tree at `step.expression('on')`, whose text
 * `text` messages quote. At least one conjunct must be an equality between an expression of the
 * left record and one of the right (`requireKey`: the joins keep state per key; a join without
 * one would compare every pair).
 */
export function compileJoinCondition(
  text: string,
  names: { left: string; right: string },
  step: StepInfo,
): JoinCondition {
  const where = { step: step.id, path: 'on' };
  const located = <T>(f: () => T): T => {
    try {
      return f();
    } catch (err) {
      if (err instanceof SluiceError && err.path === undefined) {
        throw new SluiceError(err.code, err.message, { ...where, cause: err });
      }
      throw err;
    }
  };
  const {
    left: leftParts,
    right: rightParts,
    rest,
  } = located(() => joinKeyExpressions(step.expression('on'), names));
  if (leftParts.length === 0) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `'${text}' has no equality between a field of '${names.left}' and one of '${names.right}'; a join matches records by key, e.g. ${names.left}.id = ${names.right}.id (other conditions may follow with AND)`,
      where,
    );
  }
  const compile = (e: Expr) => compileExpression(e, { ...where, clock: step.clock }).evaluate;
  let residual: ((pair: Row) => boolean) | undefined;
  if (rest.length > 0) {
    const joined = rest.reduce(
      (acc, e): Expr => ({ kind: 'binary', op: 'and', left: acc, right: e, start: acc.start, end: e.end }),
    );
    residual = compilePredicate(joined, { ...where, clock: step.clock });
  }
  return {
    left: names.left,
    right: names.right,
    leftKey: keyOf(leftParts.map(compile)),
    rightKey: keyOf(rightParts.map(compile)),
    residual,
  };
}

/**
 * What a join does with a pair of records: checks the rest of the `on` condition and builds the
 * output row — with `fields`, each an SQL expression over the pair (and the window bounds of a
 * window join); without, the pair itself (`{ bids: {...}, auctions: {...} }`, NULL for the
 * missing side of an outer join's unmatched row).
 *
 * A pair is not an input record, so a failure here cannot go to the dead letters (whose count
 * belongs to the accounting of input records): a condition that fails counts as not met and a
 * field that fails is NULL, as in an aggregate's derived fields, with one warning per expression.
 */
export class PairOutput {
  readonly #stepId: string;
  readonly #condition: JoinCondition;
  readonly #names: readonly string[];
  readonly #fields: readonly ((pair: Row) => unknown)[] | undefined;
  readonly #warned = new Set<string>();
  #log: Logger = silentLogger;

  constructor(
    condition: JoinCondition,
    fields: { readonly [name: string]: string } | undefined,
    step: StepInfo,
  ) {
    this.#stepId = step.id;
    this.#condition = condition;
    this.#names = fields === undefined ? [] : Object.keys(fields);
    this.#fields =
      fields === undefined
        ? undefined
        : this.#names.map(
            (name) =>
              compileExpression(step.expression(`fields.${name}`), {
                step: step.id,
                path: `fields.${name}`,
                clock: step.clock,
              }).evaluate,
          );
  }

  /** Where warnings about failing expressions go (the operator's context). */
  open(log: Logger | undefined): void {
    this.#log = log ?? silentLogger;
  }

  /** The keys: how each side's records are looked up. */
  get condition(): JoinCondition {
    return this.#condition;
  }

  /**
   * Whether output rows are built from `fields`: then `row` reads the pair without keeping it, so a
   * join may pass one reused pair object; without, the pair itself is the row.
   */
  get hasFields(): boolean {
    return this.#fields !== undefined;
  }

  /** A pair object for `left` and `right` (either may be null). */
  pair(left: Row | null, right: Row | null): Row {
    const pair: Row = {};
    pair[this.#condition.left] = left;
    pair[this.#condition.right] = right;
    return pair;
  }

  /** Whether the pair meets the rest of the `on` condition (always, when there is none). */
  matches(pair: Row): boolean {
    const residual = this.#condition.residual;
    if (residual === undefined) return true;
    try {
      return residual(pair);
    } catch (err) {
      this.#warn('on', 'the pair counts as not matching', err);
      return false;
    }
  }

  /** The output row of a pair. */
  row(pair: Row): Row {
    const fields = this.#fields;
    if (fields === undefined) return pair;
    const names = this.#names;
    const row: Row = {};
    for (let f = 0; f < names.length; f++) {
      try {
        row[names[f]] = fields[f](pair);
      } catch (err) {
        row[names[f]] = null;
        this.#warn(`fields.${names[f]}`, 'it is NULL in the result', err);
      }
    }
    return row;
  }

  #warn(path: string, outcome: string, err: unknown): void {
    if (this.#warned.has(path)) return;
    this.#warned.add(path);
    const reason = err instanceof Error ? err.message : String(err);
    this.#log.warn(
      `step '${this.#stepId}': ${path} failed on a pair, so ${outcome}: ${reason} (later failures of ${path} are not logged)`,
      { step: this.#stepId, path, reason },
    );
  }
}

/**
 * Results a join collects for one emit, with the watermark that stood before each when its input
 * carried per-record watermarks (see `Batch.watermarks`).
 */
export interface Results {
  readonly records: Row[];
  readonly times: number[];
  readonly watermarks: number[] | undefined;
}

export function newResults(withWatermarks: boolean): Results {
  return { records: [], times: [], watermarks: withWatermarks ? [] : undefined };
}

export function pushResult(results: Results, row: Row, time: number, watermark: number): void {
  results.records.push(row);
  results.times.push(time);
  results.watermarks?.push(watermark);
}

/** Emits what was collected, if anything, and empties `results`. */
export function flushResults(results: Results, out: Output): void {
  if (results.records.length === 0) return;
  const batch: Batch = { records: results.records.splice(0), times: results.times.splice(0) };
  if (results.watermarks !== undefined) batch.watermarks = results.watermarks.splice(0);
  out.emit(batch);
}

/** The own snapshot of a time-bounded join: version 2 keeps its watermark (and, outside a job, its keyed state). */
interface JoinSnapshotBase {
  readonly version: number;
  readonly watermark: number;
  readonly keyed?: unknown;
}

/**
 * Opens a time-bounded join's keyed state and reads its own snapshot: registers `view` as keyed
 * state `name` with the runtime (or, outside a job, with a backend of its own restored from the
 * snapshot's `keyed`, returned as `own` for the next snapshot), and returns the snapshot, undefined
 * on a fresh start. A snapshot without a numeric watermark, of version 2 whose `keyed` is no Map,
 * or of version 1 that `isV1` refuses, is CHECKPOINT_INCOMPATIBLE, naming the join as `what`.
 */
export function openJoinState<S extends JoinSnapshotBase, K, E>(
  ctx: OperatorContext,
  stepId: string,
  what: string,
  name: string,
  view: KeyedView<K, E>,
  isV1: (snapshot: Partial<Extract<S, { version: 1 }>>) => boolean,
): { readonly own: MemoryStateBackend | undefined; readonly saved: S | undefined } {
  const s = ctx.restored as Partial<S> | null | undefined;
  const { backend, own } = keyedBackend(ctx.state, s?.keyed);
  backend.keyed(name, view);
  if (s === undefined) return { own, saved: undefined };
  if (
    typeof s !== 'object' ||
    s === null ||
    typeof s.watermark !== 'number' ||
    !(s.version === 2
      ? s.keyed === undefined || s.keyed instanceof Map
      : s.version === 1 && isV1(s as Partial<Extract<S, { version: 1 }>>))
  ) {
    throw new SluiceError(
      'CHECKPOINT_INCOMPATIBLE',
      `the checkpoint's state for step '${stepId}' is not ${what}'s state; the step changed since the checkpoint was taken: restart with --from-scratch`,
      { step: stepId },
    );
  }
  return { own, saved: s as S };
}
