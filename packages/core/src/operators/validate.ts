/**
 * `validate`: checks records against a JSON Schema; violations go to the dead-letter output.
 */

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import formats from 'ajv-formats';
import Type from 'typebox';
import { SluiceError } from '../errors.ts';
import type { FieldSchema, RecordSchema } from '../expr/index.ts';
import { re2RegExpEngine } from '../expr/regex.ts';
import { type Batch, emptyBatchLike, pushFrom } from '../record.ts';
import { defineStep, PER_RECORD_CHANGELOG } from '../spec.ts';

const config = Type.Object(
  {
    schema: Type.Union([Type.String(), Type.Object({}, { additionalProperties: true })], {
      description:
        'A JSON Schema: a path to a .json file (relative to the pipeline file), or the schema inline.',
      examples: ['./order.schema.json'],
    }),
  },
  { additionalProperties: false },
);

let shared: Ajv | undefined;

/**
 * A new Ajv instance configured as record schemas compile: all errors, every format of
 * ajv-formats, no coercion, no defaults, and `pattern`s matched by RE2 in linear time. For
 * schemas that must not share an instance (schemas from a registry, whose `$id`s may repeat
 * across versions).
 */
export function createRecordValidator(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false, code: { regExp: re2RegExpEngine } });
  formats.default(ajv);
  return ajv;
}

/** The shared Ajv instance record schemas compile with (see `createRecordValidator`). */
export function recordValidator(): Ajv {
  shared ??= createRecordValidator();
  return shared;
}

/** One line per Ajv error: `/amount must be number`. */
export function describeSchemaErrors(errors: readonly ErrorObject[] | null | undefined): string {
  if (!errors || errors.length === 0) return 'record does not match the schema';
  return errors
    .map((e) => {
      const at = e.instancePath || '/';
      if (e.keyword === 'required')
        return `${at} is missing required field '${String(e.params.missingProperty)}'`;
      if (e.keyword === 'additionalProperties')
        return `${at} has unexpected field '${String(e.params.additionalProperty)}'`;
      if (e.keyword === 'enum')
        return `${at} must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
      return `${at} ${e.message ?? 'is invalid'}`;
    })
    .join('; ');
}

function loadSchema(schema: string | object, baseDir: string, stepId: string): object {
  if (typeof schema !== 'string') return schema;
  const file = resolve(baseDir, schema);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as object;
  } catch (err) {
    throw new SluiceError('CONFIG_INVALID', `cannot read JSON Schema '${file}': ${(err as Error).message}`, {
      step: stepId,
      path: 'schema',
      cause: err,
    });
  }
}

export const validateStep = defineStep({
  type: 'validate',
  changelog: () => PER_RECORD_CHANGELOG,
  summary: 'Checks records against a JSON Schema.',
  description:
    'Valid records pass unchanged. An invalid record goes to the dead-letter output with every violation listed (`/amount must be number; / is missing required field region`). Validation uses Ajv with all formats of ajv-formats; values are never coerced. `pattern` and `patternProperties` are matched by RE2, in time linear in the value (no backreferences or lookaround; a schema whose pattern RE2 cannot run is refused when the pipeline starts).',
  config,
  example: 'type: validate\nschema: ./order.schema.json',
  schema: (cfg, _inputs, ctx) => recordSchemaOf(loadSchema(cfg.schema, ctx.baseDir, ctx.step)),
  key: (_cfg, [input]) => input,
  create(cfg, step) {
    const schema = loadSchema(cfg.schema, step.baseDir, step.id);
    let check: ValidateFunction;
    try {
      check = recordValidator().compile(schema);
    } catch (err) {
      throw new SluiceError('CONFIG_INVALID', `invalid JSON Schema: ${(err as Error).message}`, {
        step: step.id,
        path: 'schema',
        cause: err,
      });
    }
    return {
      processBatch(batch: Batch, out) {
        const records = batch.records;
        const kept = emptyBatchLike(batch);
        for (let i = 0; i < records.length; i++) {
          if (check(records[i])) pushFrom(kept, batch, i, records[i]);
          else
            out.deadLetter(
              batch,
              i,
              new SluiceError('SCHEMA_VIOLATION', describeSchemaErrors(check.errors), { step: step.id }),
            );
        }
        out.emit(kept);
      },
    };
  },
});

/** The JSON Schema keywords that make a schema more than its `type` and `properties` say. */
const COMBINATORS = ['$ref', 'allOf', 'anyOf', 'oneOf', 'not', 'if', 'patternProperties'];

/**
 * What records that pass a JSON Schema look like, for the plan's checks (`plan/schema.ts`): an
 * object's `properties` are its fields (nullable unless `required` and not allowing null), closed
 * only with `additionalProperties: false`, nested objects likewise; a schema combining others
 * (`$ref`, `allOf`, …) or not describing an object gives an unknown shape.
 */
export function recordSchemaOf(json: unknown): RecordSchema {
  const unknownShape: RecordSchema = { fields: [], open: true };
  if (typeof json !== 'object' || json === null) return unknownShape;
  const s = json as { [k: string]: unknown };
  if (COMBINATORS.some((k) => k in s)) return unknownShape;
  const types = Array.isArray(s.type) ? s.type : [s.type];
  if (!types.includes('object') || typeof s.properties !== 'object' || s.properties === null)
    return unknownShape;
  const required = new Set(Array.isArray(s.required) ? s.required.filter((r) => typeof r === 'string') : []);
  const fields: FieldSchema[] = Object.entries(s.properties as { [k: string]: unknown }).map(([name, p]) => {
    const prop = typeof p === 'object' && p !== null ? (p as { [k: string]: unknown }) : {};
    const ptypes = (Array.isArray(prop.type) ? prop.type : [prop.type]).filter((t) => t !== 'null');
    const nullable = !required.has(name) || (Array.isArray(prop.type) && prop.type.includes('null'));
    const combined = COMBINATORS.some((k) => k in prop);
    if (combined || ptypes.length !== 1) return { name, type: 'any', nullable: true };
    switch (ptypes[0]) {
      case 'string':
        return { name, type: 'string', nullable };
      case 'number':
      case 'integer':
        return { name, type: 'number', nullable };
      case 'boolean':
        return { name, type: 'boolean', nullable };
      case 'array':
        return { name, type: 'array', nullable };
      case 'object':
        return { name, type: 'object', schema: recordSchemaOf(prop), nullable };
      default:
        return { name, type: 'any', nullable: true };
    }
  });
  return { fields, open: s.additionalProperties !== false };
}
