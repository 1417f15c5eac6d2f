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
