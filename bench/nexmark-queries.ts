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

/** q15's and q16's counts per price range: bids, distinct bidders and distinct auctions. */
const RANGES = [
  ['1', 'price < 10000'],
  ['2', 'price >= 10000 AND price < 1000000'],
  ['3', 'price >= 1000000'],
] as const;
const rangeCounts = [
  '\n      total_bids: count(*)',
  ...RANGES.map(([n, c]) => `\n      rank${n}_bids: count(CASE WHEN ${c} THEN 1 END)`),
  '\n      total_bidders: count(DISTINCT bidder)',
  ...RANGES.map(([n, c]) => `\n      rank${n}_bidders: count(DISTINCT CASE WHEN ${c} THEN bidder END)`),
  '\n      total_auctions: count(DISTINCT auction)',
  ...RANGES.map(([n, c]) => `\n      rank${n}_auctions: count(DISTINCT CASE WHEN ${c} THEN auction END)`),
].join('');

/**
 * Hand-written YAML versions of the other queries of the SQL front end (as a YAML writer would
 * write them, from the events' own fields): the SQL benchmark (`nexmark-sql.ts`) runs each beside
 * its SQL, and `packages/sql/src/nexmark.test.ts` (q1, q3) and `nexmark-suite.test.ts` (the
 * others) check each against the SQL's result or the same independent computation as the SQL.
 * q3 and q20 filter each side before the join; q4 and q9 put the time condition in the join's
 * `on`; q21 computes the channel id once and filters on it, where the SQL runs REGEXP_EXTRACT in
 * its WHERE and again in its CASE; q4 and q17 truncate their means (prices are positive) as Flink's
 * AVG of a BIGINT, which the SQL plans, does. The unwindowed aggregates (q4, q15–q17), top-N (q9, q19) and
 * deduplication (q18) write changelogs (a sink needs its `changelog` option).
 */
export const nexmarkMoreSteps: {
  readonly [q in
    | 'q1'
    | 'q3'
    | 'q4'
    | 'q9'
    | 'q11'
    | 'q14'
    | 'q15'
    | 'q16'
    | 'q17'
    | 'q18'
    | 'q19'
    | 'q20'
    | 'q21'
    | 'q22']: string;
} = {
  q1: `
  - id: bids
    type: filter
    where: event_type = 2
  - id: q1
    type: map
    select: []
    fields:
      auction: bid.auction
      bidder: bid.bidder
      price: 0.908 * bid.price
      dateTime: bid.dateTime
      extra: bid.extra`,
  q3: `
  - id: auctions
    type: filter
    where: event_type = 1 AND auction.category = 10
  - id: persons
    type: filter
    input: events
    where: event_type = 0 AND person.state IN ('OR', 'ID', 'CA')
  - id: q3
    type: join
    input: [auctions, persons]
    on: auctions.auction.seller = persons.person.id
    fields:
      name: persons.person.name
      city: persons.person.city
      state: persons.person.state
      id: auctions.auction.id`,
  q4: `
  - id: auctions
    type: filter
    where: event_type = 1
  - id: bids
    type: filter
    input: events
    where: event_type = 2
  - id: winning
    type: join
    input: [auctions, bids]
    on: >-
      auctions.auction.id = bids.bid.auction
      AND bids.bid.dateTime BETWEEN auctions.auction.dateTime AND auctions.auction.expires
    fields:
      id: auctions.auction.id
      category: auctions.auction.category
      price: bids.bid.price
  - id: finals
    type: aggregate
    key: [id, category]
    fields:
      final: max(price)
  - id: per_category
    type: aggregate
    key: [category]
    fields:
      final: avg(final)
  - id: q4
    type: map
    select: []
    fields:
      id: category
      final: floor(final)`,
  q9: `
  - id: auctions
    type: filter
    where: event_type = 1
  - id: bids
    type: filter
    input: events
    where: event_type = 2
  - id: winning
    type: join
    input: [auctions, bids]
    on: >-
      auctions.auction.id = bids.bid.auction
      AND bids.bid.dateTime BETWEEN auctions.auction.dateTime AND auctions.auction.expires
    fields:
      id: auctions.auction.id
      itemName: auctions.auction.itemName
      description: auctions.auction.description
      initialBid: auctions.auction.initialBid
      reserve: auctions.auction.reserve
      dateTime: auctions.auction.dateTime
      expires: auctions.auction.expires
      seller: auctions.auction.seller
      category: auctions.auction.category
      extra: auctions.auction.extra
      auction: bids.bid.auction
      bidder: bids.bid.bidder
      price: bids.bid.price
      bid_dateTime: bids.bid.dateTime
      bid_extra: bids.bid.extra
  - id: q9
    type: top_n
    key: [id]
    order_by: [price DESC, bid_dateTime]
    n: 1`,
  q11: `
  - id: bids
    type: filter
    where: event_type = 2
  - id: bidders
    type: map
    select: []
    fields:
      bidder: bid.bidder
  - id: sessions
    type: aggregate
    key: [bidder]
    window: { type: session, gap: 10s }
    fields:
      bid_count: count(*)
  - id: q11
    type: map
    select: [bidder, bid_count]
    fields:
      starttime: window_start
      endtime: window_end`,
  q15: `
  - id: bids
    type: filter
    where: event_type = 2
  - id: days
    type: map
    select: []
    fields:
      day: date_format(bid.dateTime, 'yyyy-MM-dd')
      price: bid.price
      bidder: bid.bidder
      auction: bid.auction
  - id: q15
    type: aggregate
    key: [day]
    fields:${rangeCounts}`,
  q16: `
  - id: bids
    type: filter
    where: event_type = 2
  - id: days
    type: map
    select: []
    fields:
      channel: bid.channel
      day: date_format(bid.dateTime, 'yyyy-MM-dd')
      minute: date_format(bid.dateTime, 'HH:mm')
      price: bid.price
      bidder: bid.bidder
      auction: bid.auction
  - id: q16
    type: aggregate
    key: [channel, day]
    fields:
      minute: max(minute)${rangeCounts}`,
  q17: `
  - id: bids
    type: filter
    where: event_type = 2
  - id: days
    type: map
    select: []
    fields:
      auction: bid.auction
      day: date_format(bid.dateTime, 'yyyy-MM-dd')
      price: bid.price
  - id: stats
    type: aggregate
    key: [auction, day]
    fields:
      total_bids: count(*)
      rank1_bids: count(CASE WHEN price < 10000 THEN 1 END)
      rank2_bids: count(CASE WHEN price >= 10000 AND price < 1000000 THEN 1 END)
      rank3_bids: count(CASE WHEN price >= 1000000 THEN 1 END)
      min_price: min(price)
      max_price: max(price)
      avg_price: avg(price)
      sum_price: sum(price)
  - id: q17
    type: map
    select: [auction, day, total_bids, rank1_bids, rank2_bids, rank3_bids, min_price, max_price]
    fields:
      avg_price: floor(avg_price)
      sum_price: sum_price`,
  q19: `
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
  - id: q19
    type: top_n
    key: [auction]
    order_by: [price DESC]
    n: 10
    rank_field: rank_number`,
  q20: `
  - id: bids
    type: filter
    where: event_type = 2
  - id: auctions
    type: filter
    input: events
    where: event_type = 1 AND auction.category = 10
  - id: q20
    type: join
    input: [bids, auctions]
    on: bids.bid.auction = auctions.auction.id
    fields:
      auction: bids.bid.auction
      bidder: bids.bid.bidder
      price: bids.bid.price
      channel: bids.bid.channel
      url: bids.bid.url
      bid_dateTime: bids.bid.dateTime
      bid_extra: bids.bid.extra
      itemName: auctions.auction.itemName
      description: auctions.auction.description
      initialBid: auctions.auction.initialBid
      reserve: auctions.auction.reserve
      auction_dateTime: auctions.auction.dateTime
      expires: auctions.auction.expires
      seller: auctions.auction.seller
      category: auctions.auction.category
      auction_extra: auctions.auction.extra`,
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
