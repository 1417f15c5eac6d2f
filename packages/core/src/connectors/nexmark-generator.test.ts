import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CHANNELS, NexmarkGenerator, type NexmarkSettings } from './nexmark-generator.ts';
import {
  ACTIVE_PEOPLE,
  AUCTION_ID_LEAD,
  eventKind,
  FIRST_AUCTION_ID,
  FIRST_PERSON_ID,
  IN_FLIGHT_AUCTIONS,
  lastAuction,
  lastPerson,
  type NexmarkAuction,
  type NexmarkBid,
  type NexmarkEvent,
  type NexmarkPerson,
  PERSON_ID_LEAD,
} from './nexmark-model.ts';
import { NexmarkRng } from './nexmark-rng.ts';

const BASE = Date.UTC(2026, 0, 1);
const settings: NexmarkSettings = { seed: 42, baseTime: BASE, eventsPerSecond: 100_000 };
/** Events of the invariant and distribution checks: 2000 proportion cycles. */
const N = 100_000;

function run(s: NexmarkSettings, from: number, to: number): NexmarkEvent[] {
  const generator = new NexmarkGenerator(s);
  const events: NexmarkEvent[] = [];
  for (let n = from; n < to; n++) events.push(generator.event(n));
  return events;
}

const events = run(settings, 0, N);
const bids: NexmarkBid[] = [];
const auctions: NexmarkAuction[] = [];
const persons: NexmarkPerson[] = [];
for (const e of events) {
  if (e.bid) bids.push(e.bid);
  if (e.auction) auctions.push(e.auction);
  if (e.person) persons.push(e.person);
}

/** Number of unordered pairs of equal values. */
function equalPairs(values: Iterable<number>): number {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let pairs = 0;
  for (const k of counts.values()) pairs += (k * (k - 1)) / 2;
  return pairs;
}

function assertNear(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= tolerance * expected,
    `${what}: ${actual}, expected ${expected.toFixed(1)} ± ${(tolerance * 100).toFixed(0)}%`,
  );
}

describe('nexmark generator', () => {
  it('is a function of the seed and the event number alone', () => {
    assert.deepEqual(run(settings, 0, 500), events.slice(0, 500), 'same seed, same events');
    const alone = new NexmarkGenerator(settings);
    for (const n of [0, 1, 3, 4, 49, 50, 777, 12_345, 99_999]) {
      assert.deepEqual(alone.event(n), events[n], `event ${n} computed alone`);
      assert.equal(
        alone.time,
        events[n].bid?.dateTime ?? events[n].auction?.dateTime ?? events[n].person?.dateTime,
      );
    }
    // Backwards and far ahead, on one instance: nothing carries over from event to event.
    assert.deepEqual(alone.event(5), events[5]);
    const far = 123_456_789_012;
    assert.deepEqual(new NexmarkGenerator(settings).event(far), alone.event(far));
    const other = run({ ...settings, seed: 43 }, 0, 500);
    const same = other.filter((e, i) => JSON.stringify(e) === JSON.stringify(events[i])).length;
    assert.equal(same, 0, 'another seed gives other events');
  });

  it('keeps the proportions exactly: 1 person, 3 auctions, 46 bids per 50 events', () => {
    for (let start = 0; start < N; start += 50) {
      const kinds = events.slice(start, start + 50).map((e) => e.event_type);
      assert.deepEqual(kinds, [0, 1, 1, 1, ...new Array(46).fill(2)], `cycle at ${start}`);
    }
    for (const [n, e] of events.entries()) {
      assert.equal(e.event_type, eventKind(n));
      const present = [e.person, e.auction, e.bid].filter((x) => x !== null).length;
      assert.equal(present, 1, 'one kind is set, the others null');
    }
  });

  it('numbers persons and auctions consecutively and follows the id formulas', () => {
    assert.deepEqual(
      persons.map((p) => p.id),
      persons.map((_, i) => FIRST_PERSON_ID + i),
    );
    assert.deepEqual(
      auctions.map((a) => a.id),
      auctions.map((_, i) => FIRST_AUCTION_ID + i),
    );
    // lastPerson(e) = floor(e/50) + (e%50 >= 1 ? 0 : e%50); lastAuction over the 3 slots.
    for (let e = 0; e < 200; e++) {
      assert.equal(lastPerson(e), Math.floor(e / 50) + (e % 50 >= 1 ? 0 : e % 50));
      const rem = e % 50;
      const cycle = Math.floor(e / 50);
      const expected = rem === 0 ? cycle * 3 - 1 : rem <= 3 ? cycle * 3 + rem - 1 : cycle * 3 + 2;
      assert.equal(lastAuction(e), expected, `lastAuction(${e})`);
    }
  });

  it('refers only to recent persons and auctions (or at most the lead ahead)', () => {
    let ahead = 0;
    for (const [n, e] of events.entries()) {
      const people = lastPerson(n) + FIRST_PERSON_ID;
      const newestAuction = lastAuction(n) + FIRST_AUCTION_ID;
      if (e.bid) {
        const { auction, bidder } = e.bid;
        assert.ok(
          auction >= Math.max(newestAuction - IN_FLIGHT_AUCTIONS, FIRST_AUCTION_ID),
          `bid ${n} auction`,
        );
        assert.ok(auction <= newestAuction + AUCTION_ID_LEAD, `bid ${n} auction ${auction}`);
        assert.ok(bidder >= Math.max(people + 1 - ACTIVE_PEOPLE, FIRST_PERSON_ID), `bid ${n} bidder`);
        assert.ok(bidder <= people + PERSON_ID_LEAD, `bid ${n} bidder ${bidder}`);
        if (auction > newestAuction || bidder > people) ahead++;
      }
      if (e.auction) {
        const { seller } = e.auction;
        assert.ok(seller >= Math.max(people + 1 - ACTIVE_PEOPLE, FIRST_PERSON_ID), `auction ${n} seller`);
        assert.ok(seller <= people + PERSON_ID_LEAD, `auction ${n} seller ${seller}`);
      }
    }
    // As in the reference: a random auction is one of the 111 from 100 back to 10 ahead (half the
    // bids), a random bidder one of 1010 (a quarter), and the hot bidder (second of its block of
    // 100) does not exist yet in the first cycle of a block (3/4 of the bids of 1 cycle in 100).
    const expected = 0.5 * (AUCTION_ID_LEAD / 111) + 0.25 * (PERSON_ID_LEAD / 1010) + 0.75 * 0.01;
    assertNear(ahead / bids.length, expected, 0.1, 'share of bids naming an id not created yet');
  });

  it('has positive prices, reserves above the initial bid, expiry after the auction', () => {
    const horizon = Math.floor(Math.floor(1666 * 10) / 1000);
    for (const b of bids) {
      assert.ok(Number.isInteger(b.price) && b.price >= 100 && b.price <= 100_000_000, `price ${b.price}`);
      assert.ok(b.channel.length > 0 && b.url.startsWith('https://www.nexmark.com/'));
    }
    for (const a of auctions) {
      assert.ok(a.initialBid >= 100 && a.reserve > a.initialBid, `${a.initialBid} ${a.reserve}`);
      assert.ok(
        a.expires > a.dateTime && a.expires <= a.dateTime + 2 * horizon,
        `expires ${a.expires - a.dateTime}`,
      );
      assert.ok(a.category >= 10 && a.category < 15);
      assert.ok(a.itemName.length >= 3 && a.itemName.length < 20);
    }
    for (const p of persons) {
      assert.match(p.creditCard, /^\d{4} \d{4} \d{4} \d{4}$/);
      assert.match(p.state, /^(AZ|CA|ID|OR|WA|WY)$/);
      assert.match(p.name, /^[A-Z][a-z]+ [A-Z][a-z]+$/);
    }
  });

  it('pads records to about their average size', () => {
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const size = (r: { [field: string]: unknown }) =>
      Object.values(r).reduce<number>((s, v) => s + (typeof v === 'string' ? v.length : 8), 0);
    assertNear(mean(persons.map(size)), 200, 0.1, 'person size');
    assertNear(mean(auctions.map(size)), 500, 0.1, 'auction size');
    assert.ok(mean(bids.map(size)) >= 100 && mean(bids.map(size)) < 130, 'bid size');
  });

  it('places events in event time by the formula, at the configured density', () => {
    let previous = Number.NEGATIVE_INFINITY;
    for (const [n, e] of events.entries()) {
      const time = (e.bid ?? e.auction ?? e.person)!.dateTime;
      assert.equal(time, BASE + Math.floor((n * 10) / 1000), `event ${n}`);
      assert.ok(time >= previous, 'event time never goes back');
      previous = time;
    }
    // 100,000 events per second of event time: events 0..99,999 are in the first second.
    assert.equal(
      events.filter((e) => (e.bid ?? e.auction ?? e.person)!.dateTime < BASE + 1000).length,
      100_000,
    );
    const slow = new NexmarkGenerator({ ...settings, eventsPerSecond: 3 });
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 6].map((n) => slow.timeOf(n) - BASE),
      [0, 333, 666, 1000, 1333, 1666, 2000],
    );
    slow.event(4);
    assert.equal(slow.time, BASE + 1333);
  });

  it('draws unrelated random streams per event (pairs of equal values as for independent draws)', () => {
    // 20-bit buckets of the k-th number of each event: C(N, 2) / 2^20 equal pairs expected.
    const rng = new NexmarkRng(42, 1);
    const expected = (N * (N - 1)) / 2 / 2 ** 20;
    for (const k of [0, 1, 5]) {
      const values: number[] = [];
      for (let n = 0; n < N; n++) {
        rng.reset(n);
        for (let j = 0; j < k; j++) rng.next();
        values.push(rng.next() >>> 12);
      }
      assertNear(equalPairs(values), expected, 0.1, `draw ${k}`);
    }
    // Two numbers of one event taken together, and neighbouring seeds.
    const pairs: number[] = [];
    const seeds: number[] = [];
    const other = new NexmarkRng(43, 1);
    for (let n = 0; n < N; n++) {
      rng.reset(n);
      other.reset(n);
      pairs.push(((rng.next() >>> 22) << 10) | (rng.next() >>> 22));
      seeds.push((((rng.next() >>> 22) << 10) ^ (other.next() >>> 22)) >>> 0);
    }
    assertNear(equalPairs(pairs), expected, 0.1, 'two draws of an event');
    assertNear(equalPairs(seeds), expected, 0.1, 'seed 42 beside seed 43');
  });

  it('gives duplicate prices and channels as often as independent draws would', () => {
    // P(price = v) = (log10(v + 0.5) − log10(v − 0.5)) / 6 (ends clipped); the tail beyond 10^6
    // adds less than 1e-9 to the sum of squares.
    let sumSquares = 0;
    for (let v = 100; v <= 1_000_000; v++) {
      const lo = v === 100 ? 2 : Math.log10(v - 0.5);
      const p = (Math.log10(v + 0.5) - lo) / 6;
      sumSquares += p * p;
    }
    const m = bids.length;
    assertNear(equalPairs(bids.map((b) => b.price)), ((m * (m - 1)) / 2) * sumSquares, 0.05, 'equal prices');
    const numbered = bids.filter((b) => b.channel.startsWith('channel-'));
    assertNear(numbered.length, m / 2, 0.02, 'bids through a numbered channel');
    const k = numbered.length;
    assertNear(
      equalPairs(numbered.map((b) => Number(b.channel.slice(8)))),
      (k * (k - 1)) / 2 / CHANNELS,
      0.05,
      'equal channels',
    );
    const withId = numbered.filter((b) => b.url.includes(`&channel_id=${b.channel.slice(8)}`)).length;
    assertNear(withId / k, 0.9, 0.03, 'URLs with channel_id');
    // Log-uniform: each decade of price holds about a sixth of the bids.
    for (let d = 2; d < 8; d++) {
      const inDecade = bids.filter((b) => b.price >= 10 ** d && b.price < 10 ** (d + 1)).length;
      assertNear(inDecade / m, 1 / 6, 0.05, `prices in [1e${d}, 1e${d + 1})`);
    }
  });

  it('sends the reference share of events to the hot auction, bidder and seller', () => {
    const hot = (id: number, first: number, offset: number) => (id - first - offset) % 100 === 0;
    let hotAuction = 0;
    let hotBidder = 0;
    let hotSeller = 0;
    for (const [n, e] of events.entries()) {
      if (e.bid) {
        if (e.bid.auction === Math.floor(lastAuction(n) / 100) * 100 + FIRST_AUCTION_ID) hotAuction++;
        if (e.bid.bidder === Math.floor(lastPerson(n) / 100) * 100 + 1 + FIRST_PERSON_ID) hotBidder++;
        assert.ok(!hot(e.bid.auction, FIRST_AUCTION_ID, 0) || e.bid.auction >= FIRST_AUCTION_ID);
      }
      if (e.auction && e.auction.seller === Math.floor(lastPerson(n) / 100) * 100 + FIRST_PERSON_ID)
        hotSeller++;
    }
    // The hot share, plus the random choices that happen to land on the hot id.
    assertNear(hotAuction / bids.length, 0.5, 0.03, 'bids on the hot auction');
    assertNear(hotBidder / bids.length, 0.75, 0.03, 'bids by the hot bidder');
    assertNear(hotSeller / auctions.length, 0.75, 0.05, 'auctions of the hot seller');
  });
});
