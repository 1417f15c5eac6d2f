/**
 * The `join` step (YAML): joins the records of two inputs by key — within a time interval of each
 * other, or in the same window.
 */

import Type, { type Static } from 'typebox';
import { SluiceError } from '../errors.ts';
import type { Expr } from '../expr/index.ts';
import type { StepInfo } from '../operator.ts';
import type { KeyContext, StreamKey } from '../plan/keys.ts';
import { inputName } from '../plan/plan.ts';
import { objectField, type Schema } from '../plan/schema.ts';
import { defineStep } from '../spec.ts';
import { parseDuration } from '../time.ts';
import { type WindowConfig, windowConfig, windowSpec } from './aggregate-step.ts';
import { IntervalJoinOperator, type JoinKind } from './interval-join.ts';
import { compileJoinCondition, joinInputs, PairOutput } from './join-condition.ts';
import { RegularJoinOperator, regularJoinChangelog } from './regular-join.ts';
import { parseTtl, ttlDescription } from './state-ttl.ts';
import { TemporalJoinOperator } from './temporal-join.ts';
import { WindowJoinOperator } from './window-join.ts';

const config = Type.Object(
  {
    on: Type.String({
      minLength: 1,
      description:
        'The join condition, an SQL expression naming each input’s record by the input’s id: at least one equality between a field of the left and one of the right (`bids.auction = auctions.id`), then any other condition on the pair with AND. The equalities form the join key; as in SQL, a NULL key matches nothing.',
      examples: ['bids.auction = auctions.id'],
    }),
    kind: Type.Union(
      [Type.Literal('inner'), Type.Literal('left'), Type.Literal('right'), Type.Literal('full')],
      {
        description:
          'Which records appear without a match: `inner` — none; `left` / `right` — those of that input, with NULL for the other; `full` — those of both. In an interval or window join an unmatched record is emitted once no record of the other side can match it any more; in a regular join at once, and deleted when its first match arrives.',
        default: 'inner',
      },
    ),
    between: Type.Optional(
      Type.Tuple([Type.String(), Type.String()], {
        description:
          'An interval join: a right record joins a left record at time t when its time lies in [t + lower, t + upper] (both inclusive; durations, negative with a leading `-`), as Flink’s `between(lower, upper)`. State per side is kept until the watermark shows no record of the other side can still match.',
        examples: [['-10s', '5s']],
      }),
    ),
    temporal: Type.Optional(
      Type.Boolean({
        description:
          'A temporal join: each left record joins the version of the right row (by the key in `on`) valid at the left record’s event time, as Flink SQL’s `FOR SYSTEM_TIME AS OF`. The right input is a versioned table: each record a new version of its key’s row, an update-before or delete in a changelog the end of it. Kinds `inner` and `left`.',
      }),
    ),
    window: Type.Optional(
      Type.Unsafe<WindowConfig>({
        ...windowConfig,
        description:
          'A window join: records of the two inputs join when they fall in the same window (tumbling, hopping or cumulate) and have the same key; each window’s pairs are emitted when the watermark passes its end.',
      }),
    ),
    fields: Type.Optional(
      Type.Record(Type.String(), Type.String(), {
        description:
          'Output fields: name → SQL expression over the pair, reading each side as `<input id>.<field>` (NULL for the missing side of an unmatched record), and `window_start` / `window_end` in a window join. Default: the pair itself, `{ <left id>: {…}, <right id>: {…} }`.',
        examples: [{ auction: 'bids.auction', price: 'bids.price', seller: 'auctions.seller' }],
      }),
    ),
    ttl: Type.Optional(
      Type.String({
        description: ttlDescription(
          'A regular join only (the other joins forget by the watermark). Each side keeps its own: a record of that side and key writes it, and so, on the outer side of an outer join, does a change in how many rows its rows match. A forgotten row’s pairs (and NULL-padded row) stay downstream; a later record of its key joins only what is kept, and a retraction of a forgotten row still retracts its pairs with the rows the other side kept.',
        ),
        examples: ['1h'],
      }),
    ),
    on_late: Type.Union([Type.Literal('late_output'), Type.Literal('dead_letter'), Type.Literal('drop')], {
      description:
        'Where records at or behind the watermark go in an interval, window or temporal join (they can no longer be joined): the pipeline’s late_output (dead letters if it has none), dead letters, or nowhere (counted as late). A regular join has no time bound: no record is late.',
      default: 'late_output',
    }),
  },
  { additionalProperties: false },
);

/** A signed duration: `-10s`, `5s`, `0s`. */
function signedDuration(text: string, path: string): number {
  const trimmed = text.trim();
  return trimmed.startsWith('-') ? -parseDuration(trimmed.slice(1), path) : parseDuration(trimmed, path);
}

function inStep<T>(step: StepInfo, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof SluiceError && err.step === undefined)
      throw new SluiceError(err.code, err.message, { step: step.id, path: err.path, cause: err });
    throw err;
  }
}

/** The step description's paragraph on the regular join. */
const REGULAR_JOIN_DESCRIPTION =
  '\n\n**Regular join** (none of `between`, `window` and `temporal`; Flink SQL’s `a JOIN b ON …` without a time condition): the two inputs are tables. Each side keeps its rows per key, and the output — unlike the other joins’ — is a changelog, that of the join of the two tables: a row that arrives joins the rows of its key the other side holds, in their order of arrival, and each pair is inserted. Either input may be an updating stream (a retract changelog, such as an `aggregate` without a window): a row it removes (update-before or delete) leaves the state, and its pairs are retracted. An inner join gives each pair the kind of the record that made it, and is append-only when both inputs are; an outer join emits inserts and deletes: a row without a match is inserted at once, padded with NULL, deleted when its first match arrives (then the pair is inserted), and inserted again, padded, when its last match goes. So an outer join, or an inner join of an updating input, may be followed only by steps and sinks that take updates (record-by-record steps, sinks with a `changelog` option). Each change takes the event time of the record that caused it. With no time bound, no record is late (`on_late` is not used). State lives for the life of the job — every row of both inputs, in memory and in checkpoints — unless `ttl` is set: the state of a key on one side not written for that long in processing time is then forgotten, as with Flink’s state TTL, at the price of exactness for records of that key that come later.';

export const joinStep = defineStep({
  type: 'join',
  summary:
    'Joins the records of two inputs by key: as two tables (a changelog), within a time interval of each other, in the same window, or as of the left record’s time.',
  description:
    'Name the two inputs with `input: [left, right]`; expressions read their records as `<input id>.<field>` (a side output `<step>.<port>` as `<port>.<field>`). Set `between` for an interval join, `window` for a window join, `temporal: true` for a temporal join, or none of them for a regular join. Each pair is a record of the output: by default `{ <left id>: {…}, <right id>: {…} }`, or the `fields` you compute from it.\n\n**Interval join** (`between: [lower, upper]`): a left record at time t and a right record at time s with the same key join when t + lower ≤ s ≤ t + upper. A pair is emitted as soon as its second record arrives, with the later of the two times as its event time. Each record is kept until the watermark passes the last time a record of the other side could match it, so memory is bounded by the interval, not by the length of the input. An unmatched record of an outer join is emitted then, with NULL for the other side and, as its event time, the later of its own time and that bound (so that it is on time for windows after the join).\n\n**Window join** (`window`: tumbling, hopping or cumulative): a left and a right record with the same key join when they fall into the same window, as Flink SQL’s window join. A window’s pairs are emitted when the watermark passes its end, with the window’s bounds (`window_start`, `window_end`; in the default output too) and `window_end - 1` as their event time; then, for an outer join, the records of the kept side(s) that found no partner in that window. Windows fire in end order, and within one, left records in order of arrival, so results come in one order for one input. Only the open windows’ records are kept.\n\n**Temporal join** (`temporal: true`): each left record joins the version of the right row, by key, valid at its event time (Flink SQL’s `FOR SYSTEM_TIME AS OF`): the latest right record of its key at or before that time (of equal times, the last to arrive), unless an update-before or delete of a changelog ended it. A left record waits until the watermark reaches its time — by then every version up to it has arrived — and is emitted then, at its own time; with `kind: left`, also without a version (NULL for the right). The left input must be append-only; the right may be a changelog (e.g. an `aggregate` without window). A right record at or behind the watermark is late: left records at its time have been joined already. Per key, only the versions newer than the watermark and the latest one before it are kept.\n\nA condition after the key that fails on a pair counts as not met, and a field that fails is NULL in that result, with one warning per expression (a pair is not an input record, so it cannot go to the dead letters). A key that fails sends its record to the dead letters.\n\nIn the interval, window and temporal joins, records at or behind the step’s watermark are late (the other side’s records they could have joined may be gone) and go where `on_late` says; their output is append-only and depends only on the input, not on how it was cut into batches.' +
    REGULAR_JOIN_DESCRIPTION,
  config,
  // ttl changes when a key is forgotten, not what the state holds: state restores across a change of it.
  state: ['on', 'kind', 'between', 'window', 'temporal'],
  changelog: (cfg) =>
    cfg.temporal === true
      ? { consumes: ['append', 'upsert', 'retract'], produces: 'append' }
      : cfg.between === undefined && cfg.window === undefined
        ? regularJoinChangelog(cfg.kind)
        : { consumes: ['append'], produces: 'append' },
  example: 'type: join\ninput: [bids, auctions]\non: bids.auction = auctions.id\nbetween: [0s, 10s]',
  expressions: (cfg) => ({
    on: cfg.on,
    ...Object.fromEntries(Object.entries(cfg.fields ?? {}).map(([name, text]) => [`fields.${name}`, text])),
  }),
  schema(cfg, inputs, ctx) {
    const { left, right } = joinInputs({ id: ctx.step, inputs: ctx.inputs });
    const names = [left, right];
    const kind = cfg.kind;
    const fields = [
      objectField(names[0], inputs[0], kind === 'right' || kind === 'full'),
      objectField(names[1], inputs[1], kind !== 'inner'),
    ];
    if (cfg.window !== undefined)
      fields.push({ name: 'window_start', type: 'number' }, { name: 'window_end', type: 'number' });
    const pair: Schema = { fields, open: false };
    ctx.check('on', pair, 'predicate');
    if (cfg.fields === undefined) return pair;
    return {
      fields: Object.keys(cfg.fields).map((name) => ctx.field(name, `fields.${name}`, pair)),
      open: false,
    };
  },
  key: joinKey,
  create(cfg, step) {
    const names = joinInputs(step);
    const pairs = new PairOutput(compileJoinCondition(cfg.on, names, step), cfg.fields, step);
    const kind: JoinKind = cfg.kind;
    const modes = (['between', 'window', 'temporal'] as const).filter(
      (m) => cfg[m] !== undefined && cfg[m] !== false,
    );
    if (modes.length > 1) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `set one of \`between\` (an interval join), \`window\` (a window join) and \`temporal\` (a temporal join), not ${modes.map((m) => `\`${m}\``).join(' and ')}`,
        { step: step.id, path: modes[1] },
      );
    }
    if (modes.length === 0) {
      const ttl = parseTtl(cfg.ttl, step.id);
      return new RegularJoinOperator({ stepId: step.id, pairs, kind, ...(ttl !== undefined ? { ttl } : {}) });
    }
    if (cfg.ttl !== undefined) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `\`ttl\` is for a regular join (none of \`between\`, \`window\` and \`temporal\`): the watermark already clears the state of ${modes[0] === 'between' ? 'an interval' : `a ${modes[0]}`} join`,
        { step: step.id, path: 'ttl' },
      );
    }
    if (cfg.temporal === true) {
      if (kind === 'right' || kind === 'full') {
        throw new SluiceError(
          'CONFIG_INVALID',
          `a temporal join keeps the left records only: kind \`inner\` or \`left\`, not \`${kind}\``,
          { step: step.id, path: 'kind' },
        );
      }
      const operator = new TemporalJoinOperator({ stepId: step.id, pairs, keepUnmatched: kind === 'left' });
      return Object.assign(operator, { onLate: cfg.on_late });
    }
    if (cfg.between !== undefined) {
      const [lower, upper] = inStep(step, () => [
        signedDuration(cfg.between![0], 'between[0]'),
        signedDuration(cfg.between![1], 'between[1]'),
      ]);
      const operator = new IntervalJoinOperator({ stepId: step.id, pairs, kind, lower, upper });
      return Object.assign(operator, { onLate: cfg.on_late });
    }
    // What is left is `window`.
    const window = inStep(step, () => windowSpec(cfg.window!));
    const operator = new WindowJoinOperator({ stepId: step.id, pairs, kind, window });
    return Object.assign(operator, { onLate: cfg.on_late });
  },
});

/** A field of one input of a join: `0` left, `1` right. */
type SideField = readonly [side: 0 | 1, field: string];

/** `bids.auction` → the field `auction` of `bids`; undefined for any other expression. */
function sideField(e: Expr, inputs: readonly string[]): SideField | undefined {
  if (e.kind !== 'member' || e.object.kind !== 'field') return undefined;
  const side = inputs.indexOf(e.object.name);
  return side === 0 || side === 1 ? [side, e.name] : undefined;
}

/** The fields of each side the equalities of `on` join on, where they are plain fields. */
function joinFields(on: Expr, inputs: readonly string[]): [string[], string[]] {
  const fields: [string[], string[]] = [[], []];
  const visit = (e: Expr) => {
    if (e.kind === 'binary' && e.op === 'and') {
      visit(e.left);
      visit(e.right);
    } else if (e.kind === 'binary' && e.op === '=') {
      const a = sideField(e.left, inputs);
      const b = sideField(e.right, inputs);
      if (a !== undefined && b !== undefined && a[0] !== b[0]) {
        fields[a[0]].push(a[1]);
        fields[b[0]].push(b[1]);
      }
    }
  };
  visit(on);
  return fields;
}

/**
 * The keys of a join's output. No join's output carries a `key_by` key. Only the regular join
 * is an updating stream; its rows are pairs (or rows padded with NULL), and as Flink's planner
 * derives upsert keys: when one side is unique on the fields it joins on, each row of the other
 * side has one partner, so the other side's unique key identifies the pairs (for an outer side,
 * only that side's own key, which padding leaves in place); otherwise a key of each side
 * together does. The key must reach the output: with `fields`, as fields that read one side's
 * field as it is (`auction: bids.auction`); the default pair nests both records, and nested
 * fields cannot be an upsert key. The other joins are append-only: none is given.
 */
function joinKey(cfg: Static<typeof config>, inputs: readonly StreamKey[], ctx: KeyContext): StreamKey {
  const partition = { kind: 'none' } as const;
  const regular = cfg.between === undefined && cfg.window === undefined && cfg.temporal !== true;
  const sides = ctx.inputs.map(inputName);
  if (!regular || cfg.fields === undefined || sides.length !== 2 || sides[0] === sides[1])
    return { partition };
  const [left, right] = [inputs[0].unique, inputs[1].unique];
  if (left === undefined || right === undefined) return { partition };
  const on = joinFields(ctx.expression('on'), sides);
  const uniqueOnJoin = (side: 0 | 1) => [left, right][side].some((k) => k.every((f) => on[side].includes(f)));
  const tag = (side: 0 | 1, keys: readonly (readonly string[])[]) =>
    keys.map((k) => k.map((f): SideField => [side, f]));
  const kind = cfg.kind;
  let keys: SideField[][] = [];
  // A row of `side` keeps its own key in every output row it is in, padded or not.
  if (uniqueOnJoin(1) && kind !== 'right' && kind !== 'full') keys.push(...tag(0, left));
  if (uniqueOnJoin(0) && kind !== 'left' && kind !== 'full') keys.push(...tag(1, right));
  if (keys.length === 0) keys = tag(0, left).flatMap((l) => tag(1, right).map((r) => [...l, ...r]));
  // Each side field as an output field that reads it unchanged.
  const names = new Map<string, string>();
  for (const name of Object.keys(cfg.fields)) {
    const read = sideField(ctx.expression(`fields.${name}`), sides);
    if (read !== undefined && !names.has(read.join('.'))) names.set(read.join('.'), name);
  }
  const unique = keys
    .map((k) => k.map((f) => names.get(f.join('.'))))
    .filter((k): k is string[] => k.every((f) => f !== undefined));
  return { partition, unique };
}
