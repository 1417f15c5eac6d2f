/**
 * `SET 'key' = 'value'` statements: the pipeline's name and checkpoint settings, under Flink's
 * configuration keys where Flink has one.
 */

import { defaultSettings, didYouMean, type PipelineSettings, parseDuration, SluiceError } from '@sluice/core';
import type { SetStatement } from './ast.ts';
import type { Positions } from './position.ts';

/** What SET statements set: the pipeline's name and settings, and the state TTL of its steps. */
export interface ScriptSettings {
  name: string;
  settings: PipelineSettings;
  /** `table.exec.state.ttl`: the `ttl` of every step that would otherwise keep its state forever. */
  stateTtl?: string;
}

interface Setting {
  readonly description: string;
  apply(value: string, into: ScriptSettings): void;
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
  'table.exec.state.ttl': {
    description:
      "how long a step keeps the state of a key it has not written, for the steps that would keep it forever (GROUP BY without a window, ROW_NUMBER() top-N and deduplication, regular joins), e.g. '1 h'; 0 keeps it forever (the default)",
    apply(value, into) {
      const ttl = value.trim().replace(/\s+/g, '');
      if (parseDuration(ttl, 'table.exec.state.ttl') === 0) delete into.stateTtl;
      else into.stateTtl = ttl;
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
): ScriptSettings {
  const into: ScriptSettings = { name, settings: defaultSettings };
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
