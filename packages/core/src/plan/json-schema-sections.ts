/**
 * TypeBox schemas of the pipeline file's own sections (settings, event_time, inputs, ids): the
 * YAML loader validates against them and `pipelineJsonSchema` embeds them, so both agree.
 * Defaults come from `defaultSettings`, never written twice.
 */

import { Type } from 'typebox';
import { byteSizePattern, formatByteSize } from '../byte-size.ts';
import { formatDuration } from '../time.ts';
import { defaultSettings } from './plan.ts';

/** Keys a pipeline file may have at the top level, in the order they are documented. */
export const pipelineKeys = [
  'name',
  'settings',
  'sources',
  'steps',
  'sinks',
  'dead_letter',
  'late_output',
] as const;

/**
 * What each top-level key of a pipeline file holds, and whether a file must have it: the editor
 * schema and the reference page (`describePipelineFile`) both say it from here.
 */
export const pipelineSections: {
  readonly [key in (typeof pipelineKeys)[number]]: {
    readonly required: boolean;
    readonly description: string;
  };
} = {
  name: {
    required: true,
    description:
      'Name of the pipeline. Its checkpoints are kept under `<settings.checkpoint.dir>/<name>/`, so two pipelines with one checkpoint folder need different names.',
  },
  settings: { required: false, description: 'Pipeline-wide settings; every one has a default.' },
  sources: {
    required: true,
    description: 'Sources by id. The id names the source in inputs and its offsets in checkpoints.',
  },
  steps: {
    required: false,
    description: 'Steps in order; each reads the previous step unless it names an `input`.',
  },
  sinks: {
    required: true,
    description: 'Sinks by id; each writes the last step unless it names an `input`.',
  },
  dead_letter: {
    required: false,
    description:
      'A sink of any type for records that fail (decode, event time, validation, expressions, sink rejections), each wrapped with the step, error code and reason. Without it the first few are logged and the rest dropped (still counted).',
  },
  late_output: {
    required: false,
    description:
      'A sink of any type for late records — behind the watermark when they arrive, e.g. after their window closed or at or behind it in a `dedupe` (steps with `on_late: late_output`, the default) — written as they were read. Without it late records go to `dead_letter` with code LATE_RECORD.',
  },
};

/** Description of a step's `id`. */
export const stepIdDescription = 'Stable id: names the step in inputs, metrics and its state in checkpoints.';

/** Keys of a source, step or sink that are not part of the component's own config. */
export const reservedComponentKeys = ['type', 'id', 'input', 'event_time'] as const;

/** Pattern of source, step and sink ids: they name state in checkpoints, so they stay plain. */
export const idPattern = '^[A-Za-z_][A-Za-z0-9_-]*$';

/**
 * Pattern of an `input`: an id, or `<step id>.<port>` for a side output of a step (ids hold no
 * dots, so the dot is unambiguous).
 */
export const inputPattern = '^[A-Za-z_][A-Za-z0-9_-]*(?:\\.[A-Za-z_][A-Za-z0-9_]*)?$';

/** Pattern of the text durations `parseDuration` accepts. */
export const durationPattern = '^\\s*(?:\\d+(?:\\.\\d+)?|(?:\\d+(?:\\.\\d+)?(?:ms|s|m|h|d))+)\\s*$';

/** Builds the schema of a duration option (text with a unit, or milliseconds as a number). */
export function durationSchema(options: { description: string; default?: number }) {
  return Type.Union([Type.String({ pattern: durationPattern }), Type.Number({ minimum: 0 })], {
    title: 'duration',
    examples: ['500ms', '5s', '1m'],
    description: `${options.description} A number with a unit (ms, s, m, h, d), or milliseconds.`,
    ...(options.default === undefined ? {} : { default: formatDuration(options.default) }),
  });
}

/** `event_time` of a source. */
export const eventTimeSchema = Type.Object(
  {
    field: Type.Optional(
      Type.String({ minLength: 1, description: 'Field holding the event time (epoch ms or ISO-8601 text).' }),
    ),
    expression: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'SQL expression computing the event time, e.g. to_timestamp(created).',
      }),
    ),
    max_out_of_orderness: Type.Optional(
      durationSchema({
        description: 'How far records may arrive out of order: watermark = max event time seen minus this.',
        default: 0,
      }),
    ),
    idle_timeout: Type.Optional(
      durationSchema({
        description:
          'A partition with no record for this long stops holding the watermark back (default: settings.idle_timeout).',
      }),
    ),
  },
  {
    additionalProperties: false,
    not: { required: ['field', 'expression'] },
    description:
      'Where the event time of each record comes from: `field` or `expression` (not both); with neither, the times the source gives its records (a Kafka message timestamp, a Nexmark event’s dateTime), so that `max_out_of_orderness` and `idle_timeout` can be set for them. Without `event_time` a source uses its own times where it has them and processing time (when the record was read) elsewhere, with no out-of-orderness. A record whose time is missing or invalid goes to dead letters (EVENT_TIME_INVALID).',
  },
);

/** `settings` of a pipeline. */
export const settingsSchema = Type.Object(
  {
    checkpoint: Type.Optional(
      Type.Object(
        {
          interval: Type.Optional(
            durationSchema({
              description: 'Time between checkpoints; 0 disables periodic checkpoints.',
              default: defaultSettings.checkpoint.interval,
            }),
          ),
          dir: Type.Optional(
            Type.String({
              minLength: 1,
              default: defaultSettings.checkpoint.dir,
              description:
                "Folder of checkpoints, relative to the pipeline file's folder; a pipeline's checkpoints go to `<dir>/<name>/`.",
            }),
          ),
          keep: Type.Optional(
            Type.Integer({
              minimum: 1,
              default: defaultSettings.checkpoint.keep,
              description: 'How many completed checkpoints to keep.',
            }),
          ),
        },
        { additionalProperties: false, description: 'Periodic consistent snapshots of the pipeline.' },
      ),
    ),
    batch_size: Type.Optional(
      Type.Integer({
        minimum: 1,
        default: defaultSettings.batchSize,
        description: 'Most records a source read returns.',
      }),
    ),
    idle_timeout: Type.Optional(
      durationSchema({
        description: 'Default idle timeout of source partitions.',
        default: defaultSettings.idleTimeout,
      }),
    ),
    sink_queue_records: Type.Optional(
      Type.Integer({
        minimum: 1,
        default: defaultSettings.sinkQueueRecords,
        description: 'Records a sink may have queued before sources pause (backpressure).',
      }),
    ),
    sink_queue_bytes: Type.Optional(
      Type.String({
        pattern: byteSizePattern,
        default: formatByteSize(defaultSettings.sinkQueueBytes),
        description:
          'Bytes a sink may have queued before sources pause (e.g. `64mb`): a record counts the length ' +
          'of the text it was read from, else an estimate of its JSON size.',
      }),
    ),
  },
  { additionalProperties: false, description: 'Pipeline-wide settings; every one has a default.' },
);

/** `input` of a step: one id or a list of ids. */
export const stepInputSchema = Type.Union(
  [
    Type.String({ pattern: inputPattern }),
    Type.Array(Type.String({ pattern: inputPattern }), { minItems: 1, uniqueItems: true }),
  ],
  {
    description:
      'Id of the source or step (or a list of them) this step reads, or `<step id>.<port>` for a side output of a step (`detect.timeouts`); default: the previous step, or the only source.',
  },
);

/** `input` of a sink: one id. */
export const sinkInputSchema = Type.String({
  pattern: inputPattern,
  description:
    'Id of the source or step whose output this sink writes, or `<step id>.<port>` for a side output of a step; default: the last step, or the only source.',
});
