/**
 * The reference of a pipeline file's own sections (top-level keys, ids and inputs, `settings`,
 * `event_time`, `dead_letter`, `late_output`), rendered from the schemas the YAML loader
 * validates with.
 */

import { optionsTable } from './describe.ts';
import {
  eventTimeSchema,
  idPattern,
  pipelineKeys,
  pipelineSections,
  settingsSchema,
  sinkInputSchema,
  stepInputSchema,
} from './plan/json-schema-sections.ts';

/** One field of a dead-letter record. */
export interface DeadLetterFieldDoc {
  readonly name: string;
  /** Whether every dead letter has it. */
  readonly always: boolean;
  readonly description: string;
}

/**
 * The fields of the records written to `dead_letter`, in the order they are written. A test
 * runs a job and compares the records it writes with this list.
 */
export const deadLetterFields: readonly DeadLetterFieldDoc[] = [
  { name: 'step', always: true, description: 'Id of the source, step or sink that rejected the record.' },
  { name: 'code', always: true, description: 'Error code ([errors.md](errors.md)).' },
  { name: 'message', always: true, description: 'What went wrong, and how to fix it.' },
  {
    name: 'payload',
    always: true,
    description: 'The record as the step received it, or the raw text when it could not be decoded.',
  },
  { name: 'source', always: false, description: 'Id of the source the record was read from.' },
  { name: 'partition', always: false, description: 'Source partition, e.g. a file path or `topic/3`.' },
  {
    name: 'offset',
    always: false,
    description: 'Position of the record in its partition (a byte offset, a Kafka offset, an index).',
  },
  { name: 'eventTime', always: false, description: 'Event time of the record, epoch ms, when known.' },
  {
    name: 'kind',
    always: false,
    description:
      'When the record was a change of an updating stream: `update_before`, `update_after` or `delete` (absent for an insert).',
  },
  { name: 'failedAt', always: true, description: 'When it failed: processing time, epoch ms.' },
];

/** A pipeline that uses every section; the page shows it and a test validates and runs it. */
export const pipelineExample = `name: orders-per-region
settings:
  checkpoint: { interval: 30s, dir: ./.sluice/checkpoints, keep: 3 }
  batch_size: 512
  idle_timeout: 10s
sources:
  web:
    type: file
    path: ./web-orders.jsonl
    event_time: { field: ts, max_out_of_orderness: 5s }
  store:
    type: file
    path: ./store-orders.jsonl
    event_time:
      expression: to_timestamp(sold_at)
      max_out_of_orderness: 1m
      idle_timeout: 5m
steps:
  - id: orders
    type: union
    input: [web, store]
  - id: per-region
    type: aggregate
    key: [region]
    window: { type: hopping, size: 10m, slide: 1m }
    fields:
      orders: count(*)
      revenue: sum(amount)
sinks:
  results: { type: file, path: ./out/per-region.jsonl }
  all-orders: { type: file, path: ./out/orders.jsonl, input: orders }
dead_letter: { type: file, path: ./out/dead-letters.jsonl }
late_output: { type: file, path: ./out/late.jsonl }
`;

/** The `description` of a schema, or ''. */
function about(schema: object): string {
  const description: unknown = Reflect.get(schema, 'description');
  return typeof description === 'string' ? description : '';
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

/**
 * The Markdown reference page of pipeline files: what each top-level key holds, the rules of ids
 * and inputs, the options of `settings` and `event_time` with their defaults, where dead letters
 * and late records go and the fields of a dead letter, and an example using every section.
 */
export function describePipelineFile(): string {
  const lines = [
    '# Pipeline files',
    '',
    'A pipeline file is YAML. Its top-level keys:',
    '',
    '| key | required | description |',
    '|---|---|---|',
  ];
  for (const key of pipelineKeys) {
    const section = pipelineSections[key];
    lines.push(`| \`${key}\` | ${section.required ? 'yes' : ''} | ${cell(section.description)} |`);
  }
  lines.push(
    '',
    'The options of each source, step and sink type are in [components.md](components.md) and the connector pages; expressions are described in [expressions.md](expressions.md). Editors that read JSON Schema validate and complete pipeline files with [`schemas/pipeline.schema.json`](../../schemas/pipeline.schema.json).',
    '',
    '## Ids and inputs',
    '',
    `Sources and sinks are maps from id to component; a step has an \`id\` key. Every id matches \`${idPattern}\` and is unique in the file; it names the component in inputs, metrics and checkpoints, so keep it stable.`,
    '',
    '| key | of | description |',
    '|---|---|---|',
    `| \`input\` | a step | ${cell(about(stepInputSchema))} |`,
    `| \`input\` | a sink | ${cell(about(sinkInputSchema))} |`,
    `| \`event_time\` | a source | ${cell(about(eventTimeSchema))} See below. |`,
    '',
    '## `settings`',
    '',
    about(settingsSchema),
    '',
    optionsTable(settingsSchema),
    '',
    '## `event_time`',
    '',
    `A key of a source. ${about(eventTimeSchema)}`,
    '',
    optionsTable(eventTimeSchema),
    '',
    '## `dead_letter`',
    '',
    pipelineSections.dead_letter.description,
    '',
    'Each dead letter is one record with these fields:',
    '',
    '| field | always | description |',
    '|---|---|---|',
    ...deadLetterFields.map((f) => `| \`${f.name}\` | ${f.always ? 'yes' : ''} | ${cell(f.description)} |`),
    '',
    '## `late_output`',
    '',
    pipelineSections.late_output.description,
    '',
    '## Example',
    '',
    '```yaml',
    pipelineExample.trimEnd(),
    '```',
    '',
  );
  return lines.join('\n');
}
