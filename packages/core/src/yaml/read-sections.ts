/**
 * The pipeline file's own sections: `settings` and a source's `event_time`.
 */

import type { Static } from 'typebox';
import { parseByteSize } from '../byte-size.ts';
import { validateConfig } from '../plan/config.ts';
import { joinPath } from '../plan/config-path.ts';
import { eventTimeSchema, settingsSchema } from '../plan/json-schema-sections.ts';
import { defaultSettings, type EventTimeConfig, type PipelineSettings } from '../plan/plan.ts';
import { parseDuration } from '../time.ts';
import { type BuildContext, report, reportConfigIssues, variablesUnder } from './build-context.ts';

/** Reads `settings` (absent or empty: the defaults), durations in milliseconds. */
export function readSettings(ctx: BuildContext, raw: unknown): PipelineSettings {
  if (raw === undefined || raw === null) return defaultSettings;
  const result = validateConfig<Static<typeof settingsSchema>>(
    settingsSchema,
    raw,
    variablesUnder(ctx, 'settings'),
  );
  if (!result.ok) {
    reportConfigIssues(ctx, 'settings', result.issues);
    return defaultSettings;
  }
  const s = result.value;
  const base = defaultSettings;
  return {
    checkpoint: {
      interval:
        duration(ctx, s.checkpoint?.interval, 'settings.checkpoint.interval') ?? base.checkpoint.interval,
      dir: s.checkpoint?.dir ?? base.checkpoint.dir,
      keep: s.checkpoint?.keep ?? base.checkpoint.keep,
    },
    batchSize: s.batch_size ?? base.batchSize,
    idleTimeout: duration(ctx, s.idle_timeout, 'settings.idle_timeout') ?? base.idleTimeout,
    sinkQueueRecords: s.sink_queue_records ?? base.sinkQueueRecords,
    sinkQueueBytes:
      s.sink_queue_bytes === undefined ? base.sinkQueueBytes : parseByteSize(s.sink_queue_bytes),
  };
}

/** Reads a source's `event_time` at `path`; undefined when absent (processing time) or invalid. */
export function readEventTime(
  ctx: BuildContext,
  path: string,
  raw: unknown,
  step: string,
): EventTimeConfig | undefined {
  if (raw === undefined || raw === null) return undefined;
  const result = validateConfig<Static<typeof eventTimeSchema>>(
    eventTimeSchema,
    raw,
    variablesUnder(ctx, path),
  );
  if (!result.ok) {
    reportConfigIssues(ctx, path, result.issues, step);
    return undefined;
  }
  const e = result.value;
  const out: EventTimeConfig = {
    maxOutOfOrderness:
      duration(ctx, e.max_out_of_orderness, joinPath(path, 'max_out_of_orderness'), step) ?? 0,
  };
  if (e.field !== undefined) out.field = e.field;
  if (e.expression !== undefined) out.expression = e.expression;
  const idle = duration(ctx, e.idle_timeout, joinPath(path, 'idle_timeout'), step);
  if (idle !== undefined) out.idleTimeout = idle;
  return out;
}

function duration(ctx: BuildContext, value: string | number | undefined, path: string, step?: string) {
  if (value === undefined) return undefined;
  try {
    return parseDuration(value, path);
  } catch (err) {
    report(ctx, 'CONFIG_INVALID', path, (err as Error).message, step);
    return undefined;
  }
}
