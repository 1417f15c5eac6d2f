/**
 * The `aggregate` step: keyed window aggregation with SQL aggregate calls.
 *
 * `fields: { revenue: sum(amount) }` — each value is one aggregate call whose arguments are SQL
 * expressions; the call is compiled once into an aggregate function and an argument reader.
 */

import Type, { type Static } from 'typebox';
import { aggregateFunction } from '../aggregate/index.ts';
import { SluiceError } from '../errors.ts';
import { type CallExpr, compileExpression, isAggregateCall, parseExpression } from '../expr/index.ts';
import { defineStep } from '../spec.ts';
import type { Clock } from '../time.ts';
import { parseDuration } from '../time.ts';
import { type AggregateField, createWindowAggregate } from '../window/window-aggregate.ts';
import type { WindowSpec } from '../window/window-spec.ts';

const duration = (description: string) => Type.String({ description, examples: ['1m'] });

const windowConfig = Type.Union(
  [
    Type.Object(
      {
        type: Type.Literal('tumbling'),
        size: duration('Window length.'),
        offset: Type.Optional(duration('Shift of window starts from the epoch, e.g. for time zones.')),
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        type: Type.Literal('hopping'),
        size: duration('Window length.'),
        slide: duration('Distance between starts.'),
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        type: Type.Literal('session'),
        gap: duration('A session closes after this long without a record of its key.'),
      },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        type: Type.Literal('cumulative'),
        size: duration('Length of the period the windows grow over.'),
        step: duration('Growth step: a window [start, start + n·step) fires for each n.'),
      },
      { additionalProperties: false },
    ),
  ],
  { description: 'The window: tumbling, hopping, session or cumulative.' },
);

const config = Type.Object(
  {
    key: Type.Optional(
      Type.Array(Type.String(), {
        description:
          'Fields to group by; they appear in each result. Default: the key of an upstream key_by, or one global group.',
        examples: [['region']],
      }),
    ),
    window: windowConfig,
    time: Type.Union([Type.Literal('event'), Type.Literal('processing')], {
      description:
        'Window by event time (fired by the watermark) or by processing time (fired by the clock).',
      default: 'event',
    }),
    fields: Type.Record(Type.String(), Type.String(), {
      description:
        'Results to compute: name → aggregate call, e.g. `count(*)`, `sum(amount)`, `avg(amount)`, `min`, `max`, `first`, `last`, `count(DISTINCT user)`, `approx_count_distinct(user)`, `percentile(amount, 0.95)`.',
    }),
    allowed_lateness: Type.String({
      description:
        'How long after a window fired it still takes late records; each one re-fires the window with the updated result.',
      default: '0s',
    }),
    on_late: Type.Union([Type.Literal('late_output'), Type.Literal('dead_letter'), Type.Literal('drop')], {
      description:
        'Where records too late for every window go: the pipeline’s late_output (dead letters if it has none), dead letters, or nowhere (counted as late).',
      default: 'late_output',
    }),
  },
  { additionalProperties: false },
);

function windowSpec(w: Static<typeof windowConfig>): WindowSpec {
  const d = (v: string, f: string) => parseDuration(v, `window.${f}`);
  switch (w.type) {
    case 'tumbling':
      return w.offset === undefined
        ? { type: 'tumbling', size: d(w.size, 'size') }
        : { type: 'tumbling', size: d(w.size, 'size'), offset: d(w.offset, 'offset') };
    case 'hopping':
      return { type: 'hopping', size: d(w.size, 'size'), slide: d(w.slide, 'slide') };
    case 'session':
      return { type: 'session', gap: d(w.gap, 'gap') };
    case 'cumulative':
      return { type: 'cumulative', size: d(w.size, 'size'), step: d(w.step, 'step') };
  }
}

/** Compiles `sum(amount * 2)` into an aggregate function and its argument reader. */
export function compileAggregateField(
  name: string,
  text: string,
  options: { step: string; clock: Clock },
): AggregateField {
  const path = `fields.${name}`;
  const expr = parseExpression(text);
  if (expr.kind !== 'call' || !isAggregateCall(expr)) {
    throw new SluiceError(
      'PLAN_TYPE_ERROR',
      `'${text}' is not an aggregate call; write e.g. count(*), sum(amount) or percentile(amount, 0.95)`,
      { step: options.step, path },
    );
  }
  const call = expr as CallExpr;
  const params = call.args.slice(1).map((a, i) => {
    const c = compileExpression(a, { step: options.step, path });
    if (c.fields.length > 0) {
      throw new SluiceError('PLAN_TYPE_ERROR', `argument ${i + 2} of ${call.name}() must be a constant`, {
        step: options.step,
        path,
      });
    }
    return c.evaluate({});
  });
  let fn: ReturnType<typeof aggregateFunction>;
  try {
    fn = aggregateFunction(call.name, { distinct: call.distinct, star: call.star, params });
  } catch (err) {
    if (err instanceof SluiceError)
      throw new SluiceError(err.code, err.message, { step: options.step, path });
    throw err;
  }
  if (call.star || call.args.length === 0) return { name, fn };
  const arg = compileExpression(call.args[0], { step: options.step, path, clock: options.clock }).evaluate;
  return { name, fn, arg };
}

export const aggregateStep = defineStep({
  type: 'aggregate',
  summary: 'Aggregates records per key and window (tumbling, hopping, session, cumulative).',
  description:
    'Each result holds the key fields, `window_start` and `window_end` (epoch ms, half-open) and the aggregate fields; its event time is `window_end - 1`. An event-time window fires once, when the watermark passes its end; records arriving after that (beyond `allowed_lateness`) go where `on_late` says. At the end of a bounded input every open window fires.',
  config,
  example:
    'type: aggregate\nkey: [region]\nwindow: { type: tumbling, size: 1m }\nfields:\n  orders: count(*)\n  revenue: sum(amount)\n  p95_amount: percentile(amount, 0.95)',
  create(cfg, step) {
    const fields = Object.entries(cfg.fields).map(([name, text]) =>
      compileAggregateField(name, text, { step: step.id, clock: step.clock }),
    );
    if (fields.length === 0) {
      throw new SluiceError('CONFIG_INVALID', 'aggregate needs at least one entry in `fields`', {
        step: step.id,
        path: 'fields',
      });
    }
    const operator = createWindowAggregate({
      stepId: step.id,
      window: windowSpec(cfg.window),
      time: cfg.time,
      ...(cfg.key ? { keyFields: cfg.key } : {}),
      fields,
      allowedLateness: parseDuration(cfg.allowed_lateness, 'allowed_lateness'),
    });
    return Object.assign(operator, { onLate: cfg.on_late, absorbs: true as const });
  },
});
