/**
 * The options every file-writing sink shares (`format`, `compression`, `partition_by`, `roll`),
 * declared once, and what follows from them: the partition path function and the roll age.
 */

import { parseDuration, SluiceError } from '@sluice/core';
import { type Static, Type } from 'typebox';
import { compilePartitionPath, type PartitionPath, timeTemplateProblem } from './partition.ts';

export const layoutFields = {
  format: Type.Union([Type.Literal('jsonl'), Type.Literal('parquet')], {
    default: 'jsonl',
    description:
      'File format. `jsonl`: one record as JSON per line (`*.jsonl`), sent as it grows. ' +
      '`parquet`: a Parquet file (`*.parquet`; schema inferred from the file’s records: ' +
      'nested objects as structs, arrays as lists, integers as INT64, other numbers as DOUBLE, a field ' +
      'of mixed kinds as text; column statistics on), encoded when the file is finished, so the ' +
      'records of an open file are held in memory up to `roll.max_bytes` of JSON, with the Arrow ' +
      'columns built from them (about as many bytes again, or twice).',
    examples: ['parquet'],
  }),
  compression: Type.Union(
    [Type.Literal('zstd'), Type.Literal('snappy'), Type.Literal('gzip'), Type.Literal('none')],
    {
      default: 'zstd',
      description: 'Compression codec of `parquet` files (ignored for `jsonl`).',
      examples: ['snappy'],
    },
  ),
  partition_by: Type.Optional(
    Type.Object(
      {
        time: Type.Optional(
          Type.String({
            minLength: 1,
            description:
              'Folders from each record’s event time (UTC): text outside braces is kept; inside, ' +
              '`yyyy`, `MM`, `dd`, `HH`, `mm` are its year, month, day, hour and minute.',
            examples: ['dt={yyyy-MM-dd}/hour={HH}'],
          }),
        ),
        fields: Type.Optional(
          Type.Array(Type.String({ minLength: 1 }), {
            minItems: 1,
            description:
              'Fields whose values name further folders, Hive-style (`region=EU`), after the time ' +
              'folders. A NULL or missing value is written `__HIVE_DEFAULT_PARTITION__`; `/`, `=`, ' +
              '`%` and other characters a path cannot hold are escaped as `%XX`.',
            examples: [['region']],
          }),
        ),
      },
      {
        additionalProperties: false,
        minProperties: 1,
        description:
          'Split the files into Hive-style folders (`dt=2026-12-06/hour=13/region=EU/`). ' +
          'Absent: every file directly in the output folder.',
      },
    ),
  ),
  roll: Type.Object(
    {
      max_bytes: Type.Integer({
        minimum: 1,
        default: 134_217_728,
        description: 'Finish a file once it holds this many bytes or more; the next record starts a new one.',
        examples: [67_108_864],
      }),
      max_age: Type.String({
        default: '15m',
        description:
          'Finish a file once it has been open this long (a duration; checked when records ' +
          'arrive). Every checkpoint also finishes the open files.',
        examples: ['5m'],
      }),
    },
    {
      additionalProperties: false,
      default: {},
      description: 'When a file is finished and the next one started.',
    },
  ),
};

const layoutConfig = Type.Object(layoutFields);
export type LayoutConfig = Static<typeof layoutConfig>;

/** What a sink derives from its layout options once, at creation. */
export interface Layout {
  /** The partition folder of a record (empty: none). */
  readonly path: PartitionPath;
  /** `roll.max_age` in milliseconds. */
  readonly maxAge: number;
}

/**
 * Checks the layout options of sink `step` and compiles them. Throws `CONFIG_INVALID` naming the
 * option when `partition_by.time` is not a template.
 */
export function compileLayout(config: LayoutConfig, step: string): Layout {
  const time = config.partition_by?.time;
  const problem = time === undefined ? undefined : timeTemplateProblem(time);
  if (problem !== undefined)
    throw new SluiceError('CONFIG_INVALID', `partition_by.time '${time}' ${problem}`, {
      step,
      path: 'partition_by.time',
    });
  return {
    path: compilePartitionPath(time, config.partition_by?.fields ?? []),
    maxAge: parseDuration(config.roll.max_age, 'roll.max_age'),
  };
}
