/**
 * The `MATCH_RECOGNIZE (…)` clause after a table in FROM, as Flink SQL writes it: PARTITION BY,
 * ORDER BY, MEASURES, ONE ROW PER MATCH, AFTER MATCH SKIP, PATTERN (concatenation, quantifiers
 * greedy and reluctant, an alternation of variables), WITHIN and DEFINE. What Flink refuses too
 * (ALL ROWS PER MATCH, groups of several variables, SUBSET) is refused where it starts.
 */

import type { Expr, Token } from '@sluice/core';
import type { MatchRecognize, Name, PatternVariable, TableRef } from './ast.ts';
import { describe } from './parser-words.ts';
import type { QueryParser } from './query-parser.ts';

const FORM =
  'MATCH_RECOGNIZE (PARTITION BY k ORDER BY ts MEASURES … ONE ROW PER MATCH AFTER MATCH SKIP PAST LAST ROW PATTERN (A B+) DEFINE B AS …)';

/** Parses `MATCH_RECOGNIZE (…) [[AS] alias]` after `table`; the parser stands at MATCH_RECOGNIZE. */
export function parseMatchRecognize(p: QueryParser, table: TableRef): MatchRecognize {
  const start = p.expectKeyword('MATCH_RECOGNIZE', 'after the table').start;
  const open = p.expect('(', `after MATCH_RECOGNIZE: ${FORM}`);
  const partitionBy: Name[] = [];
  if (p.acceptWord('PARTITION')) {
    p.expectKeyword('BY', 'after PARTITION');
    do {
      if (partitionBy.length > 0) p.pos++;
      partitionBy.push(p.name('a column after PARTITION BY'));
    } while (p.isOp(','));
  }
  const orderBy: { column: Name; descending: boolean }[] = [];
  if (!p.isWord('ORDER'))
    p.fail(
      p.peek().start,
      `expected ORDER BY <time attribute> in MATCH_RECOGNIZE (Flink orders the rows of a match by event time), found ${describe(p.peek())}`,
    );
  p.pos++;
  p.expectKeyword('BY', 'after ORDER');
  do {
    if (orderBy.length > 0) p.pos++;
    const column = p.name('the time attribute after ORDER BY');
    const descending = p.acceptWord('DESC');
    if (!descending) p.acceptWord('ASC');
    orderBy.push({ column, descending });
  } while (p.isOp(','));
  const measures: { expr: Expr; text: string; alias: Name }[] = [];
  if (p.acceptWord('MEASURES')) {
    do {
      if (measures.length > 0) p.pos++;
      if (p.isWord('RUNNING')) p.notYet(p.peek(), 'RUNNING measures (as in Flink, measures are FINAL)');
      p.acceptWord('FINAL');
      const { expr, text } = p.expression();
      p.expectKeyword('AS', `and a name after the measure ${text}: MEASURES ${text} AS name`);
      measures.push({ expr, text, alias: p.name('the name of the measure after AS') });
    } while (p.isOp(','));
  }
  if (p.isWord('ALL') && p.isWord('ROWS', 1))
    p.fail(
      p.peek().start,
      'ALL ROWS PER MATCH is not supported (nor by Flink): write ONE ROW PER MATCH, which gives one row per match with the PARTITION BY columns and the MEASURES',
    );
  if (p.acceptWord('ONE')) {
    p.expectKeyword('ROW', 'in ONE ROW PER MATCH');
    p.expectKeyword('PER', 'in ONE ROW PER MATCH');
    p.expectKeyword('MATCH', 'in ONE ROW PER MATCH');
  }
  let skip: MatchRecognize['skip'] = { kind: 'past_last_row', start: p.peek().start };
  if (p.isWord('AFTER')) {
    const at = p.next().start;
    p.expectKeyword('MATCH', 'in AFTER MATCH SKIP');
    p.expectKeyword('SKIP', 'in AFTER MATCH SKIP');
    if (p.acceptWord('PAST')) {
      p.expectKeyword('LAST', 'in SKIP PAST LAST ROW');
      p.expectKeyword('ROW', 'in SKIP PAST LAST ROW');
      skip = { kind: 'past_last_row', start: at };
    } else {
      p.expectKeyword(
        'TO',
        'after SKIP: SKIP PAST LAST ROW, SKIP TO NEXT ROW, SKIP TO FIRST var or SKIP TO LAST var',
      );
      const t = p.peek();
      if (p.acceptWord('NEXT')) {
        p.expectKeyword('ROW', 'in SKIP TO NEXT ROW');
        skip = { kind: 'to_next_row', start: at };
      } else if (p.acceptWord('FIRST') || p.acceptWord('LAST')) {
        const variable = p.name(`a pattern variable after SKIP TO ${t.upper}`);
        skip = { kind: t.upper === 'FIRST' ? 'to_first' : 'to_last', variable, start: at };
      } else {
        // `SKIP TO var` is SKIP TO LAST var in the SQL standard.
        const variable = p.name('NEXT ROW, FIRST var, LAST var or a pattern variable after SKIP TO');
        skip = { kind: 'to_last', variable, start: at };
      }
    }
  }
  const patternStart = p.expectKeyword(
    'PATTERN',
    'in MATCH_RECOGNIZE (PATTERN (…) after MEASURES, ONE ROW PER MATCH and AFTER MATCH SKIP)',
  ).start;
  const pattern = parsePattern(p);
  let within: number | undefined;
  if (p.acceptWord('WITHIN')) within = p.interval('the time bound after WITHIN');
  if (p.isWord('SUBSET')) p.notYet(p.peek(), 'SUBSET (nor by Flink)');
  const define: { variable: Name; expr: Expr; text: string }[] = [];
  if (p.acceptWord('DEFINE')) {
    do {
      if (define.length > 0) p.pos++;
      const variable = p.name('a pattern variable in DEFINE');
      p.expectKeyword('AS', `after ${variable.text} in DEFINE: ${variable.text} AS condition`);
      define.push({ variable, ...p.expression() });
    } while (p.isOp(','));
  }
  p.expect(')', `to close the MATCH_RECOGNIZE opened at ${p.where(open.start)}`);
  const alias = p.alias();
  return {
    kind: 'match_recognize',
    table,
    partitionBy,
    orderBy,
    measures,
    skip,
    pattern,
    patternStart,
    ...(within !== undefined ? { within } : {}),
    define,
    ...(alias ? { alias } : {}),
    start,
  };
}

/**
 * `( element … )`: a concatenation of variables, each with its quantifier, or of alternations of
 * single variables in parentheses (`(B | C)`, or the whole pattern `(A | B)`).
 */
function parsePattern(p: QueryParser): PatternVariable[][] {
  const open = p.expect('(', 'after PATTERN: PATTERN (A B+ C)');
  const elements: PatternVariable[][] = [];
  const branches: PatternVariable[][][] = [elements];
  let current = elements;
  while (!p.isOp(')')) {
    const t = p.peek();
    if (p.isOp('|')) {
      if (current.length === 0) p.fail(t.start, 'expected a pattern variable before |');
      p.pos++;
      current = [];
      branches.push(current);
      continue;
    }
    if (p.isOp('(')) {
      const group = p.next();
      const options: PatternVariable[] = [];
      do {
        if (options.length > 0) p.pos++;
        if (p.isOp('(')) p.notYet(p.peek(), 'nested groups in PATTERN');
        options.push(variable(p));
        if (!p.isOp('|') && !p.isOp(')'))
          p.notYet(
            p.peek(),
            'groups of several variables in PATTERN, such as (A (B C)+) (nor by Flink); an alternation of single variables, (B | C), is supported',
          );
      } while (p.isOp('|'));
      p.expect(')', `to close the group opened at ${p.where(group.start)}`);
      if (quantifierNext(p))
        p.notYet(p.peek(), 'a quantifier on a group in PATTERN (nor by Flink); quantify each variable');
      current.push(options);
      continue;
    }
    if (t.kind !== 'word' && t.kind !== 'quoted')
      p.fail(t.start, `expected a pattern variable, a group or ')' in PATTERN, found ${describe(t)}`);
    current.push([variable(p)]);
  }
  p.expect(')', `to close the PATTERN opened at ${p.where(open.start)}`);
  if (current.length === 0) p.fail(p.tokens[p.pos - 1].start, 'expected a pattern variable before )');
  if (branches.length === 1) return elements;
  // `PATTERN (A | B | C)`: an alternation of single variables at the top.
  const single = branches.every((b) => b.length === 1 && b[0].length === 1);
  if (!single)
    p.notYet(
      p.tokens.find((x) => x.start > open.start && x.kind === 'op' && x.text === '|') as Token,
      'alternations of sequences in PATTERN, such as (A B | C D) (nor by Flink); an alternation of single variables, (B | C), is supported',
    );
  return [branches.map((b) => b[0][0])];
}

function quantifierNext(p: QueryParser): boolean {
  return p.isOp('*') || p.isOp('+') || p.isOp('?') || p.isOp('{');
}

/** A variable and its quantifier, as the pattern step writes it (`{,m}` as `{0,m}`). */
function variable(p: QueryParser): PatternVariable {
  const name = p.name('a pattern variable');
  if (!quantifierNext(p)) return { name, quantifier: '', quantifierStart: name.start };
  const q = p.next();
  let text = q.text;
  if (q.text === '{') {
    const number = (what: string): number => {
      const t = p.next();
      if (t.kind !== 'number' || !Number.isInteger(t.value) || (t.value as number) < 0)
        p.fail(t.start, `expected ${what} (a whole number) in the quantifier, found ${describe(t)}`);
      return t.value as number;
    };
    const min = p.isOp(',') ? 0 : number('the least count');
    if (p.isOp(',')) {
      p.pos++;
      const max = p.isOp('}') ? undefined : number('the greatest count');
      text = `{${min},${max ?? ''}}`;
    } else text = `{${min}}`;
    p.expect('}', 'to close the quantifier {n}, {n,}, {n,m} or {,m}');
  }
  if (p.isOp('?')) {
    p.pos++;
    text += '?';
  }
  return { name, quantifier: text, quantifierStart: q.start };
}
