/**
 * The `pattern` step: finds sequences of records per key (complex event processing).
 */

import Type from 'typebox';
import { SluiceError } from '../errors.ts';
import { describePartition } from '../plan/keys.ts';
import { defineStep } from '../spec.ts';
import { parseDuration } from '../time.ts';
import { compileKey, keyExpressions, keyOwn } from './key-by.ts';
import { createPatternOperator } from './pattern.ts';
import {
  type Absence,
  compileMeasures,
  compileStages,
  type Stage,
  type StageConfig,
} from './pattern-compile.ts';

const stage = Type.Object(
  {
    name: Type.String({
      description:
        'The stage name (an identifier). Conditions and measures refer to its records as `A` (the last one), `first(A)`, `last(A)` and `count(A)`.',
      examples: ['A'],
    }),
    where: Type.String({
      description:
        'SQL condition a record must meet to be taken into this stage. Plain fields are the current record’s (a missing one reads as NULL); a stage name reads the records matched before this one (NULL when none; with `running: true` this stage’s own references include the current record), e.g. `price > A.price`, `price > first(B.price)`, `count(B) < 3`. Also: `last(B.price, n)` / `first(B.price, n)` (the n-th from the end / start), `prev(price, n)` (n records before the current one in the match, NULL before its first), `sum`, `avg`, `min`, `max`, `count` of an expression over one stage’s records (`avg(B.price)`) or over all of the match’s (`sum(price)`, `count(*)`).',
      examples: ["action = 'login_failed'"],
    }),
    quantifier: Type.Optional(
      Type.String({
        description:
          'How many records the stage takes: `{n}`, `{n,m}`, `{n,}`, `+` (one or more), `*` (zero or more), `?` (optional); greedy (as many as the pattern allows), or reluctant with a trailing `?` (`+?`, `{2,5}?`: as few). Default: exactly one.',
        examples: ['{3,}'],
      }),
    ),
    contiguity: Type.Optional(
      Type.Union([Type.Literal('strict'), Type.Literal('relaxed'), Type.Literal('any')], {
        description:
          'How this stage’s records follow the record before them: `strict` — the very next record of the key (Flink `next`); `relaxed` — records that fail this stage’s condition in between are skipped, and the first that meets it is taken (Flink `followedBy`); `any` — every later record that meets it is taken by a branch of its own, while another branch skips it (Flink `followedByAny`; with `skip: no_skip` each branch can give a match). Applies between the records of a repeated stage too (`any` there is Flink’s `allowCombinations()`). An `absent` stage takes `strict` or `relaxed`.',
        default: 'strict',
      }),
    ),
    absent: Type.Optional(
      Type.Boolean({
        description:
          'A negative stage: it takes no records, and a record meeting `where` here ends the partial match. With `strict` contiguity the record right after the previous stage’s last one must not meet it (Flink `notNext`); with `relaxed`, no record between the previous stage’s last one and the next stage’s first (Flink `notFollowedBy`; a record meeting both is forbidden). It cannot begin the pattern, take a quantifier, or follow an optional stage. At the end of the pattern (or followed by optional stages only) a `relaxed` one needs `within`, and the match is output when `within` has passed without such a record; a `strict` one there waits for the next record of the key. Conditions may refer to earlier stages; nothing can refer to it.',
        default: false,
      }),
    ),
    alternative: Type.Optional(
      Type.Boolean({
        description:
          'This stage is an alternative to the stage before it (SQL `PATTERN (A (B | C) D)`: B, then C with `alternative: true`; chain more for `(B | C | E)`): a match takes records into one of them, the earlier preferred when both could, and continues with the stage after the last alternative. Each keeps its own condition, quantifier and contiguity, but must take at least one record (no `?`, `*`, `{0,n}`), and none may be absent.',
        default: false,
      }),
    ),
  },
  { additionalProperties: false },
);

const config = Type.Object(
  {
    key: Type.Optional(
      Type.Array(Type.String(), {
        minItems: 1,
        description:
          'Fields forming the key; each becomes an output field (from the match’s first record). Default: the key of an upstream `key_by`.',
        examples: [['user']],
      }),
    ),
    stages: Type.Array(stage, { minItems: 1, description: 'The stages, in the order their records come.' }),
    within: Type.Optional(
      Type.String({
        description:
          'A match’s records lie less than this long after its first record; a partial match that has run out of time ends (it times out). Bounds the state kept per key.',
        examples: ['10m'],
      }),
    ),
    skip: Type.Union(
      [
        Type.Literal('past_last_row'),
        Type.Literal('to_next_row'),
        Type.Literal('to_first'),
        Type.Literal('to_last'),
        Type.Literal('no_skip'),
      ],
      {
        description:
          'Where matching resumes after a match: `past_last_row` — after its last record (no two matches share a record); `to_next_row` — at the record after its first (one match per start record); `to_first` / `to_last` — at the first / last record of stage `skip_to`; `no_skip` — every match of every start record, each way the stages can take the records.',
        default: 'past_last_row',
      },
    ),
    skip_to: Type.Optional(
      Type.String({
        description: 'The stage `skip: to_first` or `to_last` names (one that takes records, not `absent`).',
      }),
    ),
    measures: Type.Record(Type.String(), Type.String(), {
      description:
        'Output fields, each an SQL expression over the match: `first(A.ts)`, `last(B.price)`, `last(B.price, 1)`, `prev(B.price)`, `count(B)`, `avg(B.price)`, `sum(A.price * A.qty)`, `count(*)`, `match_start()`, `match_end()` (or `match_rowtime()`); a plain field reads the match’s last record, and inside an aggregate or offset every record of the match.',
      default: {},
      examples: [{ first_price: 'first(A.price)', rises: 'count(B)' }],
    }),
    timeouts: Type.Union([Type.Literal('drop'), Type.Literal('side_output'), Type.Literal('emit')], {
      description:
        'Partial matches that run out of time (`within`): `drop` them; send them to the side output `timeouts`, which a step or sink reads as `input: <step id>.timeouts` (records as the main output’s: key fields, `match_start`, `match_end` and the measures over the records taken); or `emit` them into the main output with `match: timeout` (complete matches then have `match: complete`; kept for pipelines written before side outputs).',
      default: 'drop',
    }),
    running: Type.Boolean({
      description:
        'How a condition sees the stage it is the condition of: `false` (Flink CEP’s iterative conditions) — stage references read the records taken before the current one, so `price > B.price` in stage B compares with the previous B; `true` (SQL MATCH_RECOGNIZE’s RUNNING semantics; what `MATCH_RECOGNIZE` compiles to) — the record being tested counts as one of its stage’s, so in stage B `B.price` is the current record’s, `count(B)` includes it and `last(B.price, 1)` is the previous B.',
      default: false,
    }),
    on_late: Type.Union([Type.Literal('late_output'), Type.Literal('dead_letter'), Type.Literal('drop')], {
      description:
        'Where records at or behind the watermark go: the pipeline’s late_output (dead letters if it has none), dead letters, or nowhere (counted as late). Records after them in event time were already matched.',
      default: 'late_output',
    }),
  },
  { additionalProperties: false },
);

export const patternStep = defineStep({
  type: 'pattern',
  summary: 'Finds sequences of records per key that match a pattern of stages (complex event processing).',
  description:
    'Records of each key are matched in event-time order once the watermark passes them; each match gives one output record with the key fields, `match_start`, `match_end` and the measures. An output record’s event time is when its result became known: the time of the record that completed the match, or its `within` deadline (its first record’s time plus `within`) for a partial match that timed out and for a match a trailing `absent` stage let through. At the end of a bounded input the watermark passes every deadline, so those are output then, each at its deadline. With `contiguity: any` and `skip: no_skip`, a match is output as soon as it completes, while other branches from the same start record may still be running. Conditions that fail to evaluate make the record a dead letter (it matches nothing). Takes and gives append-only streams.',
  config,
  changelog: () => ({ consumes: ['append'], produces: 'append' }),
  sideOutputs: [
    {
      name: 'timeouts',
      description:
        'with `timeouts: side_output`, the partial matches that ran out of time (`within`): key fields, `match_start`, `match_end` and the measures over the records taken; append-only',
      schema: (_inputs, main) => main,
    },
  ],
  outputs: (cfg) => (cfg.timeouts === 'side_output' ? ['timeouts'] : []),
  state: ['key', 'stages', 'within', 'skip', 'skip_to'],
  // Each output record carries the key it was matched under (its own `key` fields, which it
  // outputs, else the upstream `key_by` key, whose fields it does not); several matches of one
  // key are several rows, so no unique key.
  key(cfg, [input], ctx) {
    if (cfg.key !== undefined) return { partition: keyOwn(cfg.key, ctx.expression) };
    const p = input.partition;
    if (p === undefined || p.kind === 'none' || p.kind === 'opaque')
      return p === undefined ? {} : { partition: p };
    return {
      partition: { kind: 'opaque', why: `${describePartition(p)}, which step '${ctx.step}' does not output` },
    };
  },
  example: [
    'type: pattern',
    'key: [user]',
    'stages:',
    '  - name: fail',
    "    where: action = 'login_failed'",
    "    quantifier: '{3,}'",
    '  - name: ok',
    "    where: action = 'login_ok'",
    'within: 5m',
    'measures:',
    '  failures: count(fail)',
    '  first_failure: first(fail.ts)',
  ].join('\n'),
  expressions: (cfg) => ({
    ...keyExpressions(cfg.key),
    ...Object.fromEntries(cfg.stages.map((s, i) => [`stages[${i}].where`, s.where])),
    ...Object.fromEntries(Object.entries(cfg.measures).map(([name, text]) => [`measures.${name}`, text])),
  }),
  create(cfg, step) {
    const { stages, absent, trail, accumulators } = compileStages(
      cfg.stages,
      step.id,
      step.clock,
      step.expression,
      cfg.running,
    );
    const names = stages.map((s) => s.name);
    let skipStage: number | undefined;
    if (cfg.skip === 'to_first' || cfg.skip === 'to_last') {
      skipStage = cfg.skip_to === undefined ? -1 : names.indexOf(cfg.skip_to);
      if (skipStage < 0) {
        throw new SluiceError(
          'CONFIG_INVALID',
          `skip: ${cfg.skip} needs skip_to naming a stage that takes records (${names.join(', ')})`,
          { step: step.id, path: 'skip_to' },
        );
      }
    } else if (cfg.skip_to !== undefined) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `skip_to applies only to skip: to_first or to_last, not ${cfg.skip}`,
        {
          step: step.id,
          path: 'skip_to',
        },
      );
    }
    const within = cfg.within === undefined ? Number.POSITIVE_INFINITY : parseDuration(cfg.within, 'within');
    if (!(within > 0)) {
      throw new SluiceError('CONFIG_INVALID', `within must be longer than zero, got '${cfg.within}'`, {
        step: step.id,
        path: 'within',
      });
    }
    if (within === Number.POSITIVE_INFINITY) refuseEndlessAbsence(cfg.stages, stages, absent, step.id);
    const keyFields = cfg.key?.map((text, i) => {
      const e = step.expression(`key[${i}]`);
      if (e.kind !== 'field') {
        throw new SluiceError(
          'CONFIG_INVALID',
          `a pattern key is a field name, not an expression ('${text}'): compute it in a map or use key_by first`,
          { step: step.id, path: `key[${i}]` },
        );
      }
      return e.name;
    });
    const measures = compileMeasures(
      cfg.measures,
      names,
      step.id,
      step.clock,
      step.expression,
      cfg.stages.filter((c) => c.absent === true).map((c) => c.name),
    );
    return Object.assign(
      createPatternOperator({
        stepId: step.id,
        stages,
        absent,
        measures,
        keepRows: trail || measures.some((m) => m.trail),
        ...(accumulators !== undefined ? { accumulators } : {}),
        ...(keyFields ? { keyFields, keyFn: compileKey(cfg.key!.length, step) } : {}),
        within,
        skip: cfg.skip,
        ...(skipStage !== undefined ? { skipStage } : {}),
        timeouts: cfg.timeouts,
      }),
      { onLate: cfg.on_late },
    );
  },
});

/**
 * Refuses, as Flink CEP does, a `notFollowedBy` (relaxed absent stage) that can end the pattern —
 * last, or followed by optional stages only — when there is no `within`: such a match is
 * confirmed only when `within` has passed without a forbidden record.
 */
function refuseEndlessAbsence(
  configs: readonly StageConfig[],
  stages: readonly Stage[],
  absent: readonly (readonly Absence[])[],
  stepId: string,
): void {
  for (let gap = stages.length; gap >= 0; gap--) {
    const relaxed = absent[gap].find((a) => !a.next);
    if (relaxed !== undefined) {
      const i = configs.findIndex((c) => c.name === relaxed.name);
      throw new SluiceError(
        'CONFIG_INVALID',
        `stage '${relaxed.name}' (stages[${i}]) is absent with relaxed contiguity (notFollowedBy) and can end the pattern (no required stage follows it); as in Flink CEP that needs within, since only within passing without such a record confirms the match. Set within, or make a stage after it required`,
        { step: stepId, path: `stages[${i}]` },
      );
    }
    if (gap === 0 || stages[gap - 1].min > 0) return;
  }
}
