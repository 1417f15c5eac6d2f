/**
 * The `generate` source: synthetic orders, clicks or sensor readings, deterministic per seed,
 * resumable, with optional rate limit and injected faults.
 */

import type { SourceBatch, SourceContext, SourceReader } from '../connector.ts';
import { SluiceError } from '../errors.ts';
import type { Offset, Row } from '../record.ts';
import { defineSource } from '../spec.ts';
import type { Clock } from '../time.ts';
import { type GeneratorSettings, generateConfig, generatorSettings } from './generate-config.ts';
import { RecordGenerator } from './generate-record.ts';
import { RateLimit } from './rate-limit.ts';
import { templates } from './templates.ts';

/** Position of a `generate` partition: the index of the next record it produces. */
export interface GeneratePosition {
  next: number;
}

interface ReaderOptions {
  readonly settings: GeneratorSettings;
  readonly partitions: number;
  /** Total records over all partitions; Infinity when unbounded. */
  readonly count: number;
  /** Records per second of this partition; 0 for no limit. */
  readonly rate: number;
  readonly clock: Clock;
}

/** Reads one partition: records `p`, `p + partitions`, `p + 2 × partitions`, … below `count`. */
class GenerateReader implements SourceReader {
  readonly partition: string;
  readonly #generator: RecordGenerator;
  readonly #stride: number;
  readonly #end: number;
  /** Paces the partition at `rate`; undefined for no limit. */
  readonly #limit: RateLimit | undefined;
  #next: number;

  constructor(partition: string, first: number, options: ReaderOptions) {
    this.partition = partition;
    this.#generator = new RecordGenerator(options.settings);
    this.#next = first;
    this.#stride = options.partitions;
    this.#end = options.count;
    this.#limit = options.rate > 0 ? new RateLimit(options.rate, options.clock) : undefined;
  }

  async read(max: number, signal: AbortSignal): Promise<SourceBatch | null> {
    if (this.#next >= this.#end) return null;
    let n = Math.min(max, Math.ceil((this.#end - this.#next) / this.#stride));
    if (this.#limit !== undefined) n = await this.#limit.allowance(n, signal);
    const generator = this.#generator;
    const records: Row[] = [];
    const times: number[] = [];
    const offsets: Offset[] = [];
    let index = this.#next;
    for (let i = 0; i < n; i++) {
      records.push(generator.record(index));
      times.push(generator.time);
      offsets.push(index);
      index += this.#stride;
    }
    this.#next = index;
    return { records, times, offsets };
  }

  position(): GeneratePosition {
    return { next: this.#next };
  }

  async close(): Promise<void> {}
}

function restoredNext(
  restored: unknown,
  partition: number,
  partitions: number,
  id: string,
): number | undefined {
  if (restored === undefined) return undefined;
  const next = (restored as Partial<GeneratePosition> | null)?.next;
  if (
    typeof next !== 'number' ||
    !Number.isSafeInteger(next) ||
    next < 0 ||
    next % partitions !== partition
  ) {
    throw new SluiceError(
      'CHECKPOINT_INCOMPATIBLE',
      `position ${JSON.stringify(restored)} of partition p${partition} does not fit ${partitions} ` +
        'partition(s); was `partitions` changed? Restart with --from-scratch',
      { step: id },
    );
  }
  return next;
}

/** The `generate` source spec. */
export const generateSource = defineSource({
  type: 'generate',
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
    const count = config.count ?? Number.POSITIVE_INFINITY;
    const rate = (config.rate ?? 0) / partitions;
    return {
      async open(ctx: SourceContext): Promise<SourceReader[]> {
        const options: ReaderOptions = { settings, partitions, count, rate, clock: ctx.clock };
        const readers: SourceReader[] = [];
        for (let p = 0; p < partitions; p++) {
          const id = `p${p}`;
          const first = restoredNext(ctx.restored[id], p, partitions, ctx.id) ?? p;
          readers.push(new GenerateReader(id, first, options));
        }
        return readers;
      },
    };
  },
});
