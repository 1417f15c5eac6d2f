/**
 * Recursive-descent parser for SQL scalar expressions.
 *
 * Precedence, loosest first (as in PostgreSQL): OR; AND; NOT; IS; comparison (= <> != < <= > >=);
 * BETWEEN, IN, LIKE, ILIKE; `||`; binary + -; * / %; unary + -; then `::`, `[ ]` and `.`.
 */

import type { Token } from './lexer.ts';
import { parseCastType, parseInterval } from './parse-forms.ts';
import { describe, fail, RESERVED, TokenStream } from './token-stream.ts';
import type { BinaryOp, CallExpr, CaseWhen, CastExpr, Expr } from './types.ts';
import { childrenOf } from './walk.ts';

const COMPARISON_OPS = new Set(['=', '<>', '!=', '<', '<=', '>', '>=']);

class Parser extends TokenStream {
  parseAll(): Expr {
    const e = this.expression();
    const t = this.peek();
    if (t.kind !== 'end') {
      fail(
        t.start,
        `unexpected ${describe(t)} after a complete expression; is an operator or a comma missing?`,
      );
    }
    return e;
  }

  expression(): Expr {
    return this.or();
  }

  binary(op: BinaryOp, left: Expr, right: Expr): Expr {
    return { kind: 'binary', op, left, right, start: left.start, end: right.end };
  }

  or(): Expr {
    let left = this.and();
    while (this.acceptWord('OR')) left = this.binary('or', left, this.and());
    return left;
  }

  and(): Expr {
    let left = this.not();
    while (this.acceptWord('AND')) left = this.binary('and', left, this.not());
    return left;
  }

  not(): Expr {
    const t = this.peek();
    if (t.kind === 'word' && t.upper === 'NOT') {
      this.pos++;
      const operand = this.not();
      return { kind: 'unary', op: 'not', operand, start: t.start, end: operand.end };
    }
    return this.is();
  }

  is(): Expr {
    let e = this.comparison();
    while (this.acceptWord('IS')) {
      const negated = this.acceptWord('NOT');
      const t = this.next();
      const test = t.kind === 'word' ? t.upper : '';
      if (test !== 'NULL' && test !== 'TRUE' && test !== 'FALSE') {
        fail(t.start, `expected NULL, TRUE or FALSE after IS${negated ? ' NOT' : ''}, found ${describe(t)}`);
      }
      const kind = test === 'NULL' ? 'null' : test === 'TRUE' ? 'true' : 'false';
      e = { kind: 'is', operand: e, test: kind, negated, start: e.start, end: t.end };
    }
    return e;
  }

  comparison(): Expr {
    let left = this.predicate();
    for (;;) {
      const t = this.peek();
      if (t.kind !== 'op' || !COMPARISON_OPS.has(t.text)) return left;
      this.pos++;
      const op = t.text === '!=' ? '<>' : (t.text as BinaryOp);
      left = this.binary(op, left, this.predicate());
    }
  }

  predicate(): Expr {
    const operand = this.concat();
    const negated = this.isWord('NOT');
    const t = this.peek(negated ? 1 : 0);
    const word = t.kind === 'word' ? t.upper : '';
    if (word !== 'BETWEEN' && word !== 'IN' && word !== 'LIKE' && word !== 'ILIKE') {
      if (negated) fail(t.start, `expected BETWEEN, IN, LIKE or ILIKE after NOT, found ${describe(t)}`);
      return operand;
    }
    this.pos += negated ? 2 : 1;
    if (word === 'BETWEEN') {
      const low = this.concat();
      this.expectWord('AND', 'between the bounds of BETWEEN');
      const high = this.concat();
      return { kind: 'between', operand, low, high, negated, start: operand.start, end: high.end };
    }
    if (word === 'IN') {
      const open = this.expectOp('(', 'after IN');
      if (this.isOp(')')) fail(this.peek().start, 'IN needs at least one value, e.g. IN (1, 2)');
      const list = [this.expression()];
      while (this.isOp(',')) {
        this.pos++;
        list.push(this.expression());
      }
      const close = this.expectOp(')', `to close the IN list opened at column ${open.start + 1}`);
      return { kind: 'in', operand, list, negated, start: operand.start, end: close.end };
    }
    const pattern = this.concat();
    let escapeExpr: Expr | null = null;
    if (this.acceptWord('ESCAPE')) escapeExpr = this.concat();
    const end = (escapeExpr ?? pattern).end;
    const caseInsensitive = word === 'ILIKE';
    return {
      kind: 'like',
      operand,
      pattern,
      escape: escapeExpr,
      caseInsensitive,
      negated,
      start: operand.start,
      end,
    };
  }

  concat(): Expr {
    let left = this.additive();
    while (this.isOp('||')) {
      this.pos++;
      left = this.binary('||', left, this.additive());
    }
    return left;
  }

  additive(): Expr {
    let left = this.multiplicative();
    while (this.isOp('+') || this.isOp('-')) {
      const op = this.next().text as BinaryOp;
      left = this.binary(op, left, this.multiplicative());
    }
    return left;
  }

  multiplicative(): Expr {
    let left = this.unary();
    while (this.isOp('*') || this.isOp('/') || this.isOp('%')) {
      const op = this.next().text as BinaryOp;
      left = this.binary(op, left, this.unary());
    }
    return left;
  }

  unary(): Expr {
    const t = this.peek();
    if (t.kind === 'op' && (t.text === '-' || t.text === '+')) {
      this.pos++;
      const operand = this.unary();
      return { kind: 'unary', op: t.text, operand, start: t.start, end: operand.end };
    }
    return this.postfix();
  }

  postfix(): Expr {
    let e = this.primary();
    for (;;) {
      if (this.isOp('::')) {
        this.pos++;
        const [target, end] = parseCastType(this);
        e = { kind: 'cast', operand: e, target, start: e.start, end };
      } else if (this.isOp('[')) {
        const open = this.next();
        const index = this.expression();
        const close = this.expectOp(']', `to close the '[' at column ${open.start + 1}`);
        e = { kind: 'index', object: e, index, start: e.start, end: close.end };
      } else if (this.isOp('.')) {
        this.pos++;
        const t = this.next();
        if (t.kind !== 'word' && t.kind !== 'quoted') {
          fail(t.start, `expected a field name after '.', found ${describe(t)}`);
        }
        e = { kind: 'member', object: e, name: t.text, start: e.start, end: t.end };
      } else {
        return e;
      }
    }
  }

  primary(): Expr {
    const t = this.next();
    switch (t.kind) {
      case 'number':
        return { kind: 'literal', value: t.value, start: t.start, end: t.end };
      case 'string':
        return { kind: 'literal', value: t.text, start: t.start, end: t.end };
      case 'quoted':
        return { kind: 'field', name: t.text, start: t.start, end: t.end };
      case 'op':
        if (t.text === '(') {
          const inner = this.expression();
          this.expectOp(')', `to close the '(' at column ${t.start + 1}`);
          return inner;
        }
        return fail(t.start, `expected an expression, found ${describe(t)}`);
      case 'end':
        return fail(t.start, 'expected an expression, found the end of the expression');
      default:
        return this.word(t);
    }
  }

  word(t: Token): Expr {
    const { start, end } = t;
    switch (t.upper) {
      case 'TRUE':
        return { kind: 'literal', value: true, start, end };
      case 'FALSE':
        return { kind: 'literal', value: false, start, end };
      case 'NULL':
        return { kind: 'literal', value: null, start, end };
      case 'CASE':
        return this.caseExpr(t);
    }
    if (t.upper === 'INTERVAL' && (this.peek().kind === 'string' || this.peek().kind === 'number')) {
      return parseInterval(this, t);
    }
    if (t.upper === 'CAST' && this.isOp('(')) return this.cast(t);
    if (RESERVED.has(t.upper)) {
      const hint =
        t.upper === 'AND' || t.upper === 'OR'
          ? ''
          : ` (to use a field named '${t.text}', quote it: "${t.text}")`;
      fail(start, `expected an expression, found ${t.upper}${hint}`);
    }
    if (this.isOp('(')) return this.call(t);
    return { kind: 'field', name: t.text, start, end };
  }

  caseExpr(caseTok: Token): Expr {
    if (this.isWord('END') || this.isWord('ELSE')) {
      fail(this.peek().start, `expected WHEN after CASE, found ${describe(this.peek())}`);
    }
    const operand = this.isWord('WHEN') ? null : this.expression();
    const whens: CaseWhen[] = [];
    while (this.acceptWord('WHEN')) {
      const condition = this.expression();
      this.expectWord('THEN', 'after the WHEN condition');
      whens.push({ condition, result: this.expression() });
    }
    if (whens.length === 0)
      fail(this.peek().start, `expected WHEN after CASE, found ${describe(this.peek())}`);
    const otherwise = this.acceptWord('ELSE') ? this.expression() : null;
    const t = this.peek();
    if (!this.acceptWord('END')) {
      fail(
        t.start,
        `expected WHEN, ELSE or END in the CASE at column ${caseTok.start + 1}, found ${describe(t)}`,
      );
    }
    return { kind: 'case', operand, whens, otherwise, start: caseTok.start, end: t.end };
  }

  cast(castTok: Token): CastExpr {
    const open = this.next();
    const operand = this.expression();
    this.expectWord('AS', 'and a type in CAST(x AS type)');
    const [target] = parseCastType(this);
    const close = this.expectOp(')', `to close the CAST at column ${open.start + 1}`);
    return { kind: 'cast', operand, target, start: castTok.start, end: close.end };
  }

  call(nameTok: Token): CallExpr {
    const open = this.next();
    const name = nameTok.text.toLowerCase();
    const node: CallExpr = {
      kind: 'call',
      name,
      args: [],
      distinct: false,
      star: false,
      start: nameTok.start,
      end: open.end,
    };
    if (this.isOp('*') && this.isOp(')', 1)) {
      this.pos++;
      node.star = true;
    } else if (!this.isOp(')')) {
      node.distinct = this.acceptWord('DISTINCT');
      this.arguments(node);
    }
    node.end = this.expectOp(')', `to close the call to ${name}( at column ${open.start + 1}`).end;
    return node;
  }

  arguments(node: CallExpr): void {
    const args = node.args;
    if (node.name === 'extract' && this.isWord('FROM', 1)) {
      const unit = this.next();
      if (unit.kind !== 'word' && unit.kind !== 'string') {
        fail(unit.start, `expected a date part such as HOUR before FROM, found ${describe(unit)}`);
      }
      args.push({ kind: 'literal', value: unit.text.toLowerCase(), start: unit.start, end: unit.end });
      this.pos++;
      args.push(this.expression());
      return;
    }
    // TIMESTAMPADD(MONTH, 1, ts): the unit is a bare word, as in Flink (a string works too).
    if (
      (node.name === 'timestampadd' || node.name === 'timestampdiff') &&
      this.peek().kind === 'word' &&
      this.isOp(',', 1)
    ) {
      const unit = this.next();
      args.push({ kind: 'literal', value: unit.text.toLowerCase(), start: unit.start, end: unit.end });
      while (this.isOp(',')) {
        this.pos++;
        args.push(this.expression());
      }
      return;
    }
    if (node.name === 'position') {
      args.push(this.concat());
      if (this.acceptWord('IN')) {
        args.push(this.expression());
        return;
      }
    } else {
      args.push(this.expression());
    }
    if ((node.name === 'substring' || node.name === 'substr') && this.acceptWord('FROM')) {
      args.push(this.expression());
      if (this.acceptWord('FOR')) args.push(this.expression());
      return;
    }
    while (this.isOp(',')) {
      this.pos++;
      args.push(this.expression());
    }
  }
}

/**
 * Parses one expression from `tokens` (made by `tokenize`) starting at token `pos`, and returns it
 * with the position of the first token after it: for a statement parser (SQL) that embeds
 * expressions, so that they parse exactly as in YAML. Offsets in the tree and in EXPR_SYNTAX
 * messages (`at column N`, N = offset + 1) are offsets into the text the tokens came from.
 */
export function parseExpressionFrom(
  tokens: Token[],
  pos: number,
): { readonly expr: Expr; readonly pos: number } {
  parses++;
  const parser = new Parser(tokens, pos);
  let expr: Expr;
  try {
    expr = parser.expression();
  } catch (err) {
    if (err instanceof RangeError) fail(tokens[pos]?.start ?? 0, TOO_DEEP);
    throw err;
  }
  if (depthOf(expr) > MAX_DEPTH) fail(expr.start, TOO_DEEP);
  return { expr, pos: parser.pos };
}

let parses = 0;

/**
 * How many times `parseExpression` has run in this process: lets tests prove that a job compiles
 * the trees its plan carries and parses no expression text after plan resolution.
 */
export function parseCount(): number {
  return parses;
}

/**
 * Parses SQL expression text into a syntax tree with source offsets on every node.
 * Throws EXPR_SYNTAX whose message starts with the 1-based column, e.g.
 * `at column 7: expected ')' to close the '(' at column 3, found the end of the expression`.
 */
export function parseExpression(text: string): Expr {
  parses++;
  let root: Expr;
  try {
    root = new Parser(text).parseAll();
  } catch (err) {
    if (err instanceof RangeError) fail(0, TOO_DEEP);
    throw err;
  }
  if (depthOf(root) > MAX_DEPTH) fail(0, TOO_DEEP);
  return root;
}

const MAX_DEPTH = 500;
const TOO_DEEP = `the expression nests more than ${MAX_DEPTH} levels deep; split it into several steps`;

/** Depth of the tree, computed without recursion so that it cannot overflow the stack. */
function depthOf(root: Expr): number {
  let max = 0;
  const stack: [Expr, number][] = [[root, 1]];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [node, depth] = item;
    if (depth > max) max = depth;
    if (max > MAX_DEPTH) break;
    for (const child of childrenOf(node)) stack.push([child, depth + 1]);
  }
  return max;
}
