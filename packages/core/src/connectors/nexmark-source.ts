/**
 * The `nexmark` source: the Nexmark benchmark's persons, auctions and bids, seeded per event,
 * splittable into partitions and resumable from an event number.
 */

import type { SourceContext, SourceReader } from '../connector.ts';
import { defineSource } from '../spec.ts';
import { type IndexedPosition, openIndexedReaders } from './indexed-source.ts';
import { nexmarkConfig, nexmarkSettings } from './nexmark-config.ts';
import { NexmarkGenerator } from './nexmark-generator.ts';
import { NEXMARK_SCHEMA } from './nexmark-model.ts';

/** Position of a `nexmark` partition: the number of the next event it produces. */
export type NexmarkPosition = IndexedPosition;

/** The `nexmark` source spec. */
export const nexmarkSource = defineSource({
  type: 'nexmark',
  delivery: 'exactly-once',
  // Every option decides the events but how many there are and how fast they come.
  identity: ['events_per_second', 'base_time', 'seed', 'partitions'],
  summary:
    'Generates the Nexmark benchmark stream of persons, auctions and bids, deterministically from a seed.',
  description: [
    'The online-auction stream of the Nexmark benchmark. Each record is one event in the form the',
    'reference suite writes to Kafka: `{event_type, person, auction, bid}` with `event_type` 0',
    '(person), 1 (auction) or 2 (bid) and the other two fields null. The batch times are the',
    "events' `dateTime` and the offsets their event numbers.",
    '',
    '- `person`: `id, name, emailAddress, creditCard, city, state, dateTime, extra`',
    '- `auction`: `id, itemName, description, initialBid, reserve, dateTime, expires, seller, category, extra`',
    '- `bid`: `auction, bidder, price, channel, url, dateTime, extra`',
    '',
    'It follows the reference generator: of every 50 events (by number `n`, from 0) the first is a',
    'person, the next 3 auctions and the other 46 bids. Persons and auctions get consecutive ids from',
    "1000. An auction's `seller` is the first person of the current block of 100 three times in four,",
    "else one of the 1000 newest persons; a bid's `auction` is the first auction of the current block",
    'of 100 half the time, else one of the 100 newest auctions; its `bidder` the second person of the',
    'current block of 100 (so that hot bidder and hot seller differ) three times in four, else one of',
    'the 1000 newest persons. Random person and auction ids may be up to 10 ahead of the newest one',
    'created, as in the reference. Prices are log-uniform cents, `round(10^(6u) × 100)` (1.00 to',
    '1,000,000.00); `reserve = initialBid + price`; `category` is 10 to 14; `expires` is 1 ms to two',
    "auction horizons (the event time of 1666 events) after the auction's `dateTime`. Half the bids",
    'come through Google, Facebook, Baidu or Apple, the others through `channel-<n>` (n < 10,000),',
    'nine channels in ten with `channel_id=<n>` in their URL. `extra` pads a record to about the',
    'average size (person 200, auction 500, bid 100 bytes; 8 per number plus the text lengths); text',
    'values are cut from a random text made from the seed, so they may repeat (they are not keys).',
    '',
    'Event time: `dateTime = base_time + floor(floor(n × 1e6 / events_per_second) / 1000)` ms — the',
    'reference counts whole microseconds between events; the density is `events_per_second`.',
    'Without an `event_time` section the batch times are the event times. The same events written by',
    '`sluice nexmark` and read back with the `file` (format json) or `kafka` source take their event',
    'time from `event_time: { expression: "coalesce(bid.dateTime, auction.dateTime, person.dateTime)",',
    "max_out_of_orderness: 4s }` (the reference suite's watermark is `dateTime` − 4 s).",
    '',
    'Random values are drawn from a stream seeded per event number (hash of seed and `n`, then',
    'sfc32), as Beam and nexmark-rs seed theirs: event `n` is the same whichever partition makes it',
    'and however the run was split or restarted. (The Flink suite is unseeded and adds the first',
    'person id to bidders twice; that is not copied.) Ids, proportions and event times match the',
    'reference; the random values themselves do not (other generator, other draw order).',
    '',
    'Partition `p<k>` produces the events whose number is `k` modulo `partitions`; its position is',
    '`{ next: <event number> }`. With `events` the input ends after that many events in all',
    '(`bounded`); without it the input never ends. With `rate`, each partition produces',
    '`rate / partitions` events per second of processing time (catching up at most one second after',
    'a stall); without it, every read returns a full batch.',
  ].join('\n'),
  example: ['type: nexmark', 'events: 10000000', 'events_per_second: 100000', 'partitions: 2'].join('\n'),
  config: nexmarkConfig,
  bounded: (config) => config.events !== undefined,
  schema: () => NEXMARK_SCHEMA,
  create(config) {
    const settings = nexmarkSettings(config);
    const partitions = config.partitions;
    const options = {
      partitions,
      end: config.events ?? Number.POSITIVE_INFINITY,
      rate: config.rate === undefined ? 0 : config.rate / partitions,
      generator: () => new NexmarkGenerator(settings),
    };
    return {
      async open(ctx: SourceContext): Promise<SourceReader[]> {
        return openIndexedReaders(ctx, options);
      },
    };
  },
});
