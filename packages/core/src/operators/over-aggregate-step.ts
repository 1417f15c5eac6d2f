/**
 * The `over_aggregate` step (YAML): each record with aggregates over the rows of its key before
 * it, as Flink SQL's `agg(x) OVER (PARTITION BY … ORDER BY time ROWS|RANGE BETWEEN … PRECEDING
 * AND CURRENT ROW)`.
 */

import Type from 'typebox';
import { SluiceError } from '../errors.ts';
import { isAggregateCall } from '../expr/index.ts';
import { withFields } from '../plan/schema.ts';
import { defineStep } from '../spec.ts';
import { parseDuration } from '../time.ts';
import type { AggregateField } from '../window/window-aggregate.ts';
import { compileAggregateCall } from './aggregate-call.ts';
import { aggregateFieldSchema } from './aggregate-step.ts';
import { compileKey, keyExpressions, keyOwn, rankedBy } from './key-by.ts';
import { createOverAggregate } from './over-aggregate.ts';
import type { OverFrame } from './over-frame.ts';
import { parseTtl, ttlDescription } from './state-ttl.ts';

const UNBOUNDED = 'unbounded';

/** The frame a config gives: `rows`, else `range`, else RANGE UNBOUNDED PRECEDING (Flink's default). */
function frameOf(cfg: { rows?: number | 'unbounded'; range?: string }, step: string): OverFrame {
  if (cfg.rows !== undefined && cfg.range !== undefined)
    throw new SluiceError(
      'CONFIG_INVALID',
      'give the frame as `rows` or as `range`, not both: ROWS counts rows before the current one, RANGE reaches back a duration in time',
      { step, path: 'range' },
    );
  if (cfg.rows !== undefined)
    return { unit: 'rows', preceding: cfg.rows === UNBOUNDED ? Number.POSITIVE_INFINITY : cfg.rows };
  if (cfg.range === undefined || cfg.range === UNBOUNDED)
    return { unit: 'range', preceding: Number.POSITIVE_INFINITY };
  let preceding: number;
  try {
    preceding = parseDuration(cfg.range, 'range');
  } catch (err) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `${err instanceof Error ? err.message : String(err)}; write a duration such as 1h, or unbounded`,
      { step, path: 'range', cause: err },
    );
  }
  return { unit: 'range', preceding };
}

export const overAggregateStep = defineStep({
  type: 'over_aggregate',
  summary:
    'Adds to each record aggregates over the rows of its key before it (a ROWS or RANGE frame), in time order.',
  description:
    'What `agg(x) OVER (PARTITION BY key ORDER BY time ROWS|RANGE BETWEEN … PRECEDING AND CURRENT ROW)` gives in Flink SQL: one output record per input record — the record with the `fields` added — over the rows of its key (`key`, else the key of an upstream `key_by`, else the whole stream) from the start of its frame to itself. The output is append-only.\n\n' +
    'In event time (`time: event`) a record waits until the watermark passes its time; then the records are taken in time order (ties: the one that arrived first comes first) and emitted in that order, so the results do not depend on batch sizes or on arrival order within the watermark’s bound. A record at or behind the watermark when it arrives is late and goes where `on_late` says: the rows after it were already emitted. In processing time (`time: processing`) each record is taken at once, at the instant it is read.\n\n' +
    'The frame: `rows: n` — the `n` rows before the record and the record (`rows: unbounded`: every row before it); `range: 1h` — the rows whose time is at most that long before the record’s, with the rows of the same time (its peers, which all share one result); no frame, or `range: unbounded` — every row up to the record’s time, peers included (Flink’s default). A `rows` frame keeps `n` rows per key; a `range` frame forgets the rows it has passed, and a key whose rows have all passed once the watermark (the clock, in processing time) is that far on; an unbounded frame keeps one accumulator per aggregate and key for the life of the job, or until `ttl`.\n\n' +
    'Each field is one aggregate call over the engine’s aggregate functions (`count(*)`, `sum(x)`, `avg`, `min`, `max`, `first`, `last`, distinct counts, percentiles), with the argument rules of `aggregate`: a value of the wrong type sends the record to the dead-letter output, naming the field and the fix.',
  config: Type.Object(
    {
      key: Type.Optional(
        Type.Array(Type.String(), {
          minItems: 1,
          description:
            'SQL expressions the records are partitioned by (PARTITION BY; usually field names). Default: the key_by key, or the whole stream.',
          examples: [['auction']],
        }),
      ),
      time: Type.Union([Type.Literal('event'), Type.Literal('processing')], {
        description:
          'Order rows by event time (emitted as the watermark passes them) or by arrival (emitted at once).',
        default: 'event',
      }),
      rows: Type.Optional(
        Type.Union([Type.Integer({ minimum: 0 }), Type.Literal(UNBOUNDED)], {
          description:
            'A ROWS frame: how many rows before the current one it holds (`ROWS BETWEEN n PRECEDING AND CURRENT ROW`), or `unbounded`.',
          examples: [5],
        }),
      ),
      range: Type.Optional(
        Type.String({
          description:
            'A RANGE frame: how far back in time it reaches from the current row’s time (`RANGE BETWEEN INTERVAL … PRECEDING AND CURRENT ROW`, bound included), or `unbounded` (the default frame when neither `rows` nor `range` is given).',
          examples: ['1h'],
        }),
      ),
      fields: Type.Record(Type.String(), Type.String(), {
        description:
          'Fields to add: name → one aggregate call, e.g. `sum(price)`, `count(*)`, `max(price)`, `avg(price)`, `count(DISTINCT bidder)`. A name already in the record replaces its value.',
        examples: [{ total: 'sum(price)', bids: 'count(*)' }],
      }),
      on_late: Type.Union([Type.Literal('late_output'), Type.Literal('dead_letter'), Type.Literal('drop')], {
        description:
          'In event time, where records at or behind the watermark go: the pipeline’s late_output (dead letters if it has none), dead letters, or nowhere (counted as late).',
        default: 'late_output',
      }),
      ttl: Type.Optional(
        Type.String({
          description: ttlDescription(
            'Each record taken into a key’s frame writes its state. A forgotten key’s next record starts a new frame, as if it were the key’s first.',
          ),
          examples: ['1h'],
        }),
      ),
    },
    { additionalProperties: false },
  ),
  // Where late records go and when keys are forgotten do not shape the state.
  state: ['key', 'time', 'rows', 'range', 'fields'],
  changelog: () => ({ consumes: ['append'], produces: 'append' }),
  example: 'type: over_aggregate\nkey: [auction]\nrange: 1h\nfields:\n  total: sum(price)\n  bids: count(*)',
  expressions: (cfg) => ({
    ...keyExpressions(cfg.key),
    ...Object.fromEntries(Object.entries(cfg.fields).map(([name, text]) => [`fields.${name}`, text])),
  }),
  schema(cfg, [input], ctx) {
    for (const i of (cfg.key ?? []).keys()) ctx.check(`key[${i}]`, input);
    return withFields(
      input,
      Object.keys(cfg.fields).map((name) => aggregateFieldSchema(name, input, ctx)),
    );
  },
  // One output row per input row, with the input's fields: its unique keys still hold, unless a
  // field added overwrites one of theirs.
  key(cfg, [input], ctx) {
    const own = cfg.key === undefined ? undefined : keyOwn(cfg.key, ctx.expression);
    const { partition } = rankedBy(own, input);
    const added = Object.keys(cfg.fields);
    const unique = (input.unique ?? []).filter((k) => !k.some((f) => added.includes(f)));
    return partition === undefined ? { unique } : { partition, unique };
  },
  create(cfg, step) {
    const frame = frameOf(cfg, step.id);
    const fields: AggregateField[] = Object.keys(cfg.fields).map((name) => {
      const path = `fields.${name}`;
      const expr = step.expression(path);
      if (expr.kind !== 'call' || !isAggregateCall(expr))
        throw new SluiceError(
          'PLAN_TYPE_ERROR',
          `'${cfg.fields[name]}' is not one aggregate call; write e.g. sum(price), count(*) or max(price), and compute anything around it in a map step after this one`,
          { step: step.id, path },
        );
      return compileAggregateCall(name, expr, { step: step.id, clock: step.clock, field: name });
    });
    const ttl = parseTtl(cfg.ttl, step.id);
    const operator = createOverAggregate({
      stepId: step.id,
      ...(cfg.key ? { keyFn: compileKey(cfg.key.length, step) } : {}),
      fields,
      frame,
      time: cfg.time,
      ...(ttl !== undefined ? { ttl } : {}),
    });
    return Object.assign(operator, { onLate: cfg.on_late });
  },
});
