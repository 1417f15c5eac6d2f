/**
 * How static types combine: which types compare with which, and the common type of branches.
 */

import type { ExprType } from './types.ts';

/** Whether values of type `t` are numbers at runtime (timestamps are epoch ms). */
export function isNumeric(t: ExprType): boolean {
  return t === 'number' || t === 'timestamp';
}

/** The comparison family of a type, or undefined when it is not known (`null`, `any`). */
export function family(t: ExprType): 'number' | 'string' | 'boolean' | undefined {
  if (t === 'number' || t === 'timestamp') return 'number';
  if (t === 'string' || t === 'boolean') return t;
  return undefined;
}

/** Whether two types may be compared (unknown types may, checked at runtime). */
export function comparable(a: ExprType, b: ExprType): boolean {
  const fa = family(a);
  const fb = family(b);
  return fa === undefined || fb === undefined || fa === fb;
}

/**
 * The common type of several branches: NULL branches are ignored, number and timestamp give
 * number, an unknown branch makes it unknown. Returns undefined when two branches conflict.
 */
export function unify(types: readonly ExprType[]): ExprType | undefined {
  let result: ExprType = 'null';
  let unknown = false;
  for (const t of types) {
    if (t === 'null') continue;
    if (t === 'any') {
      unknown = true;
      continue;
    }
    if (result === 'null' || result === t) result = t;
    else if (isNumeric(result) && isNumeric(t)) result = 'number';
    else return undefined;
  }
  return unknown ? 'any' : result;
}
