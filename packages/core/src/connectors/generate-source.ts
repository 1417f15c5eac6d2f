/**
 * The `generate` source: synthetic orders, clicks or sensor readings, deterministic per seed,
 * resumable, with optional rate limit and injected faults.
 */

import type { SourceContext, SourceReader } from '../connector.ts';
import { defineSource } from '../spec.ts';
import { generateConfig, generatorSettings } from './generate-config.ts';
import { RecordGenerator } from './generate-record.ts';
import { openIndexedReaders } from './indexed-source.ts';
import { templates } from './templates.ts';

/** The `generate` source spec. */
export const generateSource = defineSource({
  type: 'generate',
  delivery: 'exactly-once',
  // Every option shapes the records but how many there are and how fast they come.
  identity: (Object.keys(generateConfig.properties) as (keyof typeof generateConfig.properties)[]).filter(
    (option) => option !== 'count' && option !== 'rate',
  ),
  summary: 'Generates synthetic orders, clicks or sensor readings, deterministically from a seed.',
  description: [
    'Produces records from a template, each a pure function of the seed and its index, so a run is',
    'reproducible and a restarted job produces exactly the records an uninterrupted one would.',
    'Every record has `seq` (its index, from 0) and `ts` (its event time, epoch ms:',
    '`start_time + seq × time_step`, minus any injected lateness); the batch times are `ts` and the',
    'offsets are `seq`.',
    '',
    `- \`orders\`: ${templates.orders.description}`,
    `- \`clicks\`: ${templates.clicks.description}`,
    `- \`sensors\`: ${templates.sensors.description}`,
    '',
    'Partition `p<k>` produces the records whose index is `k` modulo `partitions`; its position is',
    '`{ next: <index> }`. With `count` the input ends after that many records in all (`bounded`);',
    'without it the input never ends. With `rate`, each partition produces `rate / partitions`',
    'records per second of processing time (after a stall it catches up at most one second of',
    'records); without it, every read returns a full batch.',
    '',
    'Fault injection, each a fraction of records, exclusive of each other: `malformed` records have',
    'a field of the wrong type or miss a required field (for `orders`: `amount: "abc"`, no `region`,',
    '`customer_id: null` or `items: "two"`) for schema validation to reject; `late` records are',
    '`late_by` older than their place in the stream; `out_of_order` records up to `jitter` older.',
  ].join('\n'),
  example: [
    'type: generate',
    'template: orders',
    'count: 1000000',
    'partitions: 4',
    'out_of_order: 0.05',
    'late: 0.01',
    'malformed: 0.001',
  ].join('\n'),
  config: generateConfig,
  bounded: (config) => config.count !== undefined,
  create(config) {
    const settings = generatorSettings(config);
    const partitions = config.partitions;
    const options = {
      partitions,
      end: config.count ?? Number.POSITIVE_INFINITY,
      rate: (config.rate ?? 0) / partitions,
      generator: () => new RecordGenerator(settings),
    };
    return {
      async open(ctx: SourceContext): Promise<SourceReader[]> {
        return openIndexedReaders(ctx, options);
      },
    };
  },
});
