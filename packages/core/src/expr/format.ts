/**
 * Turns a syntax tree back into SQL text.
 */

import { isReservedWord } from './token-stream.ts';
import type { BinaryOp, CastTarget, Expr } from './types.ts';

const BINARY_PRECEDENCE: { readonly [op in BinaryOp]: number } = {
  or: 1,
  and: 2,
  '=': 5,
  '<>': 5,
  '<': 5,
  '<=': 5,
  '>': 5,
  '>=': 5,
  '||': 7,
  '+': 8,
  '-': 8,
  '*': 9,
  '/': 9,
  '%': 9,
};

const CAST_NAMES: { readonly [target in CastTarget]: string } = {
  integer: 'BIGINT',
  double: 'DOUBLE',
  string: 'VARCHAR',
  boolean: 'BOOLEAN',
  timestamp: 'TIMESTAMP',
};

/** The SQL type name a cast target is written with. */
export function castTargetName(target: CastTarget): string {
  return CAST_NAMES[target];
}

const BARE_NAME = /^[\p{L}_][\p{L}\p{N}_$]*$/u;

function precedence(e: Expr): number {
  switch (e.kind) {
    case 'binary':
      return BINARY_PRECEDENCE[e.op];
    case 'unary':
      return e.op === 'not' ? 3 : 10;
    case 'is':
      return 4;
    case 'between':
    case 'in':
    case 'like':
      return 6;
    case 'literal':
      return typeof e.value === 'number' && (e.value < 0 || Object.is(e.value, -0)) ? 10 : 12;
    default:
      return 12;
  }
}

/** A field name as SQL: bare when it can be, otherwise double-quoted. */
export function formatName(name: string): string {
  return BARE_NAME.test(name) && !isReservedWord(name) ? name : `"${name.replaceAll('"', '""')}"`;
}

function formatLiteral(value: number | string | boolean | null): string {
  if (value === null) return 'NULL';
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'string') return `'${value.replaceAll("'", "''")}'`;
  return Object.is(value, -0) ? '-0' : String(value);
}

function at(e: Expr, min: number): string {
  const text = formatExpression(e);
  return precedence(e) < min ? `(${text})` : text;
}

function formatCall(e: Expr & { kind: 'call' }): string {
  const [first, second] = e.args;
  if (
    e.name === 'extract' &&
    e.args.length === 2 &&
    first.kind === 'literal' &&
    typeof first.value === 'string'
  ) {
    if (BARE_NAME.test(first.value)) return `extract(${first.value} FROM ${formatExpression(second)})`;
  }
  if (e.name === 'position' && e.args.length === 2)
    return `position(${at(first, 7)} IN ${formatExpression(second)})`;
  if (e.star) return `${e.name}(*)`;
  const args = e.args.map((a) => formatExpression(a)).join(', ');
  return `${e.name}(${e.distinct ? 'DISTINCT ' : ''}${args})`;
}

/**
 * Formats an expression as canonical SQL text that parses back to the same tree (offsets
 * aside): keywords upper-case, parentheses only where precedence needs them, INTERVAL literals
 * as milliseconds, casts as `CAST(x AS type)`.
 */
export function formatExpression(e: Expr): string {
  switch (e.kind) {
    case 'literal':
      return formatLiteral(e.value);
    case 'field':
      return formatName(e.name);
    case 'member':
      return `${at(e.object, 11)}.${formatName(e.name)}`;
    case 'index':
      return `${at(e.object, 11)}[${formatExpression(e.index)}]`;
    case 'unary': {
      if (e.op === 'not') return `NOT ${at(e.operand, 3)}`;
      const operand = at(e.operand, 10);
      return operand.startsWith('-') || operand.startsWith('+') ? `${e.op} ${operand}` : `${e.op}${operand}`;
    }
    case 'binary': {
      const p = BINARY_PRECEDENCE[e.op];
      const op = e.op === 'and' || e.op === 'or' ? e.op.toUpperCase() : e.op;
      return `${at(e.left, p)} ${op} ${at(e.right, p + 1)}`;
    }
    case 'is':
      return `${at(e.operand, 4)} IS ${e.negated ? 'NOT ' : ''}${e.test.toUpperCase()}`;
    case 'between':
      return `${at(e.operand, 7)} ${e.negated ? 'NOT ' : ''}BETWEEN ${at(e.low, 7)} AND ${at(e.high, 7)}`;
    case 'in':
      return `${at(e.operand, 7)} ${e.negated ? 'NOT ' : ''}IN (${e.list.map((x) => formatExpression(x)).join(', ')})`;
    case 'like': {
      const op = `${e.negated ? 'NOT ' : ''}${e.caseInsensitive ? 'ILIKE' : 'LIKE'}`;
      const escapeText = e.escape === null ? '' : ` ESCAPE ${at(e.escape, 7)}`;
      return `${at(e.operand, 7)} ${op} ${at(e.pattern, 7)}${escapeText}`;
    }
    case 'case': {
      const parts = ['CASE'];
      if (e.operand !== null) parts.push(formatExpression(e.operand));
      for (const w of e.whens)
        parts.push(`WHEN ${formatExpression(w.condition)} THEN ${formatExpression(w.result)}`);
      if (e.otherwise !== null) parts.push(`ELSE ${formatExpression(e.otherwise)}`);
      parts.push('END');
      return parts.join(' ');
    }
    case 'cast':
      return `CAST(${formatExpression(e.operand)} AS ${CAST_NAMES[e.target]})`;
    case 'call':
      return formatCall(e);
  }
}
