/**
 * The `sql` step: a query over the streams a YAML or TypeScript pipeline names as its inputs,
 * planned by this package into the steps the same query in a `.sql` script gives (issue 11: "a
 * `sql` step in YAML runs a query over the named inputs"). Each input is a table named by its id,
 * whose columns are its schema's fields (or the step's `columns`), and whose time attribute is
 * the field a source read the event time from (or the step's `time_columns`): the records keep
 * their event times, so windows, interval joins and OVER work on them as on a table's.
 *
 * The step stands for the steps it plans (`StepSpec.expand`): plan resolution replaces it by them
 * before anything else, the last taking the step's id, so the rest of the pipeline reads it as
 * any step. Nothing of it runs of its own.
 */

import {
  CHANGELOG_MODES,
  defineSink,
  defineSource,
  defineStep,
  type ExpandContext,
  type Plan,
  type PlanStep,
  type Plugin,
  Registry,
  SluiceError,
} from '@sluice/core';
import Type, { type Static } from 'typebox';
import { compileQuery } from './index.ts';

const INPUT = '_sql_step_input';
const OUTPUT = '_sql_step_output';

const config = Type.Object(
  {
    query: Type.String({
      description:
        'A SELECT (with WITH, joins, windows, GROUP BY, … as in a `.sql` script) over the inputs, each a table named by its id.',
      examples: ['SELECT region, count(*) AS orders FROM orders WHERE amount > 0 GROUP BY region'],
    }),
    columns: Type.Optional(
      Type.Record(Type.String(), Type.Array(Type.String(), { minItems: 1 }), {
        description:
          "Per input, its columns, where its schema does not list them (a JSON file source's): `{ orders: [region, amount, ts] }`. An input's known schema gives them otherwise.",
      }),
    ),
    time_columns: Type.Optional(
      Type.Record(Type.String(), Type.String(), {
        description:
          "Per input, the column that is its time attribute (what DESCRIPTOR(…) of a window and an interval join's BETWEEN name): `{ orders: ts }`. Default: the field a source input reads its event time from. Windows and joins use the event time the records carry (their source's), so the column named must hold that time, as a step that passes the source's field on does.",
      }),
    ),
  },
  { additionalProperties: false },
);

/** The internal source and sink types a step's query is compiled with; no pipeline names them. */
const internal = [
  defineSource({
    type: INPUT,
    summary: 'An input of a `sql` step, while its query is planned (never run).',
    delivery: 'exactly-once',
    config: Type.Object({}, { additionalProperties: true }),
    create() {
      throw new SluiceError('INTERNAL', 'an input of a sql step was run');
    },
  }),
  defineSink({
    type: OUTPUT,
    summary: 'The output of a `sql` step, while its query is planned (never run).',
    delivery: 'at-least-once',
    changelog: { consumes: () => CHANGELOG_MODES, hint: '' },
    config: Type.Object({}, { additionalProperties: true }),
    create() {
      throw new SluiceError('INTERNAL', 'the output of a sql step was run');
    },
  }),
];

/** A SQL type for a field of a schema: what the planner reads of it is its name and kind. */
function sqlType(type: ExpandContext['inputSchemas'][number]['fields'][number]['type']): string {
  switch (type) {
    case 'number':
      return 'DOUBLE';
    case 'boolean':
      return 'BOOLEAN';
    case 'timestamp':
      return 'BIGINT';
    default:
      return 'STRING';
  }
}

const quote = (name: string) => `\`${name.replaceAll('`', '``')}\``;

type Config = Static<typeof config>;

/** The steps a `sql` step stands for. */
export function expandSql(cfg: Config, ctx: ExpandContext): PlanStep[] {
  const tables: string[] = [];
  ctx.inputs.forEach((input, i) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(input))
      throw new SluiceError(
        'CONFIG_INVALID',
        `the input '${input}' cannot be a table of the query: a sql step reads steps and sources whose ids are SQL names (letters, digits, '_'), not side outputs`,
        { step: ctx.step, path: 'input' },
      );
    const schema = ctx.inputSchemas[i];
    const given = cfg.columns?.[input];
    const columns = given ?? schema.fields.map((f) => f.name);
    if (columns.length === 0)
      throw new SluiceError(
        'CONFIG_INVALID',
        `the columns of '${input}' are not known from its schema: list them, e.g. columns: { ${input}: [a, b, ts] }`,
        { step: ctx.step, path: 'columns' },
      );
    const types = new Map(schema.fields.map((f) => [f.name, sqlType(f.type)]));
    const time = cfg.time_columns?.[input] ?? ctx.inputTimeFields[i];
    const declared = columns.map((c) => `${quote(c)} ${types.get(c) ?? 'STRING'}`);
    if (time !== undefined && columns.includes(time))
      declared.push(`WATERMARK FOR ${quote(time)} AS ${quote(time)} - INTERVAL '0' SECOND`);
    else if (cfg.time_columns?.[input] !== undefined)
      throw new SluiceError(
        'CONFIG_INVALID',
        `'${time}' is no column of '${input}' (${columns.join(', ')})`,
        {
          step: ctx.step,
          path: `time_columns.${input}`,
        },
      );
    tables.push(`CREATE TABLE ${quote(input)} (${declared.join(', ')}) WITH ('connector' = '${INPUT}');`);
  });
  for (const name of Object.keys({ ...cfg.columns, ...cfg.time_columns }))
    if (!ctx.inputs.includes(name))
      throw new SluiceError(
        'CONFIG_INVALID',
        `'${name}' is no input of the step (${ctx.inputs.join(', ')})`,
        {
          step: ctx.step,
          path: cfg.columns?.[name] !== undefined ? `columns.${name}` : `time_columns.${name}`,
        },
      );
  // The query starts on a line of its own, so that its errors' lines are the query's.
  const head = `${tables.join('\n')}\nINSERT INTO ${quote(ctx.step)}\n`;
  const registry = new Registry([
    { name: 'pipeline', components: ctx.registry.all() },
    { name: 'sql-step', components: internal },
  ]);
  let plan: Plan;
  try {
    plan = compileQuery(`${head}${cfg.query}`, `${ctx.step}.sql`, { registry, into: ctx.step, sink: OUTPUT });
  } catch (err) {
    if (!(err instanceof SluiceError)) throw err;
    const lines = head.split('\n').length - 1;
    const at =
      err.line !== undefined && err.line > lines
        ? ` (line ${err.line - lines}, column ${err.column ?? 1} of the query)`
        : '';
    throw new SluiceError(err.code, `${err.message}${at}`, { step: ctx.step, path: 'query', cause: err });
  }
  return stepsOf(plan, ctx);
}

/** The compiled plan's steps, its output under the step's id. */
function stepsOf(plan: Plan, ctx: ExpandContext): PlanStep[] {
  const output = plan.sinks[0].input;
  const steps = plan.steps.map(({ expressions: _e, ...s }) => s as PlanStep);
  const last = steps.find((s) => s.id === output);
  const readers = steps.filter((s) => s.inputs.includes(output)).length;
  if (last !== undefined && readers === 0) {
    // The last step takes the step's id; nothing else read it by the old one.
    return steps.map((s) => (s === last ? { ...s, id: ctx.step } : s));
  }
  // The query gives an input as it is, or a step something else reads too: a pass-through.
  return [...steps, { id: ctx.step, type: 'filter', inputs: [output], config: { where: 'TRUE' } }];
}

export const sqlStep = defineStep({
  type: 'sql',
  summary: 'Runs a SQL query over the step’s inputs, each a table named by its id.',
  description:
    'The query is planned as in a `.sql` script (see the SQL front end): the step stands for the steps it plans, the last taking its id. An input is a table whose columns are its schema’s fields (or `columns`) and whose time attribute is the field its source reads the event time from (or `time_columns`). The output is what the query gives: append-only, or a changelog for an updating query (a GROUP BY without a window, a regular join), which a sink must then take.',
  config,
  example: [
    'type: sql',
    'input: [orders]',
    'columns: { orders: [region, amount, ts] }',
    'query: >',
    '  SELECT region, count(*) AS orders, sum(amount) AS revenue',
    '  FROM orders WHERE amount > 100 GROUP BY region',
  ].join('\n'),
  expand: expandSql,
  create() {
    throw new SluiceError('INTERNAL', 'a sql step is replaced by the steps it plans before a job runs');
  },
});

/** The `sql` step, for a registry (`new Registry([builtins, sql])`) or the CLI. */
export const sql: Plugin = { name: 'sql', components: [sqlStep] };
