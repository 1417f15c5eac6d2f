/**
 * The `aggregate` step: keyed window aggregation with SQL aggregate calls.
 *
 * `fields: { revenue: sum(amount) }` — each value is one aggregate call whose arguments are SQL
 * expressions; the call is compiled once into an aggregate function and an argument reader. A
 * value may also be an SQL expression over aggregate calls, key fields and the window bounds
 * (`round(sum(amount) / count(*), 2)`): its calls become hidden aggregates and the expression is
 * evaluated on their results when the window fires.
 */

import Type from 'typebox';
import { aggregateFunction } from '../aggregate/registry.ts';
import { userAggregateDefinition } from '../aggregate/user-aggregates.ts';
import { SluiceError } from '../errors.ts';
import {
  type CallExpr,
  childrenOf,
  compileExpression,
  type Expr,
  formatExpression,
  isAggregateCall,
  mapChildren,
  parseExpression,
} from '../expr/index.ts';
import { describePartition, type KeyContext, type StreamKey } from '../plan/keys.ts';
import type { FieldSchema, Schema, SchemaContext } from '../plan/schema.ts';
import { defineStep, type ExpressionOptions } from '../spec.ts';
import type { Clock } from '../time.ts';
import { parseDuration } from '../time.ts';
import {
  type AggregateField,
  createWindowAggregate,
  type DerivedField,
  type OutputField,
} from '../window/window-aggregate.ts';
import { type WindowLength, windowKind, windowKindNames, windowKinds } from '../window/window-kinds.ts';
import type { WindowSpec } from '../window/window-spec.ts';
import { compileAggregateCall, findAggregateCall } from './aggregate-call.ts';
import { parseTtl, ttlDescription } from './state-ttl.ts';
import { createUpdatingAggregate } from './updating-aggregate.ts';

const duration = (description: string) => Type.String({ description, examples: ['1m'] });

/** A window as the YAML gives it: the kind's lengths as durations. */
export type WindowConfig = {
  [K in WindowSpec['type']]: { type: K } & {
    [F in keyof Omit<Extract<WindowSpec, { type: K }>, 'type'>]: string;
  };
}[WindowSpec['type']];

/**
 * One schema per window kind, from the table that also validates and assigns them (typed by
 * hand: TypeBox cannot follow a schema built from a table).
 */
export const windowConfig = Type.Unsafe<WindowConfig>(
  Type.Union(
    Object.entries(windowKinds).map(([type, kind]) =>
      Type.Object(
        {
          type: Type.Literal(type),
          ...Object.fromEntries(
            Object.entries<WindowLength>(kind.lengths).map(([field, length]) => [
              field,
              length.optional ? Type.Optional(duration(length.description)) : duration(length.description),
            ]),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    {
      description:
        `The window: ${windowKindNames()}. ` +
        'Without a window the step keeps one result per key and emits its changes as they happen (a retract changelog: the first result of a key as an insert, then each change as an update-before of the old result and an update-after of the new one), so only steps and sinks that take updates may follow it. Without a window it also reads a retract stream (a table’s changes) when every aggregate is `count`, `sum`, `avg`, `min` or `max`: an update-before or delete takes its row back, and a key left with no row is deleted (`min` and `max` then keep each distinct value of a key with its count, so a key’s state grows with its number of distinct values).',
    },
  ),
);

const config = Type.Object(
  {
    key: Type.Optional(
      Type.Array(Type.String(), {
        description:
          'Fields to group by, named as in expressions (`region`; `"user id"` for a name that is not an identifier); they appear in each result under their names. A record without one of them goes to the dead-letter output (a field that is null is a group of its own). To group by a computed value, compute it in a `map` step first. Given, they group the records even after a key_by (a regroup, as SQL `GROUP BY`). Default: the key of an upstream key_by, or one global group.',
        examples: [['region']],
      }),
    ),
    window: Type.Optional(windowConfig),
    time: Type.Union([Type.Literal('event'), Type.Literal('processing')], {
      description:
        'Window by event time (fired by the watermark) or by processing time (fired by the clock). Not used without a window.',
      default: 'event',
    }),
    fields: Type.Record(Type.String(), Type.String(), {
      description:
        'Results to compute: name → aggregate call, e.g. `count(*)`, `sum(amount)`, `avg(amount)`, `min`, `max`, `first`, `last`, `count(DISTINCT user)`, `approx_count_distinct(user)`, `percentile(amount, 0.95)` (= `percentile_cont`), `percentile_disc(amount, 0.95)`; or an SQL expression over aggregate calls, the `key` fields and `window_start`/`window_end`, e.g. `round(sum(amount) / count(*), 2)`.',
    }),
    allowed_lateness: Type.String({
      description:
        'How long after an event-time window fired it still takes late records. Above 0 the step emits a changelog (retract mode): each result first as an insert, then a late record that changes it as an update-before of the earlier result followed by an update-after of the new one (a late record that leaves it unchanged emits nothing), so only steps and sinks that take updates may follow — a sink needs its `changelog` option. For sessions, a late record that merges fired sessions deletes their results when the merged session fires. Each fired result is kept in memory (and checkpoints) until its lateness ends. Not used without a window or in processing time (no record is late).',
      default: '0s',
    }),
    on_late: Type.Union([Type.Literal('late_output'), Type.Literal('dead_letter'), Type.Literal('drop')], {
      description:
        'Where records too late for every window go: the pipeline’s late_output (dead letters if it has none), dead letters, or nowhere (counted as late).',
      default: 'late_output',
    }),
    ttl: Type.Optional(
      Type.String({
        description: `Only without a window. ${ttlDescription(
          'Each record added to a key writes its state. A forgotten key emits nothing; its next record starts afresh, with an insert of a result over that record alone, while the result emitted before stays downstream (an upsert sink keyed by the key replaces it).',
        )}`,
        examples: ['1h'],
      }),
    ),
  },
  { additionalProperties: false },
);

/**
 * The window spec of a window config: its lengths parsed as durations, in the order the kind
 * lists them. The spec is checked by the window aggregate (`validateWindowSpec`).
 */
export function windowSpec(w: WindowConfig): WindowSpec {
  const spec: { [field: string]: unknown } = { type: w.type };
  const lengths: { readonly [field: string]: string | undefined } = w;
  for (const field of Object.keys(windowKind(w.type)?.lengths ?? {})) {
    const value = lengths[field];
    if (typeof value === 'string') spec[field] = parseDuration(value, `window.${field}`);
  }
  return spec as unknown as WindowSpec;
}

/** The allowed lateness in ms; 0 for a duration that does not parse (`create` reports it). */
function latenessOf(text: string | undefined): number {
  if (text === undefined) return 0;
  try {
    return parseDuration(text, 'allowed_lateness');
  } catch {
    return 0;
  }
}

interface FieldOptions {
  step: string;
  clock: Clock;
  /** The parsed expression at a config path (`fields.<name>`): `StepInfo.expression`. */
  expression: (path: string) => Expr;
  /** Whether results have `window_start` and `window_end` for expressions to read (default true). */
  windowBounds?: boolean;
  /** The input retracts: the calls take their retractable forms (`AggregateOptions.retract`). */
  retract?: boolean;
}

/**
 * Compiles the `fields` of an aggregate step into its output fields, in their order.
 *
 * A field that is one aggregate call becomes an {@link AggregateField}. Any other expression
 * becomes a {@link DerivedField}: each aggregate call in it is compiled like a bare one into a
 * hidden aggregate (one per distinct call text, shared between fields) and replaced by a
 * reference to its result under a `$agg<n>` name that no key field uses. Outside aggregate calls
 * the expression may read only `keyFields`, `window_start` and `window_end` (not the bounds when
 * `windowBounds` is false). Throws
 * PLAN_TYPE_ERROR for an expression without an aggregate call, a nested aggregate call or another
 * field read outside one, and the compile errors of the expressions.
 */
export function compileAggregateFields(
  fields: { readonly [name: string]: string },
  options: FieldOptions & { keyFields: readonly string[] },
): OutputField[] {
  const { step, keyFields } = options;
  const retract = options.retract === true;
  const bounds = options.windowBounds === false ? [] : ['window_start', 'window_end'];
  const readable = new Set([...keyFields, ...bounds]);
  let prefix = '$agg';
  while (keyFields.some((k) => k.startsWith(prefix))) prefix = `$${prefix}`;
  const hidden = new Map<string, AggregateField>();
  return Object.entries(fields).map(([name, text]): OutputField => {
    const path = `fields.${name}`;
    const expr = options.expression(path);
    if (expr.kind === 'call' && isAggregateCall(expr))
      return compileAggregateCall(name, expr, { step, clock: options.clock, field: name, retract });
    if (findAggregateCall(expr) === undefined) {
      throw new SluiceError(
        'PLAN_TYPE_ERROR',
        `'${text}' is not an aggregate call; write e.g. count(*), sum(amount) or percentile(amount, 0.95)`,
        { step, path },
      );
    }
    const aggregates: AggregateField[] = [];
    const rewrite = (e: Expr): Expr => {
      if (e.kind === 'call' && isAggregateCall(e)) {
        const call = formatExpression(e);
        let a = hidden.get(call);
        if (a === undefined) {
          a = compileAggregateCall(`${prefix}${hidden.size}`, e, {
            step,
            clock: options.clock,
            field: name,
            retract,
          });
          hidden.set(call, a);
        }
        if (!aggregates.includes(a)) aggregates.push(a);
        return { kind: 'field', name: a.name, start: e.start, end: e.end };
      }
      if (e.kind === 'field' && !readable.has(e.name)) {
        const bound = (e.name === 'window_start' || e.name === 'window_end') && bounds.length === 0;
        throw new SluiceError(
          'PLAN_TYPE_ERROR',
          bound
            ? `'${text}' reads '${e.name}', but the step has no window; add a \`window\`, or leave the bound out`
            : `'${text}' reads field '${e.name}' outside an aggregate call; wrap it in an aggregate such as first(${formatExpression(e)}), or add it to \`key\``,
          { step, path },
        );
      }
      return mapChildren(e, rewrite);
    };
    const rewritten = rewrite(expr);
    const { evaluate } = compileExpression(rewritten, { step, path, clock: options.clock });
    const derived: DerivedField = { name, aggregates, evaluate };
    return derived;
  });
}

/**
 * Whether every aggregate call of `fields` can take a value back (`AggregateFunction.retract`:
 * count, sum, avg, and min and max in their retractable forms), so that an aggregate without a window can read a retract stream. Fields that
 * do not parse count as not: their error is reported where they are compiled.
 */
function retractable(fields: { readonly [field: string]: string }): boolean {
  const calls: CallExpr[] = [];
  const collect = (e: Expr): void => {
    if (e.kind === 'call' && isAggregateCall(e)) calls.push(e);
    else for (const child of childrenOf(e)) collect(child);
  };
  try {
    for (const text of Object.values(fields)) collect(parseExpression(text));
    return calls.every(
      (c) =>
        aggregateFunction(c.name, { distinct: c.distinct, star: c.star, retract: true }).retract !==
        undefined,
    );
  } catch {
    return false;
  }
}

/**
 * The options of an aggregate config that hold expressions: the `key` entries, each a field name
 * in expression syntax (a syntax error there says how to quote a name), and the `fields`.
 */
function aggregateExpressions(cfg: {
  key?: string[];
  fields: { [name: string]: string };
}): ExpressionOptions {
  const options: { [path: string]: ExpressionOptions[string] } = {};
  for (const [i, text] of (cfg.key ?? []).entries()) {
    options[`key[${i}]`] = {
      text,
      syntaxMessage: (message) =>
        `'${text}' is not a field name (${message}); write a name that is not a plain identifier in double quotes, e.g. "user id"`,
    };
  }
  for (const [name, text] of Object.entries(cfg.fields)) options[`fields.${name}`] = text;
  return options;
}

/**
 * Reads the `key` entries as field names: each must be an expression that is one field, plain
 * (`region`) or quoted (`"user id"`); `expression` gives the parsed entry at a config path
 * (`key[i]`). Throws PLAN_TYPE_ERROR for an expression, which a result could not name, saying to
 * compute it in a `map` step first.
 */
export function keyFieldNames(
  key: readonly string[],
  expression: (path: string) => Expr,
  step: string,
): string[] {
  return key.map((text, i) => {
    const path = `key[${i}]`;
    const expr = expression(path);
    if (expr.kind !== 'field') {
      throw new SluiceError(
        'PLAN_TYPE_ERROR',
        `'${text}' is an expression, but a key entry must be a field name (its value becomes the result field of that name); compute it in a map step before this one, e.g. fields: { ${text.replace(/\W+/g, '_').replace(/^_|_$/g, '') || 'group'}: ${text} }, and group by that field`,
        { step, path },
      );
    }
    return expr.name;
  });
}

export const aggregateStep = defineStep({
  type: 'aggregate',
  // allowed_lateness, on_late and ttl change what happens next, not what the state holds: with
  // lateness fired groups also keep the result they emitted, and without it no fired group is
  // kept, so state restores across a change of any of them.
  state: ['key', 'window', 'time', 'fields'],
  summary:
    'Aggregates records per key and window (tumbling, hopping, session, cumulative), or per key as an updating result.',
  changelog: (cfg) => {
    if (cfg.window === undefined) {
      return {
        consumes: retractable(cfg.fields) ? ['append', 'retract'] : ['append'],
        produces: 'retract',
        reason:
          'an aggregate without a window updates the result of a key with every record of the key; give it a `window` to emit each result once',
      };
    }
    if (cfg.time !== 'processing' && latenessOf(cfg.allowed_lateness) > 0) {
      return {
        consumes: ['append'],
        produces: 'retract',
        reason: `with \`allowed_lateness: ${cfg.allowed_lateness}\`, a late record updates the result of a window that already fired (an update-before of the earlier result, then an update-after of the new one); write the results to a sink with a \`changelog\` option, or set \`allowed_lateness: 0s\` to emit each window once and send late records to \`on_late\``,
      };
    }
    return { consumes: ['append'], produces: 'append' };
  },
  description:
    'Each result holds the key fields, `window_start` and `window_end` (epoch ms, half-open) and the aggregate fields; its event time is `window_end - 1`. An event-time window fires once, when the watermark passes its end; records arriving after that (beyond `allowed_lateness`) go where `on_late` says. With an `allowed_lateness` above 0, a late record within it updates the result that already fired, and the step emits a retract changelog (see `allowed_lateness`). At the end of a bounded input every open window fires.\n\nWithout a `window`, the step keeps one result per key — the key fields and the aggregate fields, no window bounds — and emits it as a changelog (retract mode): the first result of a key as an insert; when a record changes it, an update-before holding the old result followed by an update-after holding the new one (a record that leaves it unchanged emits nothing). Each change takes the event time of the record that caused it. The state of every key goes into checkpoints and is kept for the life of the job, or until `ttl` forgets it; no record is late. Only steps and sinks that take updates may follow: record-by-record steps (`map`, `filter`, …) and sinks with a `changelog` option.\n\nA field may be an expression over aggregate calls, such as `round(sum(amount), 2)` or `max(price) - min(price)`; outside its aggregate calls it may read only the `key` fields, `window_start` and `window_end` (wrap any other field in an aggregate such as `first(x)`), and aggregate calls cannot be nested. When such an expression fails for a result, e.g. by dividing by zero, that field is NULL in the result (like Spark SQL without ANSI mode) and the step logs one warning per field: a result is not an input record, so it cannot go to dead letters, whose count belongs to the step’s accounting of input records (in = out + filtered + dead + late).\n\nArgument values follow one rule, the same as in `map` and `filter`: a missing field or NULL is NULL — that aggregate skips it and the record still counts for the others (`count(y)` does not count a record without `y`, `count(*)` does). A value of the wrong type for the aggregate — text, a boolean or an object where a number is needed (`sum`, `avg`, the percentiles), or a boolean or object for `min`/`max`, which take numbers or strings but one kind per group — is never converted or ignored: the record goes to the dead-letter output with a message naming the step, the field, the call and the fix (`sum(CAST(amount AS DOUBLE))`), and counts in none of the step’s aggregates. So does ±Infinity or NaN (NUMBER_OUT_OF_RANGE), and a value that would take a `sum` or `avg` beyond the range of a double (about ±1.8e308): the sum keeps its value without that record, so one value never turns a result into NULL.',
  config,
  example:
    'type: aggregate\nkey: [region]\nwindow: { type: tumbling, size: 1m }\nfields:\n  orders: count(*)\n  revenue: sum(amount)\n  avg_amount: round(sum(amount) / count(*), 2)\n  p95_amount: percentile(amount, 0.95)',
  expressions: aggregateExpressions,
  schema(cfg, [input], ctx) {
    const keyFields = cfg.key === undefined ? [] : keyFieldNames(cfg.key, ctx.expression, ctx.step);
    const fields: FieldSchema[] = keyFields.map((name, i) => ctx.field(name, `key[${i}]`, input));
    if (cfg.window !== undefined)
      fields.push({ name: 'window_start', type: 'number' }, { name: 'window_end', type: 'number' });
    for (const name of Object.keys(cfg.fields)) fields.push(aggregateFieldSchema(name, input, ctx));
    // Keyed by an upstream key_by instead of `key`, a result also holds that key.
    return { fields, open: cfg.key === undefined };
  },
  key: aggregateKey,
  create(cfg, step) {
    const keyFields = cfg.key === undefined ? undefined : keyFieldNames(cfg.key, step.expression, step.id);
    const fields = compileAggregateFields(cfg.fields, {
      step: step.id,
      clock: step.clock,
      expression: step.expression,
      keyFields: keyFields ?? [],
      windowBounds: cfg.window !== undefined,
      retract: cfg.window === undefined && step.inputModes?.includes('retract') === true,
    });
    if (fields.length === 0) {
      throw new SluiceError('CONFIG_INVALID', 'aggregate needs at least one entry in `fields`', {
        step: step.id,
        path: 'fields',
      });
    }
    const ttl = parseTtl(cfg.ttl, step.id);
    if (cfg.window !== undefined && ttl !== undefined) {
      throw new SluiceError(
        'CONFIG_INVALID',
        '`ttl` is for an aggregate without a window; a windowed aggregate drops each window once the watermark passes it: remove `ttl`',
        { step: step.id, path: 'ttl' },
      );
    }
    if (cfg.window === undefined) {
      // Options that only mean something for windows are refused rather than ignored.
      if (cfg.time !== 'event' || parseDuration(cfg.allowed_lateness, 'allowed_lateness') !== 0) {
        const path = cfg.time !== 'event' ? 'time' : 'allowed_lateness';
        throw new SluiceError(
          'CONFIG_INVALID',
          `\`${path}\` is for windows, and this aggregate has none: it updates each key's result as records arrive; remove \`${path}\`, or add a \`window\``,
          { step: step.id, path },
        );
      }
      const updating = createUpdatingAggregate({
        stepId: step.id,
        ...(keyFields ? { keyFields } : {}),
        fields,
        ...(ttl !== undefined ? { ttl } : {}),
        ...(step.inputModes?.includes('retract') ? { retract: true } : {}),
      });
      return Object.assign(updating, { absorbs: true as const });
    }
    const operator = createWindowAggregate({
      stepId: step.id,
      window: windowSpec(cfg.window),
      time: cfg.time,
      ...(keyFields ? { keyFields } : {}),
      fields,
      allowedLateness: parseDuration(cfg.allowed_lateness, 'allowed_lateness'),
    });
    return Object.assign(operator, { onLate: cfg.on_late, absorbs: true as const });
  },
});

/**
 * The type of an aggregate field, checking the arguments of its aggregate calls against the
 * input's schema: counts, sums, averages and percentiles are numbers; min, max, first and last
 * have their argument's type; an expression over calls is of unknown type.
 */
export function aggregateFieldSchema(name: string, input: Schema, ctx: SchemaContext): FieldSchema {
  const path = `fields.${name}`;
  const expr = ctx.expression(path);
  let result: FieldSchema = { name, type: 'any', nullable: true };
  const visit = (e: Expr, top: boolean): Expr => {
    if (e.kind === 'call' && isAggregateCall(e)) {
      const types = e.args.map((a) => ctx.check(path, input, 'value', a));
      const fn = e.name.toLowerCase();
      const numeric = fn === 'sum' || fn === 'avg' || fn.startsWith('percentile');
      if (numeric && (types[0] === 'string' || types[0] === 'boolean')) {
        const arg = formatExpression(e.args[0]);
        throw new SluiceError(
          'PLAN_TYPE_ERROR',
          `${fn}() needs numbers, but ${arg} is ${types[0] === 'string' ? 'a string' : 'a boolean'}${types[0] === 'string' ? `; convert it with ${fn}(CAST(${arg} AS DOUBLE))` : ''}`,
          { step: ctx.step, path },
        );
      }
      if (top) {
        const same = fn === 'min' || fn === 'max' || fn === 'first' || fn === 'last';
        const user = userAggregateDefinition(fn);
        result = {
          name,
          type: user !== undefined ? (user.returns ?? 'any') : same ? (types[0] ?? 'any') : 'number',
          nullable: true,
        };
      }
      return e;
    }
    return mapChildren(e, (child) => visit(child, false));
  };
  visit(expr, true);
  return result;
}

/**
 * The keys of an aggregate's results. A result is identified by its group and, with a window, its
 * bounds: every update-before/update-after pair (no window, or a late firing) and every delete (a
 * merged session) names the result of one group and window. The operators group by the `key`
 * fields when there are some (regrouping a keyed input), else by the upstream `key_by` key when
 * the input has one, else into one group, so:
 * - `key` fields: those fields, plus `window_start`, `window_end`; the results are not
 *   partitioned (they carry no batch keys);
 * - no `key`, keyed input: the `key` field the results carry, plus the bounds; the results keep
 *   the input's key beside them;
 * - no `key`, unkeyed input: one group, told apart by its bounds only.
 */
function aggregateKey(
  cfg: { key?: string[]; window?: WindowConfig },
  [input]: readonly StreamKey[],
  ctx: KeyContext,
): StreamKey {
  const keyFields = cfg.key === undefined ? [] : keyFieldNames(cfg.key, ctx.expression, ctx.step);
  const bounds = cfg.window === undefined ? [] : ['window_start', 'window_end'];
  if (keyFields.length > 0) return { partition: { kind: 'none' }, unique: [[...keyFields, ...bounds]] };
  const p = input.partition;
  if (p === undefined) return {};
  if (p.kind === 'none') return { partition: p, unique: [bounds] };
  return {
    partition:
      p.kind === 'opaque'
        ? p
        : { kind: 'opaque', why: `${describePartition(p)} of its input, in field \`key\`` },
    unique: [['key', ...bounds]],
  };
}
