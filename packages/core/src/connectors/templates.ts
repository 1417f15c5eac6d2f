/**
 * Record templates of the `generate` source: orders, clicks and sensor readings.
 *
 * A template prepares its lookup tables once (key names, per-key attributes) and returns a
 * builder: a function of (index, event time, rng) that draws a fixed number of random values and
 * builds one object literal, so every record of a template shares one hidden class.
 */

import type { Row } from '../record.ts';
import type { Rng } from './generate-rng.ts';

/** Names of the built-in templates. */
export type TemplateName = 'orders' | 'clicks' | 'sensors';

/** Builds record `index` with event time `ts`; `rng` is already positioned at `index`. */
export type RecordBuilder = (index: number, ts: number, rng: Rng) => Row;

/** One record template. */
export interface Template {
  /** Markdown: the fields, their ranges, and what `keys` counts. */
  readonly description: string;
  /** Distinct keys when the `keys` option is not set. */
  readonly defaultKeys: number;
  /** Prepares the tables for `keys` distinct keys and returns the record builder. */
  prepare(keys: number): RecordBuilder;
  /**
   * Makes `record` invalid in one of the template's ways (a wrong type or a missing required
   * field), chosen with `rng`. `seq` and `ts` stay intact. May mutate and return `record`.
   */
  corrupt(record: Row, rng: Rng): Row;
}

const CACHED_NAMES = 65_536;

/** Key names `prefix + i`, built once for the first 65,536 keys and on the fly above that. */
class Names {
  readonly #prefix: string;
  readonly #cached: string[] = [];

  constructor(prefix: string, count: number) {
    this.#prefix = prefix;
    for (let i = 0; i < Math.min(count, CACHED_NAMES); i++) this.#cached.push(prefix + i);
  }

  get(i: number): string {
    return i < this.#cached.length ? this.#cached[i] : this.#prefix + i;
  }
}

const REGIONS: readonly (readonly [string, string])[] = [
  ['eu-west', 'EUR'],
  ['us-east', 'USD'],
  ['us-west', 'USD'],
  ['eu-central', 'EUR'],
  ['ap-southeast', 'SGD'],
  ['ap-northeast', 'JPY'],
  ['sa-east', 'BRL'],
  ['uk-south', 'GBP'],
  ['ca-central', 'CAD'],
  ['ap-south', 'INR'],
  ['eu-north', 'SEK'],
  ['af-south', 'ZAR'],
  ['me-central', 'AED'],
  ['au-southeast', 'AUD'],
  ['us-central', 'USD'],
  ['ap-east', 'HKD'],
];

const CUSTOMERS_PER_REGION = 1000;

const orders: Template = {
  description:
    '`{ order_id, seq, ts, customer_id, region, amount, currency, items }`. `keys` is the number of ' +
    'regions (default 8: `eu-west`, `us-east`, `us-west`, `eu-central`, …; beyond 16, `region-<n>`). ' +
    'There are 1,000 customers (`c-<n>`) per region; customer `c-<n>` always orders in region ' +
    '`n mod keys`, and `currency` follows the region. `amount` is 1.00–500.00 with two decimals, ' +
    '`items` 1–5.',
  defaultKeys: 8,
  prepare(keys) {
    const regions: string[] = [];
    const currencies: string[] = [];
    for (let i = 0; i < keys; i++) {
      const known = REGIONS[i];
      regions.push(known ? known[0] : `region-${i}`);
      currencies.push(known ? known[1] : 'USD');
    }
    const customerCount = keys * CUSTOMERS_PER_REGION;
    const customers = new Names('c-', customerCount);
    return (index, ts, rng) => {
      const customer = rng.int(customerCount);
      const region = customer % keys;
      return {
        order_id: 'o-' + index,
        seq: index,
        ts,
        customer_id: customers.get(customer),
        region: regions[region],
        amount: (100 + rng.int(49_901)) / 100,
        currency: currencies[region],
        items: 1 + rng.int(5),
      };
    };
  },
  corrupt(record, rng) {
    switch (rng.int(4)) {
      case 0:
        record.amount = 'abc';
        break;
      case 1:
        delete record.region;
        break;
      case 2:
        record.customer_id = null;
        break;
      default:
        record.items = 'two';
    }
    return record;
  },
};

const PAGES = [
  '/',
  '/search',
  '/products',
  '/products/shoes',
  '/products/jackets',
  '/products/bags',
  '/cart',
  '/checkout',
  '/account',
  '/help',
  '/blog',
  '/about',
];

const REFERRERS = [
  'direct',
  'google.com',
  'bing.com',
  'duckduckgo.com',
  'news.ycombinator.com',
  'twitter.com',
  'facebook.com',
  'newsletter',
];

const clicks: Template = {
  description:
    '`{ seq, ts, user_id, page, referrer, duration_ms }`. `keys` is the number of users ' +
    '(`u-<n>`, default 1,000). `page` is one of 12 paths, `referrer` one of 8 sources (`direct`, ' +
    '`google.com`, …), `duration_ms` 50–30,049, skewed towards short visits.',
  defaultKeys: 1000,
  prepare(keys) {
    const users = new Names('u-', keys);
    return (index, ts, rng) => ({
      seq: index,
      ts,
      user_id: users.get(rng.int(keys)),
      page: PAGES[rng.int(PAGES.length)],
      referrer: REFERRERS[rng.int(REFERRERS.length)],
      duration_ms: 50 + Math.floor(rng.float() * rng.float() * 30_000),
    });
  },
  corrupt(record, rng) {
    switch (rng.int(3)) {
      case 0:
        record.duration_ms = 'slow';
        break;
      case 1:
        delete record.user_id;
        break;
      default:
        record.page = 404;
    }
    return record;
  },
};

const sensors: Template = {
  description:
    '`{ seq, ts, sensor_id, temperature, humidity, battery }`. `keys` is the number of sensors ' +
    '(`sensor-<n>`, default 100); they report in turn (record `i` comes from sensor `i mod keys`). ' +
    '`temperature` (°C, one decimal) varies ±2 around a per-sensor base of 15–30, `humidity` is ' +
    '30.0–80.0 %, `battery` an integer percentage that drops by one every 1,000 readings of a sensor.',
  defaultKeys: 100,
  prepare(keys) {
    const names = new Names('sensor-', keys);
    const bases: number[] = [];
    for (let i = 0; i < Math.min(keys, CACHED_NAMES); i++) bases.push(15 + ((i * 7919) % 151) / 10);
    return (index, ts, rng) => {
      const sensor = index % keys;
      const base = sensor < bases.length ? bases[sensor] : 15 + ((sensor * 7919) % 151) / 10;
      return {
        seq: index,
        ts,
        sensor_id: names.get(sensor),
        temperature: Math.round((base + rng.float() * 4 - 2) * 10) / 10,
        humidity: Math.round(300 + rng.float() * 500) / 10,
        battery: 100 - (Math.floor(index / keys / 1000) % 101),
      };
    };
  },
  corrupt(record, rng) {
    switch (rng.int(3)) {
      case 0:
        record.temperature = 'hot';
        break;
      case 1:
        delete record.sensor_id;
        break;
      default:
        record.humidity = null;
    }
    return record;
  },
};

/** The built-in templates by name. */
export const templates: { readonly [name in TemplateName]: Template } = { orders, clicks, sensors };

/** Template names, in the order the reference lists them. */
export const templateNames: readonly TemplateName[] = ['orders', 'clicks', 'sensors'];
