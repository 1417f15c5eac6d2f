/**
 * The `top_n` step (YAML): the first `n` records per key by an order, as an updating result.
 */

import Type from 'typebox';
import { withFields } from '../plan/schema.ts';
import { defineStep } from '../spec.ts';
import { compileKey, keyExpressions, keyOwn, rankedBy } from './key-by.ts';
import { compileOrderBy, orderByExpressions, orderByPaths } from './order-by.ts';
import { parseTtl, ttlDescription } from './state-ttl.ts';
import { createTopN } from './top-n.ts';

export const topNStep = defineStep({
  type: 'top_n',
  summary: 'Keeps the first n records per key by an order, emitting the changes as the top list changes.',
  description:
    'Records are ranked per key (`key`, else the key of an upstream `key_by`, else the whole stream) by `order_by`: each term an SQL expression, ascending unless followed by `DESC`; NULL ranks last in either direction; of two records equal on every term, the one that arrived first ranks first. Numbers compare as numbers, text by code units, booleans false before true; a record whose term gives an object, NaN, or a kind of value other than the kept rows of its key give goes to the dead-letter output.\n\nThe output is a changelog (retract mode) of the top list of each key, as `ROW_NUMBER() OVER (PARTITION BY … ORDER BY …) <= n` gives in Flink SQL: a record that ranks within the first `n` is an insert; the record it pushes out, a delete. With `rank_field`, each row also carries its rank (1 = first), and every row whose rank moves is updated (an update-before with the old rank followed by an update-after with the new one) — more output, as in Flink when the rank number is selected. A record that does not make the first `n` is counted as filtered. Each change takes the event time of the record that caused it. The input must be append-only; each key keeps at most `n` records, for the life of the job or until `ttl` forgets the key. Only steps and sinks that take updates may follow: record-by-record steps and sinks with a `changelog` option.',
  config: Type.Object(
    {
      key: Type.Optional(
        Type.Array(Type.String(), {
          minItems: 1,
          description:
            'SQL expressions the records are partitioned by (usually field names). Default: the key_by key, or one list for the whole stream.',
          examples: [['category']],
        }),
      ),
      order_by: Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        description: 'The order: SQL expressions, each optionally followed by ASC (the default) or DESC.',
        examples: [['price DESC', 'ts']],
      }),
      n: Type.Integer({ minimum: 1, description: 'How many records to keep per key.', examples: [3] }),
      rank_field: Type.Optional(
        Type.String({
          minLength: 1,
          description:
            'A field to write each record’s rank into (1 = first); rows whose rank changes are updated.',
          examples: ['rank'],
        }),
      ),
      ttl: Type.Optional(
        Type.String({
          description: ttlDescription(
            'A record entering a key’s list writes its state; one that does not make the first `n` leaves it as it was. A forgotten key emits nothing; its next record starts a new list, entering at rank 1, while the rows emitted before stay downstream.',
          ),
          examples: ['1h'],
        }),
      ),
    },
    { additionalProperties: false },
  ),
  // ttl changes when a list is forgotten, not what it holds: state restores across a change of it.
  state: ['key', 'order_by', 'n', 'rank_field'],
  changelog: () => ({
    consumes: ['append'],
    produces: 'retract',
    reason: 'a top list changes as records arrive: a record entering it pushes another out',
  }),
  example: 'type: top_n\nkey: [category]\norder_by: [price DESC]\nn: 3',
  // An order_by term's expression is its text without the direction; an empty one is refused by `create`.
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
  key(cfg, [input], ctx) {
    const own = cfg.key === undefined ? undefined : keyOwn(cfg.key, ctx.expression);
    const { partition, by } = rankedBy(own, input);
    if (by === undefined) return {};
    // The rows are input records (append-only), so the input's unique keys still hold, unless
    // the rank overwrites one of their fields. A list's rows are identified by its key and rank;
    // a list of one row by its key alone.
    const rank = cfg.rank_field;
    const unique = (input.unique ?? []).filter((k) => rank === undefined || !k.includes(rank));
    const fields = by.kind === 'fields' ? by.fields : by.kind === 'none' ? [] : undefined;
    if (fields !== undefined) {
      if (rank !== undefined) unique.push([...fields, rank]);
      else if (cfg.n === 1) unique.push([...fields]);
    }
    return partition === undefined ? { unique } : { partition, unique };
  },
  create(cfg, step) {
    const orderBy = compileOrderBy(cfg.order_by, step);
    return createTopN({
      stepId: step.id,
      ...(cfg.key ? { keyFn: compileKey(cfg.key.length, step) } : {}),
      orderBy,
      n: cfg.n,
      ...(cfg.rank_field ? { rankField: cfg.rank_field } : {}),
      ...(cfg.ttl !== undefined ? { ttl: parseTtl(cfg.ttl, step.id) } : {}),
    });
  },
});
