/**
 * `SET 'key' = 'value'` statements: the pipeline's name and checkpoint settings, under Flink's
 * configuration keys where Flink has one.
 */

import { defaultSettings, didYouMean, type PipelineSettings, parseDuration, SluiceError } from '@sluice/core';
import type { SetStatement } from './ast.ts';
import type { Positions } from './position.ts';

interface Setting {
  readonly description: string;
  apply(value: string, into: { name: string; settings: PipelineSettings }): void;
}

/** Every key SET takes. */
export const SET_KEYS: { readonly [key: string]: Setting } = {
  'pipeline.name': {
    description: 'the pipeline name, which names its checkpoint folder (default: the script file name)',
    apply(value, into) {
      into.name = value;
    },
  },
  'execution.checkpointing.interval': {
    description: `time between checkpoints, e.g. 10s; 0 disables them (default ${defaultSettings.checkpoint.interval}ms)`,
    apply(value, into) {
      const interval = parseDuration(value, 'execution.checkpointing.interval');
      into.settings = { ...into.settings, checkpoint: { ...into.settings.checkpoint, interval } };
    },
  },
  'state.checkpoints.dir': {
    description: `checkpoint folder, relative to the script's folder (default ${defaultSettings.checkpoint.dir})`,
    apply(value, into) {
      into.settings = { ...into.settings, checkpoint: { ...into.settings.checkpoint, dir: value } };
    },
  },
  'state.checkpoints.num-retained': {
    description: `completed checkpoints to keep (default ${defaultSettings.checkpoint.keep})`,
    apply(value, into) {
      const keep = Number(value);
      if (!Number.isInteger(keep) || keep < 1)
        throw new SluiceError(
          'CONFIG_INVALID',
          `'${value}' is not a count of checkpoints; give a whole number of 1 or more`,
        );
      into.settings = { ...into.settings, checkpoint: { ...into.settings.checkpoint, keep } };
    },
  },
};

/** Applies SET statements in order to the default name and settings; errors at the statement's value. */
export function applySettings(
  statements: readonly SetStatement[],
  name: string,
  positions: Positions,
): { name: string; settings: PipelineSettings } {
  const into = { name, settings: defaultSettings };
  for (const s of statements) {
    const setting = Object.hasOwn(SET_KEYS, s.key) ? SET_KEYS[s.key] : undefined;
    if (setting === undefined) {
      const keys = Object.keys(SET_KEYS);
      const guess = didYouMean(s.key, keys);
      throw positions.error(
        'CONFIG_INVALID',
        s.start,
        `unknown setting '${s.key}'${guess ? ` — did you mean '${guess}'?` : ''}; SET takes ${keys.map((k) => `'${k}' (${SET_KEYS[k].description})`).join(', ')}`,
      );
    }
    try {
      setting.apply(s.value, into);
    } catch (err) {
      if (!(err instanceof SluiceError)) throw err;
      throw positions.error(err.code, s.valueStart, `${s.key}: ${err.message}`);
    }
  }
  return into;
}
