import { defineFunction } from '@sluice/core';

/**
 * Nexmark q0, q2, q5 (and its counting stage), q7 and q8 written as YAML steps, with their window
 * lengths.
 */

/** The queries the benchmark runs in YAML. */
export type NexmarkQuery = 'q0' | 'q2' | 'q5count' | 'q5' | 'q7' | 'q8';

/** q7's and q8's tumbling window. */
export const WINDOW = 10_000;

/** q5's hopping window: 10 s long, a new one every 2 s. */
export const Q5_SIZE = 10_000;
export const Q5_SLIDE = 2_000;

/**
 * The steps of each query over the `nexmark` source `events`, as YAML (the last step's id is the
 * query's); the benchmark runs them, and the SQL front end's Nexmark test checks its SQL versions
 * of the queries against them.
 */
export const nexmarkSteps: { readonly [q in NexmarkQuery]: string } = {
  q0: `
  - id: bids
    type: filter
    where: event_type = 2
  - id: q0
    type: map
    select: []
    fields:
      auction: bid.auction
      bidder: bid.bidder
      price: bid.price
      dateTime: bid.dateTime
      extra: bid.extra`,
  q2: `
  - id: bids
    type: filter
    where: event_type = 2 AND bid.auction % 123 = 0
  - id: q2
    type: map
    select: []
    fields:
      auction: bid.auction
      price: bid.price`,
  q5count: `
  - id: bids
    type: filter
    where: event_type = 2
  - id: auction
    type: map
    select: []
    fields:
      auction: bid.auction
  - id: q5count
    type: aggregate
    key: [auction]
    window: { type: hopping, size: ${Q5_SIZE}ms, slide: ${Q5_SLIDE}ms }
    fields:
      bids: count(*)`,
  q5: `
  - id: bids
    type: filter
    where: event_type = 2
  - id: auction
    type: map
    select: []
    fields:
      auction: bid.auction
  - id: counts
    type: aggregate
    key: [auction]
    window: { type: hopping, size: ${Q5_SIZE}ms, slide: ${Q5_SLIDE}ms }
    fields:
      bids: count(*)
  - id: maxima
    type: aggregate
    input: counts
    window: { type: tumbling, size: ${Q5_SLIDE}ms }
    fields:
      maxbids: max(bids)
  - id: q5
    type: join
    input: [counts, maxima]
    on: counts.window_end = maxima.window_end AND counts.bids = maxima.maxbids
    window: { type: tumbling, size: ${Q5_SLIDE}ms }
    fields:
      auction: counts.auction
      bids: counts.bids
      window_start: counts.window_start
      window_end: counts.window_end`,
  q7: `
  - id: bids
    type: filter
    where: event_type = 2
  - id: maxima
    type: aggregate
    input: bids
    window: { type: tumbling, size: ${WINDOW}ms }
    fields:
      maxprice: max(bid.price)
  - id: q7
    type: join
    input: [bids, maxima]
    on: bids.bid.price = maxima.maxprice
    between: [0ms, ${WINDOW - 1}ms]
    fields:
      auction: bids.bid.auction
      price: bids.bid.price
      bidder: bids.bid.bidder
      dateTime: bids.bid.dateTime`,
  q8: `
  - id: persons
    type: filter
    where: event_type = 0
  - id: auctions
    type: filter
    input: events
    where: event_type = 1
  - id: q8
    type: join
    input: [persons, auctions]
    on: persons.person.id = auctions.auction.seller
    window: { type: tumbling, size: ${WINDOW}ms }
    fields:
      id: persons.person.id
      name: persons.person.name
      starttime: window_start`,
};

/**
 * Hand-written YAML versions of queries added to the SQL front end after q8 (those a YAML writer
 * would write in a few steps): the SQL benchmark (`nexmark-sql.ts`) runs each beside its SQL, and
 * `packages/sql/src/nexmark-suite.test.ts` checks each against the same independent computation
 * as the SQL. q21 computes the channel id once and filters on it, where the SQL runs
 * REGEXP_EXTRACT in its WHERE and again in its CASE. q18 writes a changelog (a sink needs its
 * `changelog` option).
 */
export const nexmarkMoreSteps: { readonly [q in 'q14' | 'q18' | 'q21' | 'q22']: string } = {
  q14: `
  - id: bids
    type: filter
    where: event_type = 2 AND 0.908 * bid.price > 1000000 AND 0.908 * bid.price < 50000000
  - id: q14
    type: map
    select: []
    fields:
      auction: bid.auction
      bidder: bid.bidder
      price: 0.908 * bid.price
      bidTimeType: >-
        CASE WHEN hour(bid.dateTime) >= 8 AND hour(bid.dateTime) <= 18 THEN 'dayTime'
        WHEN hour(bid.dateTime) <= 6 OR hour(bid.dateTime) >= 20 THEN 'nightTime'
        ELSE 'otherTime' END
      dateTime: bid.dateTime
      extra: bid.extra
      c_counts: count_char(bid.extra, 'c')`,
  q18: `
  - id: bids
    type: filter
    where: event_type = 2
  - id: bid
    type: map
    select: []
    fields:
      auction: bid.auction
      bidder: bid.bidder
      price: bid.price
      channel: bid.channel
      url: bid.url
      dateTime: bid.dateTime
      extra: bid.extra
  - id: q18
    type: deduplicate
    key: [bidder, auction]
    keep: last
    time: event`,
  q21: `
  - id: bids
    type: filter
    where: event_type = 2
  - id: ids
    type: map
    select: []
    fields:
      auction: bid.auction
      bidder: bid.bidder
      price: bid.price
      channel: bid.channel
      channel_id: >-
        CASE lower(bid.channel) WHEN 'apple' THEN '0' WHEN 'google' THEN '1'
        WHEN 'facebook' THEN '2' WHEN 'baidu' THEN '3'
        ELSE regexp_extract(bid.url, '(&|^)channel_id=([^&]*)', 2) END
  - id: q21
    type: filter
    where: channel_id IS NOT NULL`,
  q22: `
  - id: bids
    type: filter
    where: event_type = 2
  - id: q22
    type: map
    select: []
    fields:
      auction: bid.auction
      bidder: bid.bidder
      price: bid.price
      channel: bid.channel
      dir1: split_index(bid.url, '/', 3)
      dir2: split_index(bid.url, '/', 4)
      dir3: split_index(bid.url, '/', 5)`,
};

/**
 * The user-defined function of q14, `count_char(s, c)`: how many times the first character of `c`
 * occurs in `s` (the reference suite's `CountChar`, in TypeScript). Defined once per process,
 * before a script naming it (`CREATE FUNCTION count_char AS '…'`) is compiled.
 */
export function defineNexmarkFunctions(): void {
  defineFunction({
    name: 'count_char',
    params: ['string', 'string'],
    returns: 'number',
    summary: 'How many times the first character of `c` occurs in `s` (Nexmark q14).',
    impl: (s: string, c: string) => {
      if (c === '') return 0;
      const code = c.charCodeAt(0);
      let count = 0;
      for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === code) count++;
      return count;
    },
  });
}
