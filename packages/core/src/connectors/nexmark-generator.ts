/**
 * The Nexmark generator: event `n` as a pure function of (seed, base time, event-time density, n).
 */

import {
  AUCTION,
  AUCTION_HORIZON_EVENTS,
  AVG_AUCTION_BYTES,
  AVG_BID_BYTES,
  AVG_PERSON_BYTES,
  BID,
  CATEGORIES,
  eventKind,
  eventTime,
  FIRST_AUCTION_ID,
  FIRST_CATEGORY_ID,
  FIRST_PERSON_ID,
  HOT_AUCTION_RATIO,
  HOT_BIDDER_RATIO,
  HOT_BLOCK,
  HOT_SELLER_RATIO,
  lastAuction,
  lastPerson,
  type NexmarkAuction,
  type NexmarkBid,
  type NexmarkEvent,
  type NexmarkPerson,
  nextAuction,
  nextPerson,
  PERSON,
} from './nexmark-model.ts';
import { NexmarkRng } from './nexmark-rng.ts';

/** What decides the events: the same settings give the same events. */
export interface NexmarkSettings {
  readonly seed: number;
  /** Event time of event 0, epoch ms. */
  readonly baseTime: number;
  /** Events per second of event time (the event-time density). */
  readonly eventsPerSecond: number;
}

const FIRST_NAMES = [
  'Peter',
  'Paul',
  'Luke',
  'John',
  'Saul',
  'Vicky',
  'Kate',
  'Julie',
  'Sarah',
  'Deiter',
  'Walter',
];
const LAST_NAMES = ['Shultz', 'Abrams', 'Spencer', 'White', 'Bartels', 'Walton', 'Smith', 'Jones', 'Noris'];
const CITIES = [
  'Phoenix',
  'Los Angeles',
  'San Francisco',
  'Boise',
  'Portland',
  'Bend',
  'Redmond',
  'Seattle',
  'Kent',
  'Cheyenne',
];
const STATES = ['AZ', 'CA', 'ID', 'OR', 'WA', 'WY'];
const HOT_CHANNELS = ['Google', 'Facebook', 'Baidu', 'Apple'];
/** Channels other than the hot ones: `channel-0` … `channel-9999`. */
export const CHANNELS = 10_000;
/** 1 in HOT_CHANNEL_RATIO bids come through a numbered channel; the others through a hot one. */
const HOT_CHANNEL_RATIO = 2;
/** 1 in this many numbered channels have a URL without `channel_id=`. */
const URL_WITHOUT_ID_RATIO = 10;
/** Strings shorter than this are never drawn. */
const MIN_STRING = 3;
/** Length of the random text that strings are cut from (more than the longest string). */
const TEXT_LENGTH = 1 << 17;
/** Estimated size of a number field, bytes, when sizing `extra`. */
const NUMBER_BYTES = 8;

const SALT_EVENTS = 1;
const SALT_CHANNELS = 2;
const SALT_TEXT = 3;

/** Lowercase letters, one position in 13 a space. */
function randomText(rng: NexmarkRng, length: number): string {
  const chunks: string[] = [];
  const codes = new Array<number>(4096);
  for (let done = 0; done < length; done += codes.length) {
    for (let i = 0; i < codes.length; i++) codes[i] = rng.int(13) === 0 ? 32 : 97 + rng.int(26);
    chunks.push(String.fromCharCode(...codes));
  }
  return chunks.join('').slice(0, length);
}

function letters(rng: NexmarkRng, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += String.fromCharCode(97 + rng.int(26));
  return s;
}

/**
 * Produces events by number. Reuse one instance for many events: it prepares its tables (a
 * random text, the channels' URLs) once and allocates nothing per event but the event itself.
 */
export class NexmarkGenerator {
  /** Event time (epoch ms) of the event last returned by `event`. */
  time = 0;
  readonly #rng: NexmarkRng;
  readonly #baseTime: number;
  readonly #delayUs: number;
  /** Auction horizon, ms of event time: `expires` is within 2 horizons of `dateTime`. */
  readonly #horizon: number;
  readonly #text: string;
  readonly #channelRng: NexmarkRng;
  /** Name and URL of each numbered channel, made when first drawn. */
  readonly #channelNames: (string | undefined)[] = new Array(CHANNELS);
  readonly #channelUrls: (string | undefined)[] = new Array(CHANNELS);
  readonly #hotUrls: string[] = [];

  constructor(settings: NexmarkSettings) {
    this.#rng = new NexmarkRng(settings.seed, SALT_EVENTS);
    this.#baseTime = settings.baseTime;
    this.#delayUs = 1e6 / settings.eventsPerSecond;
    this.#horizon = eventTime(0, this.#delayUs, AUCTION_HORIZON_EVENTS);
    const textRng = new NexmarkRng(settings.seed, SALT_TEXT);
    textRng.reset(0);
    this.#text = randomText(textRng, TEXT_LENGTH);
    this.#channelRng = new NexmarkRng(settings.seed, SALT_CHANNELS);
    for (let h = 0; h < HOT_CHANNELS.length; h++) this.#hotUrls.push(this.#url(CHANNELS + h));
  }

  /**
   * A channel's URL, a function of the seed and the channel alone; `channel_id=<channel>` on
   * 9 channels in 10.
   */
  #url(channel: number): string {
    const rng = this.#channelRng;
    rng.reset(channel);
    const withId = channel < CHANNELS && rng.int(URL_WITHOUT_ID_RATIO) > 0;
    const path = `${letters(rng, 3 + rng.int(3))}/${letters(rng, 3 + rng.int(3))}/${letters(rng, 3 + rng.int(3))}`;
    const url = `https://www.nexmark.com/${path}/item.htm?query=1`;
    return withId ? `${url}&channel_id=${channel}` : url;
  }

  /** Event time (epoch ms) of event `n`. */
  timeOf(n: number): number {
    return eventTime(this.#baseTime, this.#delayUs, n);
  }

  /** `event(n)`, as the indexed source reader asks for records. */
  record(n: number): NexmarkEvent {
    return this.event(n);
  }

  /** Event number `n` (0-based, a safe integer); its event time is left in `time`. */
  event(n: number): NexmarkEvent {
    const rng = this.#rng;
    rng.reset(n);
    const time = eventTime(this.#baseTime, this.#delayUs, n);
    this.time = time;
    const kind = eventKind(n);
    if (kind === BID) return { event_type: BID, person: null, auction: null, bid: this.#bid(n, time, rng) };
    if (kind === AUCTION)
      return { event_type: AUCTION, person: null, auction: this.#auction(n, time, rng), bid: null };
    return { event_type: PERSON, person: this.#person(n, time, rng), auction: null, bid: null };
  }

  #bid(n: number, time: number, rng: NexmarkRng): NexmarkBid {
    const auction =
      rng.int(HOT_AUCTION_RATIO) > 0
        ? Math.floor(lastAuction(n) / HOT_BLOCK) * HOT_BLOCK
        : nextAuction(n, rng);
    // The hot bidder is the second person of its block, so that it is not also the hot seller.
    const bidder =
      rng.int(HOT_BIDDER_RATIO) > 0
        ? Math.floor(lastPerson(n) / HOT_BLOCK) * HOT_BLOCK + 1
        : nextPerson(n, rng);
    const price = randomPrice(rng);
    let channel: string;
    let url: string;
    if (rng.int(HOT_CHANNEL_RATIO) > 0) {
      const h = rng.int(HOT_CHANNELS.length);
      channel = HOT_CHANNELS[h];
      url = this.#hotUrls[h];
    } else {
      const c = rng.int(CHANNELS);
      channel = this.#channelNames[c] ??= `channel-${c}`;
      url = this.#channelUrls[c] ??= this.#url(c);
    }
    const size = 4 * NUMBER_BYTES + channel.length + url.length;
    return {
      auction: auction + FIRST_AUCTION_ID,
      bidder: bidder + FIRST_PERSON_ID,
      price,
      channel,
      url,
      dateTime: time,
      extra: this.#extra(rng, size, AVG_BID_BYTES),
    };
  }

  #auction(n: number, time: number, rng: NexmarkRng): NexmarkAuction {
    const seller =
      rng.int(HOT_SELLER_RATIO) > 0 ? Math.floor(lastPerson(n) / HOT_BLOCK) * HOT_BLOCK : nextPerson(n, rng);
    const itemName = this.#string(rng, 20);
    const description = this.#string(rng, 100);
    const initialBid = randomPrice(rng);
    const reserve = initialBid + randomPrice(rng);
    const expires = time + 1 + rng.int(Math.max(2 * this.#horizon, 1));
    const category = FIRST_CATEGORY_ID + rng.int(CATEGORIES);
    const size = 7 * NUMBER_BYTES + itemName.length + description.length;
    return {
      id: lastAuction(n) + FIRST_AUCTION_ID,
      itemName,
      description,
      initialBid,
      reserve,
      dateTime: time,
      expires,
      seller: seller + FIRST_PERSON_ID,
      category,
      extra: this.#extra(rng, size, AVG_AUCTION_BYTES),
    };
  }

  #person(n: number, time: number, rng: NexmarkRng): NexmarkPerson {
    const name = `${FIRST_NAMES[rng.int(FIRST_NAMES.length)]} ${LAST_NAMES[rng.int(LAST_NAMES.length)]}`;
    const emailAddress = `${this.#string(rng, 7)}@${this.#string(rng, 5)}.com`;
    const creditCard = `${digits4(rng)} ${digits4(rng)} ${digits4(rng)} ${digits4(rng)}`;
    const city = CITIES[rng.int(CITIES.length)];
    const state = STATES[rng.int(STATES.length)];
    const size =
      2 * NUMBER_BYTES + name.length + emailAddress.length + creditCard.length + city.length + state.length;
    return {
      id: lastPerson(n) + FIRST_PERSON_ID,
      name,
      emailAddress,
      creditCard,
      city,
      state,
      dateTime: time,
      extra: this.#extra(rng, size, AVG_PERSON_BYTES),
    };
  }

  /** A random string of MIN_STRING to `maxLength - 1` characters. */
  #string(rng: NexmarkRng, maxLength: number): string {
    return this.#slice(rng, MIN_STRING + rng.int(maxLength - MIN_STRING));
  }

  /** Padding that brings a record of `size` bytes to about `average` (±20% of the gap); '' above it. */
  #extra(rng: NexmarkRng, size: number, average: number): string {
    if (size >= average) return '';
    const wanted = average - size;
    const delta = Math.round(wanted * 0.2);
    return this.#slice(rng, wanted - delta + (delta === 0 ? 0 : rng.int(2 * delta)));
  }

  /** `length` characters of the random text from a random place. */
  #slice(rng: NexmarkRng, length: number): string {
    const start = rng.int(TEXT_LENGTH - length + 1);
    return this.#text.substring(start, start + length);
  }
}

/** A log-uniform price in cents, from 100 (1.00) to 100,000,000: `round(10^(6u) × 100)`. */
function randomPrice(rng: NexmarkRng): number {
  return Math.round(10 ** (rng.float() * 6) * 100);
}

function digits4(rng: NexmarkRng): string {
  const n = rng.int(10_000);
  return n < 1000 ? String(n).padStart(4, '0') : String(n);
}
