/**
 * Table functions defined from TypeScript (`defineTableFunction`) and the `table_function` step
 * that applies one to each record: the record joined with each row the function gives for it —
 * what Flink SQL's `LATERAL TABLE(f(x))` (a cross join, or `LEFT JOIN … ON TRUE`) gives.
 */

import Type from 'typebox';
import { SluiceError } from '../errors.ts';
import { compileExpression } from '../expr/index.ts';
import type { Operator, Output } from '../operator.ts';
import { withFields } from '../plan/schema.ts';
import { type Batch, emptyBatchLike, pushFrom, type Row } from '../record.ts';
import { defineStep } from '../spec.ts';

/** A row a table function gives: its values by position (the function's `columns`), or by name. */
export type TableFunctionRow = readonly unknown[] | { readonly [column: string]: unknown };

/** A table function defined from TypeScript. */
export interface UserTableFunction {
  /** How a query calls it: a letter or `_`, then letters, digits and `_` (case does not matter). */
  readonly name: string;
  /** The names of the columns of its rows, in order (SQL's `AS t(a, b)` may rename them). */
  readonly columns: readonly string[];
  /** How many arguments it takes. */
  readonly params: number;
  /**
   * The rows for one call's arguments (NULL arguments are passed as null); null or undefined for
   * none. Throwing sends the record to the dead-letter output with the message.
   */
  readonly impl: (...args: unknown[]) => Iterable<TableFunctionRow> | null | undefined;
  /** One sentence for messages. */
  readonly summary?: string;
}

const NAME = /^[a-z_][a-z0-9_]*$/;
const tableFunctions = new Map<string, UserTableFunction>();

/**
 * Defines a table function, which the `table_function` step (and SQL's `LATERAL TABLE(f(…))`)
 * calls by name. Defined once per process before a pipeline using it is created; defining the
 * same definition again does nothing, another one under a taken name is refused.
 */
export function defineTableFunction(fn: UserTableFunction): void {
  const name = fn.name.toLowerCase();
  if (!NAME.test(name))
    throw new SluiceError(
      'CONFIG_INVALID',
      `function name '${fn.name}' is not a name: a letter or '_', then letters, digits and '_'`,
    );
  const existing = tableFunctions.get(name);
  if (existing === fn) return;
  if (existing !== undefined)
    throw new SluiceError('CONFIG_INVALID', `table function ${name}() is defined already`);
  if (fn.columns.length === 0)
    throw new SluiceError('CONFIG_INVALID', `table function ${name}() names no columns`);
  tableFunctions.set(name, fn);
}

/** The table function `name` (case-insensitive), if defined. */
export function tableFunction(name: string): UserTableFunction | undefined {
  return tableFunctions.get(name.toLowerCase());
}

function unknownFunction(name: string, step: string): SluiceError {
  const known = [...tableFunctions.keys()];
  return new SluiceError(
    'CONFIG_INVALID',
    `table function ${name}() is not defined: define it from TypeScript with defineTableFunction({ name: '${name}', columns: […], params: n, impl }) before the pipeline is created${known.length > 0 ? `; defined: ${known.join(', ')}` : ''}`,
    { step, path: 'function' },
  );
}

/**
 * The operator: for each record, the function's rows for its arguments, each emitted as the
 * record with `columns` set from the row (by position, or by the function's column names for a
 * row given as an object); with `left`, a record without rows is emitted once with them NULL.
 */
function createTableFunction(
  stepId: string,
  fn: UserTableFunction,
  args: readonly ((r: Row) => unknown)[],
  columns: readonly string[],
  left: boolean,
): Operator {
  const name = fn.name.toLowerCase();
  const valuesOf = (row: TableFunctionRow): unknown[] => {
    if (Array.isArray(row)) return columns.map((_, i) => row[i] ?? null);
    if (typeof row === 'object' && row !== null) {
      const named = row as { readonly [column: string]: unknown };
      return fn.columns.map((c) => named[c] ?? null);
    }
    throw new Error(
      `gave a row that is ${row === null ? 'null' : `a ${typeof row}`}, not an array or an object`,
    );
  };
  return {
    processBatch(batch: Batch, out: Output): void {
      const result = emptyBatchLike(batch);
      let filtered = 0;
      for (let i = 0; i < batch.records.length; i++) {
        const record = batch.records[i];
        let rows: unknown[][];
        try {
          const values = args.map((a) => a(record));
          const given = fn.impl(...values);
          rows = given === null || given === undefined ? [] : [...given].map(valuesOf);
        } catch (err) {
          out.deadLetter(
            batch,
            i,
            err instanceof SluiceError
              ? err
              : new SluiceError(
                  'USER_FUNCTION_FAILED',
                  `${name}(): ${err instanceof Error ? err.message : String(err)}`,
                  { step: stepId },
                ),
          );
          continue;
        }
        if (rows.length === 0 && left) rows = [columns.map(() => null)];
        if (rows.length === 0) filtered++;
        for (const values of rows) {
          const row: Row = { ...record };
          for (let c = 0; c < columns.length; c++) row[columns[c]] = values[c] ?? null;
          pushFrom(result, batch, i, row);
        }
      }
      if (filtered > 0) out.filtered(filtered);
      if (result.records.length > 0) out.emit(result);
    },
  };
}

export const tableFunctionStep = defineStep({
  type: 'table_function',
  summary: 'Joins each record with the rows a table function defined from TypeScript gives for it.',
  description:
    'What `LATERAL TABLE(f(x))` gives in Flink SQL: the function (defined with `defineTableFunction` of `@sluice/core` in the process that runs the pipeline) is called with `args`, SQL expressions over the record, and each row it gives is emitted as the record with `columns` set from the row (by position; a row given as an object by the function’s column names). A record for which it gives no row is counted as filtered, or with `join: left` emitted once with the columns NULL. A record whose arguments fail to evaluate, or on which the function throws, goes to the dead-letter output with the message. The output is append-only and keeps the input’s partitioning.',
  config: Type.Object(
    {
      function: Type.String({
        minLength: 1,
        description: 'The table function’s name.',
        examples: ['split_words'],
      }),
      args: Type.Array(Type.String(), {
        default: [],
        description: 'Its arguments: SQL expressions over the record.',
        examples: [['text']],
      }),
      columns: Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        description: 'The fields each row’s values are written to, in the order of the function’s columns.',
        examples: [['word', 'position']],
      }),
      join: Type.Union([Type.Literal('inner'), Type.Literal('left')], {
        default: 'inner',
        description:
          '`inner`: a record without rows is dropped; `left`: it is kept once with the columns NULL.',
      }),
    },
    { additionalProperties: false },
  ),
  changelog: () => ({ consumes: ['append'], produces: 'append' }),
  example: 'type: table_function\nfunction: split_words\nargs: [text]\ncolumns: [word, position]\njoin: left',
  expressions: (cfg) => Object.fromEntries((cfg.args ?? []).map((a, i) => [`args[${i}]`, a])),
  schema(cfg, [input], ctx) {
    for (const i of (cfg.args ?? []).keys()) ctx.check(`args[${i}]`, input);
    return withFields(
      input,
      cfg.columns.map((name) => ({ name, type: 'any' as const, nullable: true })),
    );
  },
  key: (_cfg, [input]) => (input.partition === undefined ? {} : { partition: input.partition }),
  create(cfg, step) {
    const fn = tableFunction(cfg.function);
    if (fn === undefined) throw unknownFunction(cfg.function, step.id);
    const args = (cfg.args ?? []).map(
      (_, i) =>
        compileExpression(step.expression(`args[${i}]`), {
          step: step.id,
          path: `args[${i}]`,
          clock: step.clock,
        }).evaluate,
    );
    if (args.length !== fn.params)
      throw new SluiceError(
        'CONFIG_INVALID',
        `table function ${cfg.function}() takes ${fn.params} argument(s), got ${args.length}`,
        { step: step.id, path: 'args' },
      );
    if (cfg.columns.length !== fn.columns.length)
      throw new SluiceError(
        'CONFIG_INVALID',
        `table function ${cfg.function}() gives ${fn.columns.length} column(s) (${fn.columns.join(', ')}), and columns names ${cfg.columns.length}`,
        { step: step.id, path: 'columns' },
      );
    return createTableFunction(step.id, fn, args, cfg.columns, cfg.join === 'left');
  },
});
