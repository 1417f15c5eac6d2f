/**
 * The pattern builder of the TypeScript API: `begin('A').where(…).next('B')…` describes the
 * stages of a `pattern` step, the same options a YAML pipeline writes out.
 */

import { SluiceError } from '../errors.ts';

/** How a stage's records follow the record before them (the `pattern` step's `contiguity`). */
export type PatternContiguity = 'strict' | 'relaxed' | 'any';

/** One stage as the `pattern` step takes it. */
export interface PatternStage {
  readonly name: string;
  readonly where: string;
  readonly quantifier?: string;
  readonly contiguity: PatternContiguity;
  /** A negative stage (`notNext`, `notFollowedBy`): set only when true. */
  readonly absent?: true;
  /** An alternative to the stage before it (`or`): set only when true. */
  readonly alternative?: true;
}

interface Draft {
  name: string;
  conditions: string[];
  min: number;
  max: number;
  greedy: boolean;
  contiguity: PatternContiguity;
  absent: boolean;
  alternative: boolean;
}

/**
 * A pattern under construction. Each method returns a new pattern, so a prefix can be shared.
 * Quantifier methods (`times`, `oneOrMore`, `optional`, `reluctant`) apply to the last stage,
 * which must take records (not one added by `notNext` or `notFollowedBy`).
 */
export class Pattern {
  readonly #stages: readonly Draft[];
  readonly #within: string | undefined;

  /** @internal Use {@link begin}. */
  constructor(stages: readonly Draft[], within: string | undefined) {
    this.#stages = stages;
    this.#within = within;
  }

  #last(change: (d: Draft) => Partial<Draft>): Pattern {
    const stages = this.#stages.slice();
    const last = stages[stages.length - 1];
    stages[stages.length - 1] = { ...last, ...change(last) };
    return new Pattern(stages, this.#within);
  }

  /** Changes the quantifier of the last stage, which must take records. */
  #quantify(method: string, change: (d: Draft) => Partial<Draft>): Pattern {
    const last = this.#stages[this.#stages.length - 1];
    if (last.absent) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `${method} applies to a stage that takes records; '${last.name}' is absent (notNext / notFollowedBy) and takes none`,
      );
    }
    return this.#last(change);
  }

  #add(name: string, contiguity: PatternContiguity, absent = false, alternative = false): Pattern {
    const stage: Draft = {
      name,
      conditions: [],
      min: 1,
      max: 1,
      greedy: true,
      contiguity,
      absent,
      alternative,
    };
    return new Pattern([...this.#stages, stage], this.#within);
  }

  /** Adds an SQL condition to the last stage; several conditions must all hold. */
  where(condition: string): Pattern {
    return this.#last((d) => ({ conditions: [...d.conditions, condition] }));
  }

  /** A stage whose records must follow the previous one's directly (strict contiguity). */
  next(name: string): Pattern {
    return this.#add(name, 'strict');
  }

  /** A stage whose records may follow the previous one's after records that fail its condition (relaxed contiguity). */
  followedBy(name: string): Pattern {
    return this.#add(name, 'relaxed');
  }

  /**
   * A stage whose records may follow the previous one's after any records (Flink's
   * `followedByAny`): every later record meeting its condition is taken by a branch of its own.
   */
  followedByAny(name: string): Pattern {
    return this.#add(name, 'any');
  }

  /**
   * A stage that is an alternative to the last one (SQL `PATTERN (A (B | C) D)` is
   * `begin('A')….next('B')….or('C')….next('D')…`): a match takes records into one of them, the
   * earlier preferred, and the next stage follows either. It starts with the last stage's
   * contiguity; every stage of an alternation must take at least one record.
   */
  or(name: string): Pattern {
    const last = this.#stages[this.#stages.length - 1];
    if (last.absent) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `or('${name}') needs a stage that takes records before it; '${last.name}' is absent (notNext / notFollowedBy)`,
      );
    }
    return this.#add(name, last.contiguity, false, true);
  }

  /**
   * An absent stage: the record right after the previous stage's last one must not meet its
   * condition (Flink's `notNext`). It cannot begin a pattern, take a quantifier or follow an
   * optional stage.
   */
  notNext(name: string): Pattern {
    return this.#add(name, 'strict', true);
  }

  /**
   * An absent stage: no record between the previous stage's last one and the next stage's first
   * may meet its condition (Flink's `notFollowedBy`). At the end of a pattern it needs
   * {@link Pattern.within}: the match is output once that much time has passed without one.
   */
  notFollowedBy(name: string): Pattern {
    return this.#add(name, 'relaxed', true);
  }

  /** The last stage takes exactly `n` records, or from `n` to `m`. */
  times(n: number, m: number = n): Pattern {
    if (!Number.isInteger(n) || !Number.isInteger(m) || n < 0 || m < Math.max(1, n)) {
      throw new SluiceError('CONFIG_INVALID', `times(${n}, ${m}): give whole numbers with 1 ≤ m and n ≤ m`);
    }
    return this.#quantify('times()', () => ({ min: n, max: m }));
  }

  /** The last stage takes `n` records or more. */
  timesOrMore(n: number): Pattern {
    if (!Number.isInteger(n) || n < 0)
      throw new SluiceError('CONFIG_INVALID', `timesOrMore(${n}): give a whole number`);
    return this.#quantify('timesOrMore()', () => ({ min: n, max: Number.POSITIVE_INFINITY }));
  }

  /** The last stage takes one record or more. */
  oneOrMore(): Pattern {
    return this.timesOrMore(1);
  }

  /** The last stage may take no record at all. */
  optional(): Pattern {
    return this.#quantify('optional()', () => ({ min: 0 }));
  }

  /** The last stage's quantifier takes as few records as the pattern allows (the default is as many). */
  reluctant(): Pattern {
    return this.#quantify('reluctant()', () => ({ greedy: false }));
  }

  /** A match's records lie less than `duration` (e.g. `'10m'`) after its first record. */
  within(duration: string): Pattern {
    return new Pattern(this.#stages, duration);
  }

  /** The `within` duration, if set. */
  get withinDuration(): string | undefined {
    return this.#within;
  }

  /** The stages in the `pattern` step's form. */
  stages(): PatternStage[] {
    return this.#stages.map((d) => {
      if (d.conditions.length === 0) {
        throw new SluiceError(
          'CONFIG_INVALID',
          `pattern stage '${d.name}' has no condition: call .where(…) after it`,
        );
      }
      const where =
        d.conditions.length === 1 ? d.conditions[0] : d.conditions.map((c) => `(${c})`).join(' AND ');
      const quantifier = quantifierText(d);
      return {
        name: d.name,
        where,
        ...(quantifier ? { quantifier } : {}),
        contiguity: d.contiguity,
        ...(d.absent ? { absent: true as const } : {}),
        ...(d.alternative ? { alternative: true as const } : {}),
      };
    });
  }
}

function quantifierText(d: Draft): string {
  const { min, max } = d;
  let q: string;
  if (min === 1 && max === 1) q = '';
  else if (min === 0 && max === 1) q = '?';
  else if (min === 1 && max === Number.POSITIVE_INFINITY) q = '+';
  else if (min === 0 && max === Number.POSITIVE_INFINITY) q = '*';
  else if (max === Number.POSITIVE_INFINITY) q = `{${min},}`;
  else if (min === max) q = `{${min}}`;
  else q = `{${min},${max}}`;
  if (!d.greedy) q = q === '' ? '' : `${q}?`;
  return q;
}

/** Starts a pattern with its first stage. */
export function begin(name: string): Pattern {
  return new Pattern(
    [
      {
        name,
        conditions: [],
        min: 1,
        max: 1,
        greedy: true,
        contiguity: 'strict',
        absent: false,
        alternative: false,
      },
    ],
    undefined,
  );
}

/** Options of `.pattern(…)` besides the stages: the `pattern` step's other options, camel-cased. */
export interface PatternOptions {
  /** Fields forming the key, each an output field; default the key of an upstream `keyBy`. */
  key?: string[];
  /** Output fields: SQL expressions over the match (`first(A.ts)`, `count(B)`, `match_start()`). */
  measures?: { [name: string]: string };
  skip?: 'past_last_row' | 'to_next_row' | 'to_first' | 'to_last' | 'no_skip';
  /** The stage `skip: 'to_first' | 'to_last'` names. */
  skipTo?: string;
  /**
   * Timed-out partial matches: dropped (default); on the side output `timeouts`
   * (`'side_output'`; read it with `.side('timeouts')`); or in the main output with
   * `match: 'timeout'` (`'emit'`).
   */
  timeouts?: 'drop' | 'side_output' | 'emit';
  onLate?: 'late_output' | 'dead_letter' | 'drop';
  /**
   * SQL MATCH_RECOGNIZE's running semantics: a condition sees the record being tested as one of
   * its own stage's (`B.price` in B's condition is the current record's). Default false (Flink CEP's).
   */
  running?: boolean;
}

/** The `pattern` step's options for a pattern and options. */
export function patternConfig(pattern: Pattern, options: PatternOptions): object {
  const within = pattern.withinDuration;
  return {
    stages: pattern.stages(),
    ...(options.key ? { key: options.key } : {}),
    ...(within !== undefined ? { within } : {}),
    ...(options.skip ? { skip: options.skip } : {}),
    ...(options.skipTo ? { skip_to: options.skipTo } : {}),
    ...(options.measures ? { measures: options.measures } : {}),
    ...(options.timeouts ? { timeouts: options.timeouts } : {}),
    ...(options.onLate ? { on_late: options.onLate } : {}),
    ...(options.running !== undefined ? { running: options.running } : {}),
  };
}
