/**
 * Parsing of the literal forms with their own grammar: INTERVAL literals and CAST type names.
 */

import { intervalUnitMs, isVariableUnit, parseIntervalText } from './interval.ts';
import type { Token } from './lexer.ts';
import { closest } from './suggest.ts';
import { describe, fail, type TokenStream } from './token-stream.ts';
import type { CastTarget, LiteralExpr } from './types.ts';

const CAST_TYPES: { readonly [name: string]: CastTarget } = {
  INT: 'integer',
  INTEGER: 'integer',
  BIGINT: 'integer',
  SMALLINT: 'integer',
  DOUBLE: 'double',
  FLOAT: 'double',
  REAL: 'double',
  DECIMAL: 'double',
  NUMERIC: 'double',
  VARCHAR: 'string',
  STRING: 'string',
  TEXT: 'string',
  BOOLEAN: 'boolean',
  BOOL: 'boolean',
  TIMESTAMP: 'timestamp',
};

/** The type names CAST and `::` accept. */
export const castTypeNames: readonly string[] = Object.keys(CAST_TYPES);

const NUMBER_TEXT = /^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

/**
 * Parses the rest of an INTERVAL literal after the INTERVAL keyword: `'5' MINUTE`, `5 MINUTE`,
 * `'1 minute'`, `'1h30m'`. The literal's value is the number of milliseconds.
 */
export function parseInterval(stream: TokenStream, intervalTok: Token): LiteralExpr {
  const valueTok = stream.next();
  const unitTok = stream.peek();
  const unitMs = unitTok.kind === 'word' ? intervalUnitMs(unitTok.text) : undefined;
  if (unitTok.kind === 'word' && isVariableUnit(unitTok.text)) {
    fail(
      unitTok.start,
      `${unitTok.upper} has no fixed length; write the interval in days, hours, minutes or seconds`,
    );
  }
  let value: number;
  let end = valueTok.end;
  if (unitMs !== undefined) {
    if (!NUMBER_TEXT.test(valueTok.text)) {
      fail(
        valueTok.start,
        `INTERVAL '${valueTok.text}' ${unitTok.upper} needs a plain number before the unit`,
      );
    }
    value = Number(valueTok.text) * unitMs;
    end = stream.next().end;
  } else if (valueTok.kind === 'number') {
    return fail(
      valueTok.start,
      `INTERVAL ${valueTok.text} needs a unit, e.g. INTERVAL '${valueTok.text}' SECOND`,
    );
  } else {
    const parsed = parseIntervalText(valueTok.text);
    if (typeof parsed === 'string') fail(valueTok.start, parsed);
    value = parsed;
  }
  if (!Number.isFinite(value)) {
    fail(
      valueTok.start,
      `INTERVAL '${valueTok.text}' is too large: its milliseconds exceed the range of a double`,
    );
  }
  // '-0 seconds' is 0: a tree is plain data, and JSON has no -0.
  return { kind: 'literal', value: value === 0 ? 0 : value, start: intervalTok.start, end };
}

/** Parses a SQL type name (and DOUBLE PRECISION); returns its cast target and end offset. */
export function parseCastType(stream: TokenStream): [CastTarget, number] {
  const t = stream.next();
  const name = t.kind === 'word' ? t.upper : '';
  const target = Object.hasOwn(CAST_TYPES, name) ? CAST_TYPES[name] : undefined;
  if (target === undefined) {
    const types = Object.keys(CAST_TYPES);
    const match = t.kind === 'word' ? closest(name, types) : undefined;
    const hint = match === undefined ? `use one of ${types.join(', ')}` : `did you mean ${match}?`;
    fail(t.start, `expected a type, found ${describe(t)}; ${hint}`);
  }
  let end = t.end;
  if (name === 'DOUBLE' && stream.isWord('PRECISION')) end = stream.next().end;
  if (stream.isOp('(')) {
    fail(stream.peek().start, `type modifiers such as ${name}(…) are not supported; write just ${name}`);
  }
  return [target, end];
}
