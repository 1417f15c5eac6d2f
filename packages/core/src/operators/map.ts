/**
 * `map`: computes fields from SQL expressions and adds them to each record, or, with `select`,
 * builds each record from the input fields it names and the computed fields only (a projection);
 * `map_fn`: each record is what a TypeScript function returns. Both run `mapOperator`.
 */

import Type from 'typebox';
import { SluiceError, toSluiceError } from '../errors.ts';
import { compileExpression, formatName } from '../expr/index.ts';
import type { Operator } from '../operator.ts';
import { keepFields } from '../plan/keys.ts';
import { withFields } from '../plan/schema.ts';
import { type Batch, type Row, withoutTexts } from '../record.ts';
import { defineStep, PER_RECORD_CHANGELOG } from '../spec.ts';
import { stepFunction, userError } from './step-function.ts';

const config = Type.Object(
  {
    fields: Type.Record(Type.String(), Type.String(), {
      description:
        'Fields to compute: name → SQL expression over the input record. A field that exists is replaced. Every expression sees the input record.',
      default: {},
    }),
    drop: Type.Array(Type.String(), {
      description: 'Top-level fields to remove from the output record.',
      default: [],
    }),
    select: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description:
          'Keep only these top-level input fields, in this order, followed by the computed `fields`; every other input field is left out, so a field added to the input later does not flow through. A record without a selected field goes to dead letters (EXPR_MISSING_FIELD); a NULL value is kept. `[]` keeps the computed fields only. Without `select` every input field is kept. Not with `drop`; a name cannot be both selected and computed.',
        examples: [['order_id', 'region']],
      }),
    ),
  },
  { additionalProperties: false },
);

export const mapStep = defineStep({
  type: 'map',
  changelog: () => PER_RECORD_CHANGELOG,
  summary: 'Computes fields from SQL expressions; keeps only the fields named in `select`.',
  description:
    'Each output record is the input record with `fields` computed and `drop` removed; with `select`, it holds only the selected input fields and the computed ones. Every expression sees the input record. A record on which an expression fails (missing field, division by zero, bad cast), or that lacks a selected field, goes to the dead-letter output with the expression and the reason.',
  config,
  example: 'type: map\nselect: [order_id, ts]\nfields:\n  region: upper(region)\n  amount_usd: amount * 1.1',
  expressions: (cfg) =>
    Object.fromEntries(Object.entries(cfg.fields).map(([name, text]) => [`fields.${name}`, text])),
  schema(cfg, [input], ctx) {
    const computed = Object.keys(cfg.fields).map((name) => ctx.field(name, `fields.${name}`, input));
    if (cfg.select === undefined) {
      const kept = input.fields.filter((f) => !cfg.drop.includes(f.name));
      return withFields(
        { fields: kept, open: input.open },
        computed.filter((f) => !cfg.drop.includes(f.name)),
      );
    }
    // A selected name is no expression to parse: its tree is the field it reads, as written by formatName.
    const selected = cfg.select.map((name, i) =>
      ctx.field(name, `select[${i}]`, input, { kind: 'field', name, start: 0, end: formatName(name).length }),
    );
    return withFields({ fields: selected, open: false }, computed);
  },
  // A key survives when every field it is made of passes through unchanged, by name.
  key(cfg, [input], ctx) {
    const select = cfg.select;
    const computed = Object.keys(cfg.fields);
    const kept =
      select === undefined
        ? (f: string) => !computed.includes(f) && !cfg.drop.includes(f)
        : (f: string) => select.includes(f);
    return keepFields(input, kept, ctx.step);
  },
  create(cfg, step) {
    const names = Object.keys(cfg.fields);
    const exprs = names.map((name) =>
      compileExpression(step.expression(`fields.${name}`), {
        step: step.id,
        path: `fields.${name}`,
        clock: step.clock,
      }),
    );
    const evals = exprs.map((e) => e.evaluate);
    const drop = cfg.drop;
    const select = cfg.select === undefined ? undefined : checkSelect(cfg.select, names, drop, step.id);
    if (select === undefined && names.length === 0 && drop.length === 0) {
      throw new SluiceError(
        'CONFIG_INVALID',
        'map needs at least one entry in `fields`, `drop` or `select`',
        {
          step: step.id,
          path: 'fields',
        },
      );
    }
    const transform = (r: Row): Row => {
      let o: Row;
      if (select === undefined) o = { ...r };
      else {
        o = {};
        const missing = pick(r, select, o);
        if (missing >= 0) throw missingSelected(select[missing], missing, step.id);
      }
      for (let f = 0; f < evals.length; f++) o[names[f]] = evals[f](r);
      for (let d = 0; d < drop.length; d++) delete o[drop[d]];
      return o;
    };
    return mapOperator(transform, (err) => toSluiceError(err, 'EXPR_EVAL', { step: step.id }));
  },
});

export const mapFnStep = defineStep({
  type: 'map_fn',
  changelog: () => PER_RECORD_CHANGELOG,
  summary: 'Transforms each record with a TypeScript function (TypeScript API only).',
  config: Type.Object({}, { additionalProperties: false }),
  // The function may change any field; records keep their `key_by` key beside them.
  key: (_cfg, [input], ctx) => keepFields(input, () => false, ctx.step),
  create(_cfg, step) {
    const fn = stepFunction<(r: Row) => Row>(step);
    return mapOperator(fn, (err) => userError(step.id, err));
  },
});

/**
 * The map operator, of both `map` (expressions) and `map_fn` (a function): replaces each record
 * with what `transform` returns. A record on which it throws goes to the dead-letter output with
 * the error `onError` makes of what was thrown. Output records carry no texts: each may be a new
 * object, or the input changed in place.
 */
export function mapOperator(
  transform: (record: Row) => Row,
  onError: (err: unknown) => SluiceError,
): Operator {
  return {
    processBatch(batch: Batch, out) {
      const input = batch.records;
      const n = input.length;
      const records: Row[] = new Array(n);
      const failed: number[] = [];
      for (let i = 0; i < n; i++) {
        try {
          records[i] = transform(input[i]);
        } catch (err) {
          failed.push(i);
          out.deadLetter(batch, i, onError(err));
        }
      }
      // Every record is a new object: no text describes it.
      const changed = withoutTexts(batch);
      out.emit(failed.length > 0 ? without(changed, records, failed) : { ...changed, records });
    },
  };
}

/**
 * Checks `select` against the rest of the config: not with `drop`, no name twice, no name also
 * computed, and something to output. Throws CONFIG_INVALID at the offending path.
 */
function checkSelect(select: string[], computed: string[], drop: string[], stepId: string): string[] {
  const fail = (path: string, message: string): never => {
    throw new SluiceError('CONFIG_INVALID', message, { step: stepId, path });
  };
  if (drop.length > 0)
    fail(
      'drop',
      'select keeps only the fields it names; drop is not needed with it — remove drop, or leave the field out of select',
    );
  for (const [i, name] of select.entries()) {
    if (select.indexOf(name) < i) fail(`select[${i}]`, `select lists '${name}' twice`);
    if (computed.includes(name))
      fail(
        `select[${i}]`,
        `'${name}' is both selected and computed; a computed field is always kept, so remove it from select`,
      );
  }
  if (select.length === 0 && computed.length === 0)
    fail('select', 'select: [] keeps no input field and fields computes none: every record would be empty');
  return select;
}

/** Copies the fields named by `select` from `record` into `into`; the index of the first missing one, or -1. */
function pick(record: Row, select: readonly string[], into: Row): number {
  for (let k = 0; k < select.length; k++) {
    const name = select[k];
    if (!Object.hasOwn(record, name)) return k;
    into[name] = record[name];
  }
  return -1;
}

function missingSelected(name: string, index: number, stepId: string): SluiceError {
  return new SluiceError(
    'EXPR_MISSING_FIELD',
    `field '${name}' is missing from the record; check the name (field names are case-sensitive), or to keep records without it move it from select to fields as ${name}: coalesce(${name}, NULL)`,
    { step: stepId, path: `select[${index}]` },
  );
}

/**
 * The batch with `records` as values, minus the positions in `skip` (ascending); each kept record
 * keeps its time, kind, key, offset, seq and watermark. A record keeps its text only if it is the
 * record of `batch` at its position.
 */
export function without(batch: Batch, records: Row[], skip: number[]): Batch {
  const keep = records.length - skip.length;
  const out: Batch = { ...batch, records: new Array(keep), times: new Array(keep) };
  if (batch.kinds) out.kinds = new Array(keep);
  if (batch.keys) out.keys = new Array(keep);
  if (batch.offsets) out.offsets = new Array(keep);
  if (batch.seqs) out.seqs = new Array(keep);
  if (batch.texts) out.texts = new Array(keep);
  if (batch.watermarks) out.watermarks = new Array(keep);
  let s = 0;
  let j = 0;
  for (let i = 0; i < records.length; i++) {
    if (s < skip.length && skip[s] === i) {
      s++;
      continue;
    }
    out.records[j] = records[i];
    out.times[j] = batch.times[i];
    if (out.kinds) out.kinds[j] = batch.kinds![i];
    if (out.keys) out.keys[j] = batch.keys![i];
    if (out.offsets) out.offsets[j] = batch.offsets![i];
    if (out.seqs) out.seqs[j] = batch.seqs![i];
    if (out.texts) out.texts[j] = records[i] === batch.records[i] ? batch.texts![i] : undefined;
    if (out.watermarks) out.watermarks[j] = batch.watermarks![i];
    j++;
  }
  return out;
}
