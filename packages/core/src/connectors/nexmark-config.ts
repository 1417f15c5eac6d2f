/**
 * Options of the `nexmark` source: the schema (the only place defaults live) and their parsed form.
 */

import Type, { type Static } from 'typebox';
import { SluiceError } from '../errors.ts';
import { toEpochMillis } from '../time.ts';
import type { NexmarkSettings } from './nexmark-generator.ts';

/** Config schema of the `nexmark` source. */
export const nexmarkConfig = Type.Object(
  {
    events: Type.Optional(
      Type.Integer({
        minimum: 0,
        description:
          'Total events to produce over all partitions, then the input ends. Absent: it never ends.',
        examples: [10_000_000],
      }),
    ),
    events_per_second: Type.Number({
      exclusiveMinimum: 0,
      default: 100_000,
      description:
        'Event-time density: events per second of event time (event `n` is at `base_time + floor(n × 1e6 / events_per_second µs)`). ' +
        'The Nexmark V2 suite uses 100,000; state it with every result. It does not limit how fast events are produced (see `rate`).',
      examples: [10_000],
    }),
    base_time: Type.Union([Type.String(), Type.Integer()], {
      default: '2026-01-01T00:00:00Z',
      description: 'Event time of event 0: ISO-8601 text or epoch milliseconds.',
      examples: ['2026-01-01T00:00:00Z', 1767225600000],
    }),
    seed: Type.Integer({
      default: 42,
      description: 'Seed of the random values; the same seed gives the same events.',
      examples: [7],
    }),
    partitions: Type.Integer({
      minimum: 1,
      default: 1,
      description: 'Number of partitions (`p0`, `p1`, …); event `n` belongs to partition `n mod partitions`.',
      examples: [4],
    }),
    rate: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        description:
          'Events per second of processing time, over all partitions. Absent: as fast as they are read.',
        examples: [50_000],
      }),
    ),
  },
  { additionalProperties: false },
);

/** Options of the `nexmark` source, defaults applied. */
export type NexmarkConfig = Static<typeof nexmarkConfig>;

/** The generator settings of a complete config; throws CONFIG_INVALID naming the field. */
export function nexmarkSettings(config: NexmarkConfig): NexmarkSettings {
  const baseTime = toEpochMillis(config.base_time);
  if (!Number.isSafeInteger(baseTime)) {
    throw new SluiceError(
      'CONFIG_INVALID',
      `base_time '${config.base_time}' is not a timestamp; write ISO-8601 text or epoch milliseconds`,
      { path: 'base_time' },
    );
  }
  return { seed: config.seed, baseTime, eventsPerSecond: config.events_per_second };
}
