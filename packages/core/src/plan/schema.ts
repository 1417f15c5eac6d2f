/**
 * Schemas: what the records of each source and step look like, where known, and the gate that
 * works them out through a plan, checking every step's expressions against its input's schema
 * before anything runs.
 *
 * A source may declare the schema of its records (the `nexmark` source does); a step declares how
 * its output's schema follows from its inputs' (`StepSpec.schema`), checking its expressions on
 * the way; a step that declares nothing gives records of unknown shape (an open, empty schema),
 * and so does a source. A closed schema lists every field a record may have: an expression
 * naming another — `bid.pricee` — is a PLAN_TYPE_ERROR at its line, with the fields there are,
 * instead of a dead letter per record at run time. Types flow the same way, so `sum(name)` over
 * a text field is refused before the job starts.
 */

import { SluiceError } from '../errors.ts';
import {
  compileExpression,
  compilePredicate,
  type Expr,
  type ExprType,
  type FieldSchema,
  type RecordSchema,
} from '../expr/index.ts';
import type { Registry } from '../registry.ts';
import { sideOutputsOf } from '../spec.ts';
import { expressionAt } from './expressions.ts';
import type { Plan, PlanExpressions } from './plan.ts';
import { stepsInOrder } from './resolve.ts';

/** What a stream's records look like, where known (see `RecordSchema`). */
export type Schema = RecordSchema;
export type { FieldSchema };

/** Records of unknown shape: no field known, any allowed. */
export const UNKNOWN_SCHEMA: Schema = Object.freeze({ fields: Object.freeze([]), open: true });

/** What a step's `schema` rule gets besides its config and its inputs' schemas. */
export interface SchemaContext {
  /** The step's id. */
  readonly step: string;
  /** What it reads, in port order: ids, or `<step>.<port>` for a side output. */
  readonly inputs: readonly string[];
  /** Folder relative paths in the config resolve against. */
  readonly baseDir: string;
  /** The tree of the expression at config `path`, one the spec's `expressions` declares. */
  expression(path: string): Expr;
  /**
   * Type-checks the expression at config `path` — or `tree`, a part of it or one the rule built,
   * reported at that path — against `schema` and returns its type; throws PLAN_TYPE_ERROR (or
   * EXPR_UNKNOWN_FUNCTION …) located at the step and path. A `predicate` must be boolean.
   */
  check(path: string, schema: Schema, mode?: 'value' | 'predicate', tree?: Expr): ExprType;
  /**
   * The field an expression computes, named `name`: checked as by `check`, and when the
   * expression only reads a field (`bid`, `bid.price`), that field's schema, nested objects and all.
   */
  field(name: string, path: string, schema: Schema, tree?: Expr): FieldSchema;
}

/** A schema with `fields` (replacing any of the same name) added. */
export function withFields(schema: Schema, fields: readonly FieldSchema[]): Schema {
  const names = new Set(fields.map((f) => f.name));
  return { fields: [...schema.fields.filter((f) => !names.has(f.name)), ...fields], open: schema.open };
}

/** A field of a schema, or undefined. */
export function fieldNamed(schema: Schema, name: string): FieldSchema | undefined {
  return schema.fields.find((f) => f.name === name);
}

/** An object field holding records of `schema`. */
export function objectField(name: string, schema: Schema, nullable = false): FieldSchema {
  return { name, type: 'object', schema, nullable };
}

/** The schema records of several inputs share (a union): fields all have, types merged; open unless all are closed alike. */
export function unionSchema(schemas: readonly Schema[]): Schema {
  if (schemas.length === 0) return UNKNOWN_SCHEMA;
  const [first, ...rest] = schemas;
  let open = first.open;
  const fields: FieldSchema[] = [];
  for (const f of first.fields) {
    let merged: FieldSchema | undefined = f;
    for (const other of rest) {
      const g = fieldNamed(other, f.name);
      if (g === undefined) {
        merged = undefined;
        break;
      }
      if (g.type !== merged.type || g.schema !== merged.schema)
        merged = { name: f.name, type: g.type === merged.type ? g.type : 'any', nullable: true };
    }
    if (merged !== undefined) fields.push(merged);
    else open = true;
  }
  for (const other of rest)
    if (other.open || other.fields.some((g) => fieldNamed(first, g.name) === undefined)) open = true;
  return { fields, open };
}

/** The field an expression reads when it is nothing but a field path (`bid.price`), if known. */
function readsField(e: Expr, schema: Schema): FieldSchema | undefined {
  if (e.kind === 'field') return fieldNamed(schema, e.name);
  if (e.kind === 'member') {
    const object = readsField(e.object, schema);
    return object?.schema === undefined ? undefined : fieldNamed(object.schema, e.name);
  }
  return undefined;
}

/**
 * The schema of every source and step of a resolved plan — and of each side output, under its
 * reference `<step>.<port>` — or the problems found on the way.
 */
export interface SchemaResult {
  readonly schemas: { readonly [id: string]: Schema };
  readonly problems: readonly { readonly step: string; readonly path: string; readonly error: SluiceError }[];
}

/**
 * Works out the schema of every source and step of `plan` (configs validated, inputs existing,
 * no cycle, expressions parsed: `parsePlanExpressions`), checking each step's expressions
 * against its inputs' schemas, a source's event-time expression against its records' and a
 * sink's expressions against its input's (dead-letter and late outputs' against none). A step whose rule fails, or one of `unparsed` (an expression of it
 * did not parse, already reported), gets an unknown schema, so one mistake is reported once, not
 * again downstream.
 */
export function inferSchemas(
  plan: Plan,
  registry: Registry,
  unparsed: ReadonlySet<string> = new Set(),
): SchemaResult {
  const schemas: { [id: string]: Schema } = {};
  const problems: { step: string; path: string; error: SluiceError }[] = [];
  for (const source of plan.sources)
    schemas[source.id] = registry.source(source.type)?.schema?.(source.config as never) ?? UNKNOWN_SCHEMA;
  for (const step of stepsInOrder(plan.steps)) {
    const id = step.id;
    const spec = registry.step(step.type);
    const inputs = step.inputs.map((input) => schemas[input] ?? UNKNOWN_SCHEMA);
    // Side outputs are streams of their own, under `<id>.<port>`, after the main output.
    const sides = () => {
      for (const port of sideOutputsOf(spec, step.config))
        schemas[`${id}.${port.name}`] = port.schema?.(inputs, schemas[id]) ?? UNKNOWN_SCHEMA;
    };
    if (spec?.schema === undefined || unparsed.has(id)) {
      schemas[id] = UNKNOWN_SCHEMA;
      sides();
      continue;
    }
    const expression = (path: string) => expressionAt(step.expressions, id, path);
    const check: SchemaContext['check'] = (path, schema, mode = 'value', tree = expression(path)) => {
      const options = { step: id, path, schema };
      if (mode === 'predicate') {
        compilePredicate(tree, options);
        return 'boolean';
      }
      return compileExpression(tree, options).type;
    };
    const ctx: SchemaContext = {
      step: id,
      inputs: step.inputs,
      baseDir: plan.baseDir,
      expression,
      check,
      field(name, path, schema, tree = expression(path)) {
        const type = check(path, schema, 'value', tree);
        const read = readsField(tree, schema);
        return read === undefined ? { name, type, nullable: true } : { ...read, name };
      },
    };
    try {
      schemas[id] = spec.schema(step.config as never, inputs, ctx);
    } catch (err) {
      if (!(err instanceof SluiceError)) throw err;
      problems.push({ step: id, path: err.path ?? '', error: err });
      schemas[id] = UNKNOWN_SCHEMA;
    }
    sides();
  }
  // A source's event-time expression reads its records; a sink's expressions, its input's.
  const checkAll = (id: string, trees: PlanExpressions | undefined, schema: Schema) => {
    if (unparsed.has(id)) return;
    for (const [path, tree] of Object.entries(trees ?? {})) {
      try {
        compileExpression(tree, { step: id, path, schema });
      } catch (err) {
        if (!(err instanceof SluiceError)) throw err;
        problems.push({ step: id, path, error: err });
      }
    }
  };
  for (const source of plan.sources) checkAll(source.id, source.expressions, schemas[source.id]);
  for (const sink of plan.sinks) checkAll(sink.id, sink.expressions, schemas[sink.input] ?? UNKNOWN_SCHEMA);
  checkAll('$dead_letter', plan.deadLetter?.expressions, UNKNOWN_SCHEMA);
  checkAll('$late_output', plan.lateOutput?.expressions, UNKNOWN_SCHEMA);
  return { schemas, problems };
}
