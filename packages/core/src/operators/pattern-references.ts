/**
 * Stage references in a pattern's conditions and measures. Besides the fields of a record they
 * may name stages: `A` (or `last(A)`) is the last record matched to stage A so far, `first(A)`
 * the first, `count(A)` how many; `match_start()` and `match_end()` are the event times of the
 * first and the last record of the (partial) match. Those calls are rewritten into reads of
 * reserved field names before the expression compiler sees them, so one compiler serves every
 * front end; a view sets those names over the record without copying it.
 */

import { SluiceError } from '../errors.ts';
import { type Expr, mapChildren } from '../expr/index.ts';
import type { Row } from '../record.ts';
import type { MatchData } from './pattern-compile.ts';

/** What an expression reads of the match, collected while rewriting it. */
export interface References {
  /** Reserved names set on the view: `A`, `first(A)`, `count(A)`, `match_start()`, `match_end()`. */
  readonly names: Set<string>;
}

function rootField(e: Expr): string | undefined {
  let node = e;
  while (node.kind === 'member' || node.kind === 'index') node = node.object;
  return node.kind === 'field' ? node.name : undefined;
}

function replaceRoot(e: Expr, name: string): Expr {
  if (e.kind === 'member' || e.kind === 'index') return { ...e, object: replaceRoot(e.object, name) };
  return { kind: 'field', name, start: e.start, end: e.end };
}

/**
 * Rewrites stage references of the parsed expression `source` into reads of reserved fields and
 * returns the new tree.
 * Throws CONFIG_INVALID for `first`, `last` or `count` applied to something other than a stage,
 * and for a reference to one of the `absent` stages (they take no records).
 */
export function rewrite(
  source: Expr,
  stages: readonly string[],
  refs: References,
  where: { step: string; path: string },
  absent: readonly string[] = [],
): Expr {
  const stageSet = new Set(stages);
  const refuseAbsent = (name: string | undefined): void => {
    if (name !== undefined && absent.includes(name)) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `stage '${name}' is an absent (negative) stage and takes no records, so nothing can refer to it; refer to the stages that take records (${stages.join(', ')})`,
        where,
      );
    }
  };
  const visit = (e: Expr): Expr => {
    if (e.kind === 'call') {
      if ((e.name === 'match_start' || e.name === 'match_end') && e.args.length === 0) {
        const name = `${e.name}()`;
        refs.names.add(name);
        return { kind: 'field', name, start: e.start, end: e.end };
      }
      if (e.name === 'first' || e.name === 'last' || e.name === 'count') {
        const arg = e.args[0];
        const root = arg === undefined ? undefined : rootField(arg);
        refuseAbsent(root);
        if (e.args.length !== 1 || e.star || e.distinct || root === undefined || !stageSet.has(root)) {
          throw new SluiceError(
            'CONFIG_INVALID',
            `${e.name}() in a pattern takes a stage or a stage's field, e.g. ${e.name === 'count' ? 'count(A)' : `${e.name}(A.price)`}; the stages are ${stages.join(', ')}`,
            where,
          );
        }
        if (e.name === 'count') {
          if (arg.kind !== 'field') {
            throw new SluiceError('CONFIG_INVALID', `count() takes a stage name, e.g. count(${root})`, where);
          }
          const name = `count(${root})`;
          refs.names.add(name);
          return { kind: 'field', name, start: e.start, end: e.end };
        }
        const name = e.name === 'first' ? `first(${root})` : root;
        refs.names.add(name);
        return replaceRoot(arg, name);
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
      throw new SluiceError(err.code, err.message, { ...where, cause: err.cause });
    }
    throw err;
  }
}

/**
 * Builds a function giving the object an expression reads: `record`'s fields, with the stage
 * references the expression uses set on top (`Object.create(record)`: the record is not copied).
 */
export function viewBuilder(
  stages: readonly string[],
  names: ReadonlySet<string>,
): (record: Row, match: MatchData | null) => Row {
  const setters: ((view: Row, match: MatchData | null) => void)[] = [];
  for (const name of names) {
    if (name === 'match_start()') setters.push((v, m) => (v[name] = m === null ? null : m.startTime));
    else if (name === 'match_end()') setters.push((v, m) => (v[name] = m === null ? null : m.endTime));
    else if (name.startsWith('first(')) {
      const s = stages.indexOf(name.slice(6, -1));
      setters.push((v, m) => (v[name] = m === null ? null : m.rows[2 * s]));
    } else if (name.startsWith('count(')) {
      const s = stages.indexOf(name.slice(6, -1));
      setters.push((v, m) => (v[name] = m === null ? 0 : m.marks[3 * s + 2]));
    } else {
      const s = stages.indexOf(name);
      setters.push((v, m) => (v[name] = m === null ? null : m.rows[2 * s + 1]));
    }
  }
  return (record, match) => {
    const view = Object.create(record) as Row;
    for (let i = 0; i < setters.length; i++) setters[i](view, match);
    return view;
  };
}
