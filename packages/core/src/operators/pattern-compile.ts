/**
 * Compiles a `pattern` step's stages, conditions and measures into the form the matcher runs:
 * positive stages with their quantifiers, contiguity and alternations, absent stages by the gap
 * they guard, and the checks that refuse patterns the matcher cannot run (naming the config
 * path). Conditions and measures are SQL expressions whose stage references
 * `pattern-references.ts` rewrites.
 */

import { SluiceError } from '../errors.ts';
import { compileExpression, compilePredicate, type Expr } from '../expr/index.ts';
import type { Row } from '../record.ts';
import type { Clock } from '../time.ts';
import { Accumulators } from './pattern-accumulators.ts';
import { LAST_ROW, newReferences, OUTSIDE, rewrite, viewBuilder } from './pattern-references.ts';

/** One stage as written in the step's options. */
export interface StageConfig {
  readonly name: string;
  readonly where: string;
  readonly quantifier?: string;
  readonly contiguity?: 'strict' | 'relaxed' | 'any';
  /** A negative stage: no record meeting `where` may come here (Flink `notNext` / `notFollowedBy`). */
  readonly absent?: boolean;
  /** An alternative to the stage before it (SQL `(B | C)`). */
  readonly alternative?: boolean;
}

/** The matched records of a (partial) match, immutable once built and shared between threads. */
export interface MatchData {
  /** Position (feed order) of the first record. */
  readonly start: number;
  readonly startTime: number;
  /** Position and time of the last record. */
  readonly endPos: number;
  readonly endTime: number;
  /** Per stage s: `rows[2s]` its first record, `rows[2s + 1]` its last (null when none). */
  readonly rows: (Row | null)[];
  /** Per stage s: `marks[3s]` first position, `marks[3s + 1]` last position, `marks[3s + 2]` count. */
  readonly marks: number[];
  /**
   * Every record taken, in order, and the stage of each — kept only when a condition or measure
   * reads them (offsets, `prev`, aggregates). Append-only arrays shared between the matches
   * that extend one another: this match's records are the first `size`.
   */
  readonly trail?: Row[];
  readonly trailStages?: number[];
  readonly size?: number;
  /**
   * The running accumulators of the conditions' aggregates (see `pattern-accumulators.ts`): kept
   * only when a condition aggregates; filled in lazily for a match restored without them.
   */
  acc?: unknown[];
}

/** A stage ready to run. */
export interface Stage {
  readonly name: string;
  readonly min: number;
  /** Infinity when unbounded. */
  readonly max: number;
  readonly greedy: boolean;
  /** Strict: the element must be the very next record of the key; relaxed: records that fail the condition are skipped. */
  readonly strict: boolean;
  /** Relaxed, and a record that meets the condition may be skipped too (Flink `followedByAny`): each later one branches. */
  readonly any: boolean;
  /** The condition on `record`, with `match` the records taken before it (null at the start of a match). */
  readonly test: (record: Row, match: MatchData | null) => boolean;
  /**
   * The last stage of its alternation (SQL `(B | C)`: the stages from the first alternative to
   * this index are one choice); its own index when it has no alternatives. The stage after the
   * choice is `lastAlternative + 1`.
   */
  readonly lastAlternative: number;
}

/**
 * A negative (absent) stage: between two positive stages, or at the end, a record meeting its
 * condition ends the partial match.
 */
export interface Absence {
  readonly name: string;
  /** Strict (Flink `notNext`): only the record right after the last one taken is tested; otherwise every record until the next stage takes one (`notFollowedBy`). */
  readonly next: boolean;
  /** The condition, with `match` the records taken so far. */
  readonly test: (record: Row, match: MatchData) => boolean;
}

/** The stages of a pattern, as the matcher runs them. */
export interface CompiledStages {
  /** Whether a condition reads the records of a match in order (`MatchData.trail`). */
  readonly trail: boolean;
  /** The running accumulators of the conditions' aggregates; absent when no condition aggregates. */
  readonly accumulators?: Accumulators;
  /** The positive stages: those that take records. Stage indices elsewhere (marks, `skip_to`) count only these. */
  readonly stages: Stage[];
  /**
   * Negative stages by gap: `absent[g]` lie between positive stages g − 1 and g (`absent[stages.length]`:
   * after the last). `absent[0]` is always empty: a pattern does not begin with one.
   */
  readonly absent: Absence[][];
}

/** A measure: an output field computed from a match. */
export interface Measure {
  readonly name: string;
  readonly text: string;
  readonly evaluate: (match: MatchData) => unknown;
  /** Whether it reads the records of a match in order (`MatchData.trail`). */
  readonly trail: boolean;
}

const QUANTIFIER = /^(?:\{(\d+)\}|\{(\d+),(\d*)\}|([+*?]))(\?)?$/;

/** Reads a quantifier (`{3}`, `{2,4}`, `{2,}`, `+`, `*`, `?`, each with a trailing `?` for reluctant). */
export function parseQuantifier(
  text: string | undefined,
  where: { step: string; path: string },
): { min: number; max: number; greedy: boolean } {
  if (text === undefined || text === '') return { min: 1, max: 1, greedy: true };
  const m = QUANTIFIER.exec(text.trim());
  if (!m) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `'${text}' is not a quantifier; write {n}, {n,m}, {n,}, +, * or ?, and add a ? for the reluctant form (+?)`,
      where,
    );
  }
  let min: number;
  let max: number;
  if (m[1] !== undefined) {
    min = Number(m[1]);
    max = min;
  } else if (m[2] !== undefined) {
    min = Number(m[2]);
    max = m[3] === '' ? Number.POSITIVE_INFINITY : Number(m[3]);
  } else if (m[4] === '+') {
    min = 1;
    max = Number.POSITIVE_INFINITY;
  } else if (m[4] === '*') {
    min = 0;
    max = Number.POSITIVE_INFINITY;
  } else {
    min = 0;
    max = 1;
  }
  if (max < 1 || min > max) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `quantifier '${text}' matches no records or has its bounds the wrong way round; the upper bound must be at least 1 and the lower`,
      where,
    );
  }
  return { min, max, greedy: m[5] === undefined };
}

/**
 * Compiles the stages of a pattern: the positive ones, and the absent ones by the gap they guard.
 * Throws CONFIG_INVALID (naming the stage's path) for a pattern Flink would refuse too: one that
 * begins with an absent stage, an absent stage with a quantifier or `any` contiguity or right
 * after an optional stage, or only optional positive stages. An expression error names the stage.
 */
export function compileStages(
  configs: readonly StageConfig[],
  step: string,
  clock: Clock,
  expression: (path: string) => Expr,
  running = false,
  /** false: aggregates reread their stage's records on each test (the way before the accumulators; benchmarks compare the two). */
  incremental = true,
): CompiledStages {
  if (configs.length === 0)
    throw new SluiceError('CONFIG_INVALID', 'a pattern needs at least one stage', { step, path: 'stages' });
  const names = configs.map((c) => c.name);
  names.forEach((name, i) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `stage name '${name}' must be an identifier (letters, digits, _)`,
        {
          step,
          path: `stages[${i}].name`,
        },
      );
    }
    if (names.indexOf(name) !== i) {
      throw new SluiceError('CONFIG_INVALID', `stage name '${name}' is used twice`, {
        step,
        path: `stages[${i}].name`,
      });
    }
  });
  const positive = configs.filter((c) => c.absent !== true).map((c) => c.name);
  const negative = configs.filter((c) => c.absent === true).map((c) => c.name);
  const stages: Omit<Stage, 'lastAlternative'>[] = [];
  const alternative: boolean[] = [];
  const absent: Absence[][] = [[]];
  let previousOptional = false;
  let trail = false;
  const accumulators = new Accumulators();
  configs.forEach((c, i) => {
    const path = `stages[${i}]`;
    const refs = newReferences(incremental ? accumulators : undefined);
    const tree = rewrite(
      expression(`${path}.where`),
      positive,
      refs,
      { step, path: `${path}.where`, clock },
      negative,
    );
    if (refs.trail === true) trail = true;
    const predicate = compilePredicate(tree, { step, path: `${path}.where`, clock, missingAsNull: true });
    const view = refs.names.size === 0 ? null : viewBuilder(positive, refs);
    // Running semantics: the record is tested as one of this stage's (an absent stage takes none).
    const as = running && c.absent !== true ? positive.indexOf(c.name) : OUTSIDE;
    const test =
      view === null
        ? (record: Row) => predicate(record)
        : (record: Row, match: MatchData | null) => predicate(view(record, match, as));
    const contiguity = c.contiguity ?? 'strict';
    if (c.absent === true) {
      if (c.alternative === true) {
        throw new SluiceError(
          'CONFIG_INVALID',
          `stage '${c.name}' cannot be both absent and an alternative: an alternation chooses among stages that take records`,
          { step, path: `${path}.alternative` },
        );
      }
      refuseAbsent(c, i, previousOptional, step);
      absent[stages.length].push({ name: c.name, next: contiguity === 'strict', test });
      return;
    }
    const q = parseQuantifier(c.quantifier, { step, path: `${path}.quantifier` });
    if (c.alternative === true) refuseAlternative(configs, i, q.min, previousOptional, step);
    previousOptional = q.min === 0;
    stages.push({ name: c.name, ...q, strict: contiguity === 'strict', any: contiguity === 'any', test });
    alternative.push(c.alternative === true);
    absent.push([]);
  });
  const last: number[] = [];
  for (let k = stages.length - 1; k >= 0; k--) last[k] = alternative[k + 1] === true ? last[k + 1] : k;
  const compiled = stages.map((d, k): Stage => ({ ...d, lastAlternative: last[k] }));
  if (stages.every((s) => s.min === 0)) {
    throw new SluiceError(
      'CONFIG_INVALID',
      'every stage is optional, so the pattern would match no records at all; make at least one stage required',
      { step, path: 'stages' },
    );
  }
  return {
    stages: compiled,
    absent,
    trail,
    ...(accumulators.slots.length > 0 ? { accumulators } : {}),
  };
}

/**
 * Refuses an alternative that does not directly follow a stage taking records, or an optional
 * one in an alternation: a choice among stages that may take nothing would have several empty
 * ways through it (SQL writes that as an optional group, `(B | C)?`, which is not supported).
 */
function refuseAlternative(
  configs: readonly StageConfig[],
  i: number,
  min: number,
  previousOptional: boolean,
  step: string,
): void {
  const c = configs[i];
  const path = `stages[${i}]`;
  if (i === 0 || configs[i - 1].absent === true) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `stage '${c.name}' is an alternative, so it must come right after the stage it is an alternative to, one that takes records`,
      { step, path: `${path}.alternative` },
    );
  }
  if (min === 0 || previousOptional) {
    const at = min === 0 ? i : i - 1;
    throw new SluiceError(
      'CONFIG_INVALID',
      `stage '${configs[at].name}' is optional in an alternation; the stages of an alternation must each take at least one record (an optional group, (B | C)?, is not supported)`,
      { step, path: `stages[${at}].quantifier` },
    );
  }
}

/** Refuses an absent stage where Flink CEP refuses `notNext` / `notFollowedBy` too. */
function refuseAbsent(c: StageConfig, i: number, previousOptional: boolean, step: string): void {
  const path = `stages[${i}]`;
  if (i === 0) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `stage '${c.name}' is absent, but a pattern cannot begin with an absent stage: a match begins at its first record; put a stage that takes records before it`,
      { step, path: `${path}.absent` },
    );
  }
  if (c.quantifier !== undefined && c.quantifier !== '') {
    throw new SluiceError(
      'CONFIG_INVALID',
      `absent stage '${c.name}' cannot have a quantifier: it takes no records (remove quantifier '${c.quantifier}')`,
      { step, path: `${path}.quantifier` },
    );
  }
  if (c.contiguity === 'any') {
    throw new SluiceError(
      'CONFIG_INVALID',
      `absent stage '${c.name}' takes contiguity strict (no matching record right after the previous stage, Flink notNext) or relaxed (none until the next stage, Flink notFollowedBy), not any`,
      { step, path: `${path}.contiguity` },
    );
  }
  if (previousOptional) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `absent stage '${c.name}' follows an optional stage; as in Flink CEP, an optional path to an absent stage is not supported: write two patterns, one with the optional stage required and one without it`,
      { step, path },
    );
  }
}

/**
 * Compiles the measures. Unqualified fields read the last record of the match (as in SQL's
 * MATCH_RECOGNIZE); a missing field reads as NULL. Naming an `absent` stage is CONFIG_INVALID.
 */
export function compileMeasures(
  measures: { readonly [name: string]: string },
  stages: readonly string[],
  step: string,
  clock: Clock,
  expression: (path: string) => Expr,
  absent: readonly string[] = [],
): Measure[] {
  const out: Measure[] = [];
  for (const [name, text] of Object.entries(measures)) {
    const where = { step, path: `measures.${name}` };
    const refs = newReferences();
    const tree = rewrite(expression(where.path), stages, refs, { ...where, clock }, absent);
    const compiled = compileExpression(tree, { ...where, clock, missingAsNull: true });
    const view = viewBuilder(stages, refs);
    out.push({
      name,
      text,
      evaluate: (match) => compiled.evaluate(view(lastRecord(match), match, LAST_ROW)),
      trail: refs.trail === true,
    });
  }
  return out;
}

/** The last record of a match: the last record of the stage holding the highest position. */
export function lastRecord(match: MatchData): Row {
  const marks = match.marks;
  for (let s = 0; s < marks.length / 3; s++) {
    if (marks[3 * s + 2] > 0 && marks[3 * s + 1] === match.endPos) return match.rows[2 * s + 1]!;
  }
  return {};
}
