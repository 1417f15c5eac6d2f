/**
 * The `window_top_n` step (YAML): the first n rows of each window and key, emitted once when the
 * window closes.
 */

import Type from 'typebox';
import { withFields } from '../plan/schema.ts';
import { defineStep } from '../spec.ts';
import { compileKey, keyExpressions } from './key-by.ts';
import { compileOrderBy, orderByExpressions, orderByPaths } from './order-by.ts';
import { createWindowTopN } from './window-top-n.ts';

export const windowTopNStep = defineStep({
  type: 'window_top_n',
  summary:
    'Keeps the first n rows of each window (and key) by an order, emitted once when the window closes.',
  description:
    'Flink SQL’s window top-N and window deduplication: `ROW_NUMBER() OVER (PARTITION BY window_start, window_end, … ORDER BY …) <= n` over a window aggregation’s results or a window table function’s rows. Each record must carry its window’s bounds in `window_start` and `window_end` (a windowed `aggregate` gives them; a `map` can compute them); records are ranked per window and per `key` by `order_by`, as `top_n` ranks them (each term ascending unless followed by `DESC`, NULL last, ties: the earlier arrival first). When the watermark reaches `window_end - 1` the window’s first `n` rows are emitted, in rank order, as inserts with the time `window_end - 1`, and the window is forgotten: the output is append-only and the state holds only windows still open. A record of a window already emitted is late and goes where `on_late` says; one that does not make the first `n` is counted as filtered. With `rank_field`, each row carries its rank (1 = first).',
  config: Type.Object(
    {
      key: Type.Optional(
        Type.Array(Type.String(), {
          minItems: 1,
          description:
            'SQL expressions that partition each window’s rows further (the PARTITION BY columns besides window_start and window_end). Default: one list per window.',
          examples: [['category']],
        }),
      ),
      order_by: Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        description: 'The order: SQL expressions, each optionally followed by ASC (the default) or DESC.',
        examples: [['price DESC', 'ts']],
      }),
      n: Type.Integer({
        minimum: 1,
        description: 'How many rows to keep per window and key.',
        examples: [3],
      }),
      rank_field: Type.Optional(
        Type.String({
          minLength: 1,
          description: 'A field to write each row’s rank into (1 = first).',
          examples: ['rn'],
        }),
      ),
      ties: Type.Union([Type.Literal('earlier'), Type.Literal('later')], {
        description:
          'Of rows equal on every `order_by` term, which ranks first: the `earlier` arrival, or the `later` (Flink’s window deduplication keeping the last row: `ORDER BY time DESC`, `rn = 1`).',
        default: 'earlier',
      }),
      on_late: Type.Union([Type.Literal('late_output'), Type.Literal('dead_letter'), Type.Literal('drop')], {
        description:
          'Where records of a window already emitted go: the pipeline’s late_output (dead letters if it has none), dead letters, or nowhere (counted as late).',
        default: 'late_output',
      }),
    },
    { additionalProperties: false },
  ),
  state: ['key', 'order_by', 'n', 'rank_field', 'ties'],
  changelog: () => ({ consumes: ['append'], produces: 'append' }),
  example: 'type: window_top_n\norder_by: [bids DESC]\nn: 3\nrank_field: rn',
  expressions: (cfg) => ({
    ...keyExpressions(cfg.key),
    ...orderByExpressions(cfg.order_by),
  }),
  schema(cfg, [input], ctx) {
    for (const i of (cfg.key ?? []).keys()) ctx.check(`key[${i}]`, input);
    for (const path of orderByPaths(cfg.order_by)) ctx.check(path, input);
    return cfg.rank_field === undefined
      ? input
      : withFields(input, [{ name: cfg.rank_field, type: 'number' }]);
  },
  // Rows are identified by their window, their key fields and their rank; with n = 1 by the first two.
  key(cfg, [input], ctx) {
    const fields: string[] = [];
    for (const i of (cfg.key ?? []).keys()) {
      const e = ctx.expression(`key[${i}]`);
      if (e.kind !== 'field') return { partition: { kind: 'none' } };
      fields.push(e.name);
    }
    const bounds = ['window_start', 'window_end', ...fields];
    const rank = cfg.rank_field;
    const unique = (input.unique ?? []).filter((k) => rank === undefined || !k.includes(rank));
    if (rank !== undefined) unique.push([...bounds, rank]);
    else if (cfg.n === 1) unique.push(bounds);
    return { partition: { kind: 'none' }, unique };
  },
  create(cfg, step) {
    const orderBy = compileOrderBy(cfg.order_by, step);
    const operator = createWindowTopN({
      stepId: step.id,
      ...(cfg.key ? { keyFn: compileKey(cfg.key.length, step) } : {}),
      orderBy,
      n: cfg.n,
      ...(cfg.rank_field ? { rankField: cfg.rank_field } : {}),
      ties: cfg.ties,
    });
    return Object.assign(operator, { onLate: cfg.on_late });
  },
});
