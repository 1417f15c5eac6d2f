/**
 * Options and checkpoint state of the `file` sink: the config schema (the only place defaults
 * live) and the state `prepareCommit` returns, checked when it is restored.
 */

import { basename, isAbsolute } from 'node:path';
import Type, { type Static } from 'typebox';
import { SluiceError } from '../errors.ts';
import { changelogFields } from './changelog-format.ts';
import { encodeFields } from './format-options.ts';

/** Config schema of the `file` sink. */
export const fileSinkConfig = Type.Object(
  {
    path: Type.String({
      minLength: 1,
      description:
        'File to write, relative to the pipeline file; its folder is created. With `roll`, the ' +
        'name of the parts: `./out/results.jsonl` gives `./out/results-<yyyyMMddHHmmss>-<seq>.jsonl`.',
      examples: ['./out/results.jsonl'],
    }),
    ...encodeFields,
    ...changelogFields,
    roll: Type.Optional(
      Type.Object(
        {
          max_bytes: Type.Optional(
            Type.Integer({
              minimum: 1,
              description:
                'Start a new part before a record would take the current one past this many bytes.',
              examples: [134_217_728],
            }),
          ),
          interval: Type.Optional(
            Type.String({
              description:
                'Start a new part once the current one has been open this long (a duration); checked when ' +
                'records arrive and at checkpoints.',
              examples: ['15m'],
            }),
          ),
        },
        {
          additionalProperties: false,
          minProperties: 1,
          description:
            'Split the output into parts by size and/or age. Absent: one file, named exactly `path`.',
        },
      ),
    ),
  },
  { additionalProperties: false },
);

/** Options of the `file` sink, defaults applied. */
export type FileSinkConfig = Static<typeof fileSinkConfig>;

/**
 * What the `file` sink checkpoints (`prepareCommit`): the target, the part being written and its
 * durable length, the finished parts not yet published, the next part number and the CSV
 * columns. File names are relative to the target's folder.
 */
export interface FileSinkState {
  /** Absolute path of the configured target when the checkpoint was taken (absent before it was recorded). */
  target?: string;
  inProgress: { path: string; length: number } | null;
  pending: string[];
  nextSeq: number;
  columns?: string[];
}

/** Checks a restored state; CHECKPOINT_INCOMPATIBLE when it is not one this sink wrote. */
export function checkState(restored: unknown, step: string): FileSinkState {
  const s = (typeof restored === 'object' && restored !== null ? restored : {}) as Partial<FileSinkState>;
  const part = s.inProgress;
  const isName = (name: unknown) => typeof name === 'string' && name !== '' && basename(name) === name;
  const ok =
    Array.isArray(s.pending) &&
    s.pending.every(isName) &&
    Number.isSafeInteger(s.nextSeq) &&
    (part === null || (isName(part?.path) && Number.isSafeInteger(part?.length) && part!.length >= 0)) &&
    (s.columns === undefined ||
      (Array.isArray(s.columns) && s.columns.every((c) => typeof c === 'string'))) &&
    (s.target === undefined || (typeof s.target === 'string' && isAbsolute(s.target)));
  if (!ok) {
    throw new SluiceError(
      'CHECKPOINT_INCOMPATIBLE',
      `checkpointed state ${JSON.stringify(restored)} is not a file sink state; restart with --from-scratch`,
      { step },
    );
  }
  return s as FileSinkState;
}
