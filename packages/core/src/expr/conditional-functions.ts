/**
 * Conditional functions. They have no strict implementation: the code generator writes them out
 * (lazily for coalesce, ifnull and if), because NULL arguments do not simply make them NULL.
 */

import type { FunctionSpec } from './function-spec.ts';

/** The conditional functions. */
export const conditionalFunctions: readonly FunctionSpec[] = [
  {
    name: 'coalesce',
    category: 'conditional',
    signature: 'coalesce(a, b, …)',
    summary:
      'The first argument that is not NULL (a missing field counts as NULL here); later arguments are only evaluated when needed.',
    params: ['any'],
    required: 1,
    variadic: true,
    returns: 'unify',
  },
  {
    name: 'ifnull',
    category: 'conditional',
    signature: 'ifnull(a, b)',
    summary: '`a` unless it is NULL or a missing field, else `b`; same as coalesce(a, b).',
    params: ['any', 'any'],
    required: 2,
    returns: 'unify',
  },
  {
    name: 'nullif',
    category: 'conditional',
    signature: 'nullif(a, b)',
    summary:
      'NULL when `a` equals `b`, else `a` (a missing field counts as NULL). `x / nullif(y, 0)` avoids division by zero.',
    params: ['any', 'any'],
    required: 2,
    returns: 'unify',
  },
  {
    name: 'if',
    category: 'conditional',
    signature: 'if(condition, a, b)',
    summary:
      '`a` when `condition` is TRUE, else `b` (also when it is NULL); only the chosen branch is evaluated.',
    params: ['boolean', 'any', 'any'],
    required: 3,
    returns: 'unify',
    unifyFrom: 1,
  },
  {
    name: 'greatest',
    category: 'conditional',
    signature: 'greatest(a, b, …)',
    summary:
      'The largest argument, ignoring NULLs (NULL only when all are NULL). Arguments must be of one kind.',
    params: ['scalar'],
    required: 1,
    variadic: true,
    returns: 'unify',
  },
  {
    name: 'least',
    category: 'conditional',
    signature: 'least(a, b, …)',
    summary:
      'The smallest argument, ignoring NULLs (NULL only when all are NULL). Arguments must be of one kind.',
    params: ['scalar'],
    required: 1,
    variadic: true,
    returns: 'unify',
  },
];
