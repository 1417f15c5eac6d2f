/**
 * Options of the `generate` source: the schema (the only place defaults live) and their checked,
 * parsed form.
 */

import Type, { type Static } from 'typebox';
import { SluiceError } from '../errors.ts';
import { parseDuration, toEpochMillis } from '../time.ts';
import { type TemplateName, templates } from './templates.ts';

const fraction = (description: string) =>
  Type.Number({ minimum: 0, maximum: 1, default: 0, description, examples: [0.01] });

/** Config schema of the `generate` source. */
export const generateConfig = Type.Object(
  {
    template: Type.Enum(['orders', 'clicks', 'sensors'], {
      description: 'Shape of the records: `orders`, `clicks` or `sensors` (see the description).',
      examples: ['orders'],
    }),
    count: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: 'Total records to produce, then the input ends. Absent: the input never ends.',
        examples: [1_000_000],
      }),
    ),
    rate: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        description:
          'Records per second of processing time, over all partitions. Absent: as fast as they are read.',
        examples: [1000],
      }),
    ),
    seed: Type.Integer({
      default: 42,
      description: 'Seed of the random values; the same seed gives the same records.',
      examples: [7],
    }),
    partitions: Type.Integer({
      minimum: 1,
      default: 1,
      description:
        'Number of partitions (`p0`, `p1`, …); record `i` belongs to partition `i mod partitions`.',
      examples: [4],
    }),
    start_time: Type.Union([Type.String(), Type.Integer()], {
      default: '2026-01-01T00:00:00Z',
      description: 'Event time of record 0: ISO-8601 text or epoch milliseconds.',
      examples: ['2026-01-01T00:00:00Z', 1767225600000],
    }),
    time_step: Type.String({
      default: '10ms',
      description: 'Event time between consecutive records (a duration).',
      examples: ['1ms', '1s'],
    }),
    keys: Type.Optional(
      Type.Integer({
        minimum: 1,
        description:
          'Number of distinct keys: regions for `orders` (default 8), users for `clicks` (default ' +
          '1000), sensors for `sensors` (default 100).',
        examples: [16],
      }),
    ),
    malformed: fraction(
      'Fraction of records made invalid: a field of the wrong type or a missing required field, ' +
        'which schema validation should reject. `seq` and `ts` stay valid.',
    ),
    late: fraction('Fraction of records whose event time is pushed back by `late_by`.'),
    late_by: Type.String({
      default: '2m',
      description: 'How far back late records are pushed (a duration).',
      examples: ['5m'],
    }),
    out_of_order: fraction('Fraction of records whose event time is pushed back by up to `jitter`.'),
    jitter: Type.String({
      default: '2s',
      description: 'Largest shift back of out-of-order records (a duration).',
      examples: ['500ms'],
    }),
  },
  { additionalProperties: false },
);

/** Options of the `generate` source, defaults applied. */
export type GenerateConfig = Static<typeof generateConfig>;

/** The per-record settings of a generator, parsed and checked. */
export interface GeneratorSettings {
  readonly template: TemplateName;
  readonly seed: number;
  /** Event time of record 0, epoch ms. */
  readonly startTime: number;
  readonly timeStep: number;
  readonly keys: number;
  readonly malformed: number;
  readonly late: number;
  readonly lateBy: number;
  readonly outOfOrder: number;
  readonly jitter: number;
}

/** Parses durations and times of a complete config; throws CONFIG_INVALID naming the field. */
export function generatorSettings(config: GenerateConfig): GeneratorSettings {
  const startTime = toEpochMillis(config.start_time);
  if (Number.isNaN(startTime)) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `start_time '${config.start_time}' is not a timestamp; write ISO-8601 text or epoch milliseconds`,
      { path: 'start_time' },
    );
  }
  const faults = config.malformed + config.late + config.out_of_order;
  if (faults > 1) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `malformed + late + out_of_order is ${faults}; the fractions are exclusive and must add up to at most 1`,
      { path: 'malformed' },
    );
  }
  return {
    template: config.template,
    seed: config.seed,
    startTime,
    timeStep: parseDuration(config.time_step, 'time_step'),
    keys: config.keys ?? templates[config.template].defaultKeys,
    malformed: config.malformed,
    late: config.late,
    lateBy: parseDuration(config.late_by, 'late_by'),
    outOfOrder: config.out_of_order,
    jitter: parseDuration(config.jitter, 'jitter'),
  };
}
