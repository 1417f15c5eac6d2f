/**
 * The Nexmark model: record shapes, the constants of the reference generator, and the formulas
 * that map an event number to its kind, its ids and its event time. Everything here is a pure
 * function of the event number (and the random stream of that event).
 */

import type { RecordSchema } from '../expr/index.ts';
import type { NexmarkRng } from './nexmark-rng.ts';

/** A person registering to buy or sell (`event_type` 0). */
export type NexmarkPerson = {
  id: number;
  name: string;
  emailAddress: string;
  creditCard: string;
  city: string;
  state: string;
  /** Event time, epoch ms. */
  dateTime: number;
  extra: string;
};

/** An item put up for auction (`event_type` 1). Prices in cents. */
export type NexmarkAuction = {
  id: number;
  itemName: string;
  description: string;
  initialBid: number;
  reserve: number;
  dateTime: number;
  expires: number;
  seller: number;
  category: number;
  extra: string;
};

/** A bid on an auction (`event_type` 2). Price in cents. */
export type NexmarkBid = {
  auction: number;
  bidder: number;
  price: number;
  channel: string;
  url: string;
  dateTime: number;
  extra: string;
};

/** One Nexmark event in the reference suite's JSON form: the kind, and one of three non-null. */
export type NexmarkEvent = {
  event_type: 0 | 1 | 2;
  person: NexmarkPerson | null;
  auction: NexmarkAuction | null;
  bid: NexmarkBid | null;
};

/** The schema of a Nexmark event, for the plan's checks (`plan/schema.ts`): every field known. */
export const NEXMARK_SCHEMA: RecordSchema = (() => {
  const closed = (fields: [string, 'number' | 'string'][]): RecordSchema => ({
    fields: fields.map(([name, type]) => ({ name, type })),
    open: false,
  });
  const person = closed([
    ['id', 'number'],
    ['name', 'string'],
    ['emailAddress', 'string'],
    ['creditCard', 'string'],
    ['city', 'string'],
    ['state', 'string'],
    ['dateTime', 'number'],
    ['extra', 'string'],
  ]);
  const auction = closed([
    ['id', 'number'],
    ['itemName', 'string'],
    ['description', 'string'],
    ['initialBid', 'number'],
    ['reserve', 'number'],
    ['dateTime', 'number'],
    ['expires', 'number'],
    ['seller', 'number'],
    ['category', 'number'],
    ['extra', 'string'],
  ]);
  const bid = closed([
    ['auction', 'number'],
    ['bidder', 'number'],
    ['price', 'number'],
    ['channel', 'string'],
    ['url', 'string'],
    ['dateTime', 'number'],
    ['extra', 'string'],
  ]);
  return {
    fields: [
      { name: 'event_type', type: 'number' },
      { name: 'person', type: 'object', schema: person, nullable: true },
      { name: 'auction', type: 'object', schema: auction, nullable: true },
      { name: 'bid', type: 'object', schema: bid, nullable: true },
    ],
    open: false,
  };
})();

export const PERSON = 0;
export const AUCTION = 1;
export const BID = 2;

/** Events per proportion cycle: 1 person, 3 auctions, 46 bids. */
export const PROPORTION_TOTAL = 50;
export const PERSON_PROPORTION = 1;
export const AUCTION_PROPORTION = 3;
export const FIRST_PERSON_ID = 1000;
export const FIRST_AUCTION_ID = 1000;
export const FIRST_CATEGORY_ID = 10;
export const CATEGORIES = 5;
/** 1 in HOT_AUCTION_RATIO bids go to a random auction; the others to the hot auction. */
export const HOT_AUCTION_RATIO = 2;
/** 1 in HOT_SELLER_RATIO auctions have a random seller; the others the hot seller. */
export const HOT_SELLER_RATIO = 4;
/** 1 in HOT_BIDDER_RATIO bids have a random bidder; the others the hot bidder. */
export const HOT_BIDDER_RATIO = 4;
/** Hot sellers, bidders and auctions are the first of the current block of this many ids. */
export const HOT_BLOCK = 100;
export const IN_FLIGHT_AUCTIONS = 100;
export const ACTIVE_PEOPLE = 1000;
/** Random person and auction ids may run this far ahead of the newest one created. */
export const PERSON_ID_LEAD = 10;
export const AUCTION_ID_LEAD = 10;
export const AVG_PERSON_BYTES = 200;
export const AVG_AUCTION_BYTES = 500;
export const AVG_BID_BYTES = 100;
/** Events it takes to create IN_FLIGHT_AUCTIONS auctions (1666): the auction horizon. */
export const AUCTION_HORIZON_EVENTS = Math.floor(
  (IN_FLIGHT_AUCTIONS * PROPORTION_TOTAL) / AUCTION_PROPORTION,
);

/** The kind of event `e`: 0 person, 1 auction, 2 bid. */
export function eventKind(e: number): 0 | 1 | 2 {
  const rem = e % PROPORTION_TOTAL;
  return rem < PERSON_PROPORTION ? PERSON : rem < PERSON_PROPORTION + AUCTION_PROPORTION ? AUCTION : BID;
}

/** Base-0 id of the newest person created at or before event `e`. */
export function lastPerson(e: number): number {
  return Math.floor(e / PROPORTION_TOTAL);
}

/** Base-0 id of the newest auction created at or before event `e` (-1 before the first). */
export function lastAuction(e: number): number {
  const epoch = Math.floor(e / PROPORTION_TOTAL);
  const rem = e % PROPORTION_TOTAL;
  if (rem < PERSON_PROPORTION) return (epoch - 1) * AUCTION_PROPORTION + AUCTION_PROPORTION - 1;
  if (rem >= PERSON_PROPORTION + AUCTION_PROPORTION)
    return epoch * AUCTION_PROPORTION + AUCTION_PROPORTION - 1;
  return epoch * AUCTION_PROPORTION + rem - PERSON_PROPORTION;
}

/** A base-0 person id among the ACTIVE_PEOPLE newest at event `e`, or up to PERSON_ID_LEAD ahead. */
export function nextPerson(e: number, rng: NexmarkRng): number {
  const people = lastPerson(e) + 1;
  const active = Math.min(people, ACTIVE_PEOPLE);
  return people - active + rng.int(active + PERSON_ID_LEAD);
}

/** A base-0 auction id among the IN_FLIGHT_AUCTIONS newest at event `e`, or up to AUCTION_ID_LEAD ahead. */
export function nextAuction(e: number, rng: NexmarkRng): number {
  const newest = lastAuction(e);
  const oldest = Math.max(newest - IN_FLIGHT_AUCTIONS, 0);
  return oldest + rng.int(newest - oldest + 1 + AUCTION_ID_LEAD);
}

/**
 * Event time of event `n`, epoch ms: `baseTime + floor(floor(n × interEventDelayUs) / 1000)`
 * (the reference computes in whole microseconds and divides as integers).
 */
export function eventTime(baseTime: number, interEventDelayUs: number, n: number): number {
  return baseTime + Math.floor(Math.floor(n * interEventDelayUs) / 1000);
}
