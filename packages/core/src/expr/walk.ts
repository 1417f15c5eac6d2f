/**
 * Generic traversal of expression trees.
 */

import type { Expr } from './types.ts';

/** The direct children of a node, in source order. */
export function childrenOf(e: Expr): Expr[] {
  switch (e.kind) {
    case 'literal':
    case 'field':
      return [];
    case 'member':
      return [e.object];
    case 'index':
      return [e.object, e.index];
    case 'unary':
    case 'cast':
      return [e.operand];
    case 'binary':
      return [e.left, e.right];
    case 'is':
      return [e.operand];
    case 'between':
      return [e.operand, e.low, e.high];
    case 'in':
      return [e.operand, ...e.list];
    case 'like':
      return e.escape === null ? [e.operand, e.pattern] : [e.operand, e.pattern, e.escape];
    case 'case': {
      const out = e.operand === null ? [] : [e.operand];
      for (const w of e.whens) out.push(w.condition, w.result);
      if (e.otherwise !== null) out.push(e.otherwise);
      return out;
    }
    case 'call':
      return e.args;
  }
}

/** A shallow copy of `e` with each direct child replaced by `f(child)`; leaves come back as they are. */
export function mapChildren(e: Expr, f: (child: Expr) => Expr): Expr {
  switch (e.kind) {
    case 'literal':
    case 'field':
      return e;
    case 'member':
      return { ...e, object: f(e.object) };
    case 'index':
      return { ...e, object: f(e.object), index: f(e.index) };
    case 'unary':
      return { ...e, operand: f(e.operand) };
    case 'cast':
      return { ...e, operand: f(e.operand) };
    case 'is':
      return { ...e, operand: f(e.operand) };
    case 'binary':
      return { ...e, left: f(e.left), right: f(e.right) };
    case 'between':
      return { ...e, operand: f(e.operand), low: f(e.low), high: f(e.high) };
    case 'in':
      return { ...e, operand: f(e.operand), list: e.list.map(f) };
    case 'like':
      return {
        ...e,
        operand: f(e.operand),
        pattern: f(e.pattern),
        escape: e.escape === null ? null : f(e.escape),
      };
    case 'case':
      return {
        ...e,
        operand: e.operand === null ? null : f(e.operand),
        whens: e.whens.map((w) => ({ condition: f(w.condition), result: f(w.result) })),
        otherwise: e.otherwise === null ? null : f(e.otherwise),
      };
    case 'call':
      return { ...e, args: e.args.map(f) };
  }
}
