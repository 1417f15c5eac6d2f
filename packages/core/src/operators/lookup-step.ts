/**
 * The `lookup` step (TypeScript API: `lookup`): a lookup join — each record enriched with the row
 * a lookup table holds for its key, asked for over the asynchronous boundary, as Flink SQL's
 * `JOIN … FOR SYSTEM_TIME AS OF proc_time` against a lookup table or a Kafka Streams join with a
 * GlobalKTable. The table's type is a lookup registered like a source or sink (`file`, `http`;
 * the storage connectors add theirs).
 */

import Type from 'typebox';
import { ConfigErrors, SluiceError } from '../errors.ts';
import { compileExpression } from '../expr/index.ts';
import type { LookupKey } from '../lookup.ts';
import type { StepInfo } from '../operator.ts';
import { validateConfig } from '../plan/config.ts';
import { inputName } from '../plan/plan.ts';
import { objectField, type Schema, UNKNOWN_SCHEMA, withFields } from '../plan/schema.ts';
import type { Row } from '../record.ts';
import { defineStep } from '../spec.ts';
import { parseDuration } from '../time.ts';
import { AsyncCalls, asyncCallFields } from './async-calls.ts';
import { AsyncStage } from './async-stage.ts';
import { keyExpressions } from './key-by.ts';
import { LookupCache } from './lookup-cache.ts';
import { LookupJoin } from './lookup-join.ts';

const config = Type.Object(
  {
    table: Type.Object(
      {
        type: Type.String({
          minLength: 1,
          description: 'The lookup type (`file`, `http`, or one a connector package registers).',
        }),
      },
      {
        additionalProperties: true,
        // The pipeline's editor schema offers the registered lookup types here (`json-schema.ts`).
        lookup: true,
        description:
          'The lookup table: `type` names a lookup type (see Lookups below), the other keys are that type’s options.',
        examples: [{ type: 'http', url: 'https://crm.example.com/customers/{key}' }],
      },
    ),
    key: Type.Union(
      [Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })],
      {
        description:
          "SQL expression(s) over the input record whose values are the key the table is asked for (several: the key has several values, in this order). A NULL value matches no row: a miss without asking the table. Values keep their types: 42 and `'42'` are different keys (CAST one to match the table).",
        examples: ['customer_id', ['region', 'customer_id']],
      },
    ),
    as: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
        description:
          'The name of the looked-up row: the field it is added under, and how `fields` expressions read it. Default: the step’s id.',
        examples: ['customer'],
      }),
    ),
    fields: Type.Optional(
      Type.Record(Type.String(), Type.String(), {
        description:
          'Output fields: name → SQL expression reading the input record as `<input id>.<field>` and the row as `<as>.<field>` (NULL when there is none), as a `join` reads its two sides. Default: the input record with the row added as the field `<as>`.',
        examples: [{ order_id: 'orders.id', amount: 'orders.amount', customer: 'customer.name' }],
      }),
    ),
    on_miss: Type.Union(
      [Type.Literal('null'), Type.Literal('drop'), Type.Literal('dead_letter'), Type.Null()],
      {
        default: 'null',
        description:
          'What becomes of a record the table has no row for (or whose key is NULL): `null` — emitted with the row NULL, as a LEFT JOIN (YAML reads an unquoted `null` as no value, which means the same); `drop` — dropped and counted as filtered, as an inner JOIN; `dead_letter` — sent to the dead letters (LOOKUP_MISS).',
      },
    ),
    cache: Type.Object(
      {
        ttl: Type.String({
          default: '1m',
          description:
            'How long a row the table answered is reused for records with the same key, counted from the answer (processing time); `0s` keeps none and asks the table for every batch.',
          examples: ['10m'],
        }),
        miss_ttl: Type.Optional(
          Type.String({
            description:
              'How long the table’s “no such row” is reused; `0s` asks again for every batch. Default: `ttl`.',
            examples: ['10s'],
          }),
        ),
        max_entries: Type.Integer({
          minimum: 0,
          default: 10_000,
          description:
            'Most keys kept (rows and misses); beyond it the least recently used is forgotten. `0` caches nothing.',
        }),
      },
      {
        default: {},
        additionalProperties: false,
        description:
          'The cache of answers, in memory and not in checkpoints: a restarted job starts with it empty.',
      },
    ),
    ...asyncCallFields('call of the lookup', 'calls of the lookup'),
  },
  { additionalProperties: false },
);

/** `customer_id = 42` / `(region, customer_id) = ('eu', 42)`: a key for messages. */
function keyDescriber(texts: readonly string[]): (key: LookupKey) => string {
  const show = (v: unknown) => (typeof v === 'string' ? `'${v}'` : v === null ? 'NULL' : JSON.stringify(v));
  if (texts.length === 1) return (key) => `${texts[0]} = ${show(key[0])}`;
  return (key) => `(${texts.join(', ')}) = (${key.map(show).join(', ')})`;
}

/** The lookup the `table` option names, its options validated (defaults applied); throws at `table.…`. */
function createLookup(table: { type: string; [option: string]: unknown }, keyLength: number, step: StepInfo) {
  const spec = step.lookup?.(table.type);
  if (spec === undefined) {
    const known = step.lookupTypes?.() ?? [];
    throw new SluiceError(
      'PLAN_UNKNOWN_TYPE',
      `unknown lookup type '${table.type}'; ${known.length > 0 ? `known lookup types: ${known.join(', ')}` : 'no lookup types are registered'}`,
      { step: step.id, path: 'table.type' },
    );
  }
  const { type: _, ...options } = table;
  const result = validateConfig<unknown>(spec.config, options);
  if (!result.ok) {
    const errors = result.issues.map(
      (i) =>
        new SluiceError('CONFIG_INVALID', i.message, {
          step: step.id,
          path: i.path === '' ? 'table' : `table.${i.path}`,
        }),
    );
    throw errors.length === 1 ? errors[0] : new ConfigErrors(errors);
  }
  try {
    return spec.create(result.value, { keyLength });
  } catch (err) {
    if (err instanceof SluiceError && err.step === undefined) {
      throw new SluiceError(err.code, err.message, {
        step: step.id,
        path: err.path === undefined ? 'table' : `table.${err.path}`,
        cause: err,
      });
    }
    throw err;
  }
}

export const lookupStep = defineStep({
  type: 'lookup',
  summary:
    'Enriches each record with the row a lookup table (a file, an HTTP API, a database) holds for its key.',
  description: [
    'A lookup join, as Flink SQL’s `JOIN … FOR SYSTEM_TIME AS OF proc_time` against a lookup table: for each record, the `key` expressions give a key, and the table named by `table` is asked for its row — as it is when asked (processing time), not as it was at the record’s event time. The output is the input record with the row added as the field `as` (by default the step’s id), or the `fields` computed from both; each output record keeps its input’s event time and key. A record the table has no row for goes where `on_miss` says.',
    '',
    'Records of a batch ask for each distinct key once; answers are cached (`cache`: rows and misses, each for its time to live, the least recently used dropped beyond `max_entries`), and a key asked for by a batch still in flight is not asked again. The table is asked in calls of as many keys as its type takes at once (one per HTTP request; many per Redis `MGET` or SQL query), at most `concurrency` calls at once, each bounded by `timeout`. A call that times out or fails transiently (LOOKUP_UNAVAILABLE: a connection refused, an HTTP 5xx) is retried `retries` times with capped, jittered backoff; a key that still fails, or that the table refuses for good (LOOKUP_FAILED), sends its records to the dead letters with the reason.',
    '',
    'The step runs on the asynchronous boundary, like `map_async`: at most `capacity` batches in flight (the sources wait beyond), results in input order unless `ordered: false`, checkpoints taken only once the batches in flight are out, and the steps after it never see a record late for having waited on the table. It takes append-only input: the row looked up for an update’s retraction could differ from the one its insert met (the table changed in between), and the retraction would then not cancel it.',
  ].join('\n'),
  example: [
    'type: lookup',
    'input: orders',
    'table:',
    '  type: http',
    '  url: https://crm.example.com/customers/{key}',
    'key: customer_id',
    'as: customer',
    'on_miss: drop',
    'cache:',
    '  ttl: 10m',
  ].join('\n'),
  config,
  expressions: (cfg) => ({
    ...(typeof cfg.key === 'string' ? { key: cfg.key } : keyExpressions(cfg.key)),
    ...Object.fromEntries(Object.entries(cfg.fields ?? {}).map(([name, text]) => [`fields.${name}`, text])),
  }),
  schema(cfg, [input], ctx) {
    const keys = typeof cfg.key === 'string' ? [cfg.key] : cfg.key;
    keys.forEach((_, i) => {
      ctx.check(typeof cfg.key === 'string' ? 'key' : `key[${i}]`, input);
    });
    // The row's fields are the table's, unknown to the plan (a lookup type may declare them later).
    const row = objectField(cfg.as ?? ctx.step, UNKNOWN_SCHEMA, true);
    if (cfg.fields === undefined) return withFields(input, [row]);
    const pair: Schema = { fields: [objectField(inputName(ctx.inputs[0]), input), row], open: false };
    return {
      fields: Object.keys(cfg.fields).map((name) => ctx.field(name, `fields.${name}`, pair)),
      open: false,
    };
  },
  create(cfg, step) {
    const inputs = step.inputs ?? [];
    const input = inputName(inputs[0] ?? 'input');
    if (inputs.length > 1) {
      throw new SluiceError('CONFIG_INVALID', `a lookup reads one input (it has ${inputs.length})`, {
        step: step.id,
        path: 'input',
      });
    }
    const name = cfg.as ?? step.id;
    if (cfg.fields !== undefined && name === input) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `the row is named '${name}', as the input is: give it another name with \`as\``,
        { step: step.id, path: 'as' },
      );
    }
    const keyTexts = typeof cfg.key === 'string' ? [cfg.key] : cfg.key;
    const keyParts = keyTexts.map((_, i) => {
      const path = typeof cfg.key === 'string' ? 'key' : `key[${i}]`;
      return compileExpression(step.expression(path), { step: step.id, path, clock: step.clock }).evaluate;
    });
    const lookup = createLookup(cfg.table, keyTexts.length, step);
    const ttl = parseDuration(cfg.cache.ttl, 'cache.ttl');
    const missTtl =
      cfg.cache.miss_ttl === undefined ? ttl : parseDuration(cfg.cache.miss_ttl, 'cache.miss_ttl');
    let output: (record: Row, row: Row | null) => Row;
    if (cfg.fields === undefined) {
      output = (record, row) => {
        const out: Row = { ...record };
        out[name] = row;
        return out;
      };
    } else {
      const fields = cfg.fields;
      const names = Object.keys(fields);
      const compiled = names.map(
        (field) =>
          compileExpression(step.expression(`fields.${field}`), {
            step: step.id,
            path: `fields.${field}`,
            clock: step.clock,
          }).evaluate,
      );
      output = (record, row) => {
        const pair: Row = {};
        pair[input] = record;
        pair[name] = row;
        const out: Row = {};
        for (let f = 0; f < names.length; f++) out[names[f]] = compiled[f](pair);
        return out;
      };
    }
    const join = new LookupJoin({
      stepId: step.id,
      lookup,
      calls: new AsyncCalls(cfg),
      cache: new LookupCache({ ttl, missTtl, maxEntries: cfg.cache.max_entries }),
      keyParts,
      onMiss: cfg.on_miss ?? 'null',
      output,
      describeKey: keyDescriber(keyTexts),
      baseDir: step.baseDir,
    });
    return new AsyncStage({
      stepId: step.id,
      capacity: cfg.capacity,
      ordered: cfg.ordered,
      work: join.work,
      acquire: (ctx, signal) => join.open(ctx, signal),
      release: () => join.close(),
    });
  },
});
