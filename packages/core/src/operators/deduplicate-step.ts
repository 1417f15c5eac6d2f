/**
 * The `deduplicate` step (YAML): the first or the last row per key, as Flink SQL's deduplication.
 */

import Type from 'typebox';
import { defineStep } from '../spec.ts';
import { createDeduplicate } from './deduplicate.ts';
import { compileKey, keyExpressions, keyOwn, rankedBy } from './key-by.ts';
import { parseTtl, ttlDescription } from './state-ttl.ts';

export const deduplicateStep = defineStep({
  type: 'deduplicate',
  summary: 'Keeps the first or the last row per key: the first as an insert, the last as an updating result.',
  description:
    'What `ROW_NUMBER() OVER (PARTITION BY key ORDER BY time ASC|DESC) = 1` gives in Flink SQL. Records are partitioned by `key` (else the key of an upstream `key_by`, else the whole stream is one key) and ordered by event time (`time: event`) or by arrival (`time: processing`).\n\n' +
    '`keep: first` emits the first row of each key once, as an insert, and counts later rows of the key as filtered, so its output is append-only. In processing time the first row to arrive passes at once. In event time the row with the earliest event time wins (ties: the one that arrived first) and is emitted when the watermark reaches its time — only then can no earlier row come — so the output waits for the watermark, as in current Flink (FLINK-37005); a record at or behind the watermark is late and goes where `on_late` says.\n\n' +
    '`keep: last` keeps the latest row of each key and emits a changelog (retract mode): the first row of a key as an insert, then each row that replaces it as an update-before of the old row followed by an update-after of the new one (nothing when the two rows are equal). In processing time every new row replaces; in event time a row replaces when its time is not before the kept row’s (ties: the later arrival wins) and is counted as filtered otherwise. No record is late: the kept row is there to compare with. Only steps and sinks that take updates may follow: record-by-record steps and sinks with a `changelog` option.\n\n' +
    'Each change takes the event time of the record that caused it. A record whose key expression fails goes to the dead-letter output. Unlike `dedupe`, which drops repeats within a time horizon and forgets a key once the horizon passes, `deduplicate` keeps each key for the life of the job unless `ttl` bounds it.',
  config: Type.Object(
    {
      key: Type.Optional(
        Type.Array(Type.String(), {
          minItems: 1,
          description:
            'SQL expressions forming the key (usually field names). Default: the key_by key, or one key for the whole stream.',
          examples: [['order_id']],
        }),
      ),
      keep: Type.Union([Type.Literal('first'), Type.Literal('last')], {
        description:
          'Which row of each key to keep: `first` (an append-only stream of each key’s first row) or `last` (an updating stream of each key’s latest row).',
        examples: ['last'],
      }),
      time: Type.Union([Type.Literal('event'), Type.Literal('processing')], {
        description:
          'Order rows by event time (`first` then waits for the watermark) or by arrival (`first` passes at once).',
        default: 'event',
      }),
      ttl: Type.Optional(
        Type.String({
          description: ttlDescription(
            'With `keep: first` the emitted row writes the state, and later rows of the key do not, so a key is forgotten `ttl` after its first row however many duplicates follow (rows waiting for the watermark are never forgotten); a forgotten key’s next row is emitted again as its first. With `keep: last` each row that replaces writes it; a forgotten key’s next row is an insert, while the row emitted before stays downstream (an upsert sink keyed by the key replaces it).',
          ),
          examples: ['1h'],
        }),
      ),
      on_late: Type.Union([Type.Literal('late_output'), Type.Literal('dead_letter'), Type.Literal('drop')], {
        description:
          'With `keep: first` in event time, where records at or behind the watermark go: the pipeline’s late_output (dead letters if it has none), dead letters, or nowhere (counted as late). Such a record cannot be judged: the first row of its key may already have been emitted. Not used otherwise.',
        default: 'late_output',
      }),
    },
    { additionalProperties: false },
  ),
  // Where late records go, and when keys are forgotten, do not shape the state.
  state: ['key', 'keep', 'time'],
  changelog: (cfg) =>
    cfg.keep === 'last'
      ? {
          consumes: ['append'],
          produces: 'retract',
          reason:
            'with `keep: last` each new row of a key replaces the one emitted before (an update-before of it, then an update-after); use `keep: first` for an append-only stream',
        }
      : { consumes: ['append'], produces: 'append' },
  example: 'type: deduplicate\nkey: [order_id]\nkeep: last\ntime: event\nttl: 1h',
  expressions: (cfg) => keyExpressions(cfg.key),
  schema(cfg, [input], ctx) {
    for (const i of (cfg.key ?? []).keys()) ctx.check(`key[${i}]`, input);
    return input;
  },
  // Each key has one row: the first (an insert) or the latest (an update-before of the row it
  // replaces, then an update-after). Its rows are input records, so the input's unique keys hold too.
  key(cfg, [input], ctx) {
    const own = cfg.key === undefined ? undefined : keyOwn(cfg.key, ctx.expression);
    const { partition, by } = rankedBy(own, input);
    if (by === undefined) return {};
    const unique = [...(input.unique ?? [])];
    if (by.kind === 'fields') unique.push([...by.fields]);
    else if (by.kind === 'none') unique.push([]);
    return partition === undefined ? { unique } : { partition, unique };
  },
  create(cfg, step) {
    const ttl = parseTtl(cfg.ttl, step.id);
    const operator = createDeduplicate({
      stepId: step.id,
      ...(cfg.key ? { keyFn: compileKey(cfg.key.length, step) } : {}),
      keep: cfg.keep,
      time: cfg.time,
      ...(ttl !== undefined ? { ttl } : {}),
    });
    return Object.assign(operator, { onLate: cfg.on_late });
  },
});
