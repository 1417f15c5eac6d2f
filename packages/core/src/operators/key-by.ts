/**
 * `key_by`: assigns each record a key, which later keyed steps (aggregate, dedupe, process)
 * group by; `key_by_fn`: the key a TypeScript function computes. Both run `keyingOperator`.
 */

import Type from 'typebox';
import type { SluiceError } from '../errors.ts';
import { toSluiceError } from '../errors.ts';
import { compileExpression, type Expr } from '../expr/index.ts';
import type { Operator, StepInfo } from '../operator.ts';
import { type PartitionKey, partitionByExpressions, type StreamKey } from '../plan/keys.ts';
import type { Batch, Row } from '../record.ts';
import { defineStep, PER_RECORD_CHANGELOG } from '../spec.ts';
import { encodeKey, encodeKeyValue } from './key.ts';
import { without } from './map.ts';
import { stepFunction, userError } from './step-function.ts';

const config = Type.Object(
  {
    key: Type.Array(Type.String(), {
      minItems: 1,
      description: 'SQL expressions whose values together form the key; usually field names.',
      examples: [['region'], ['customer_id', 'lower(channel)']],
    }),
  },
  { additionalProperties: false },
);

/** The `key[i]` options of a step's config, for its spec's `expressions`. */
export function keyExpressions(texts: readonly string[] | undefined): { [path: string]: string } {
  return Object.fromEntries((texts ?? []).map((text, i) => [`key[${i}]`, text]));
}

/**
 * Compiles the `count` key expressions (`key[i]` in the step config, declared with
 * `keyExpressions`) into one function giving the encoded key.
 */
export function compileKey(count: number, step: StepInfo): (record: Row) => string {
  const parts = Array.from(
    { length: count },
    (_, i) =>
      compileExpression(step.expression(`key[${i}]`), { step: step.id, path: `key[${i}]`, clock: step.clock })
        .evaluate,
  );
  if (parts.length === 1) {
    const only = parts[0];
    return (r) => encodeKeyValue(only(r));
  }
  const values: unknown[] = new Array(parts.length);
  return (r) => {
    for (let p = 0; p < parts.length; p++) values[p] = parts[p](r);
    return encodeKey(values);
  };
}

/**
 * An operator that sets each record's key with `keyOf`; a record whose key throws goes to the
 * dead-letter output with the error `onError` makes of it.
 */
export function keyingOperator(
  keyOf: (record: Row) => string,
  onError: (err: unknown) => SluiceError,
): Operator {
  return {
    processBatch(batch: Batch, out) {
      const records = batch.records;
      const keys: string[] = new Array(records.length);
      const failed: number[] = [];
      for (let i = 0; i < records.length; i++) {
        try {
          keys[i] = keyOf(records[i]);
        } catch (err) {
          failed.push(i);
          out.deadLetter(batch, i, onError(err));
        }
      }
      const keyed = { ...batch, keys };
      out.emit(failed.length > 0 ? without(keyed, records, failed) : keyed);
    },
  };
}

export const keyByStep = defineStep({
  type: 'key_by',
  changelog: () => PER_RECORD_CHANGELOG,
  summary: 'Groups records by a key for the keyed steps after it.',
  description:
    'Records keep their values; the key travels beside them. A record whose key expression fails goes to the dead-letter output.',
  config,
  example: 'type: key_by\nkey: [region]',
  expressions: (cfg) => keyExpressions(cfg.key),
  schema(cfg, [input], ctx) {
    for (const i of cfg.key.keys()) ctx.check(`key[${i}]`, input);
    return input;
  },
  // Partitioning makes nothing unique: the records, and so their unique keys, stay as they are.
  key: (cfg, [input], ctx) =>
    withUnique(partitionByExpressions(cfg.key.map((_, i) => ctx.expression(`key[${i}]`))), input),
  create(cfg, step) {
    const keyOf = compileKey(cfg.key.length, step);
    return keyingOperator(keyOf, (err) => toSluiceError(err, 'EXPR_EVAL', { step: step.id }));
  },
});

export const keyByFnStep = defineStep({
  type: 'key_by_fn',
  changelog: () => PER_RECORD_CHANGELOG,
  summary: 'Groups records by a key computed by a TypeScript function (TypeScript API only).',
  config: Type.Object({}, { additionalProperties: false }),
  schema: (_cfg, [input]) => input,
  key: (_cfg, [input]) => withUnique({ kind: 'opaque', why: 'a TypeScript function' }, input),
  create(_cfg, step) {
    const fn = stepFunction<(r: Row) => unknown>(step);
    return keyingOperator(
      (r) => encodeKeyValue(fn(r)),
      (err) => userError(step.id, err),
    );
  },
});

/** A stream partitioned by `partition`, with the unique keys of `input`. */
function withUnique(partition: StreamKey['partition'], input: StreamKey): StreamKey {
  return input.unique === undefined ? { partition } : { partition, unique: input.unique };
}

/** The partition key a step's own `key` entries give. */
export function keyOwn(key: readonly string[], expression: (path: string) => Expr): PartitionKey {
  return partitionByExpressions(key.map((_, i) => expression(`key[${i}]`)));
}

/**
 * What a step that partitions by its `key`, else by the upstream `key_by` key, else not at all
 * (top_n, deduplicate) groups by (`by`; undefined: unknown), and the partition key of its output:
 * the upstream key when no `key` replaces it, else none (results carry no batch keys then).
 */
export function rankedBy(
  own: PartitionKey | undefined,
  input: StreamKey,
): { readonly by: PartitionKey | undefined; readonly partition: PartitionKey | undefined } {
  if (own === undefined) return { by: input.partition, partition: input.partition };
  return { by: own, partition: { kind: 'none' } };
}
