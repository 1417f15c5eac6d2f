/**
 * `Stream.join` in the TypeScript API builds the same `join` step a YAML pipeline writes, and runs.
 */

import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { Harness, testRegistry } from '../runtime/engine-test-support.ts';
import { Job } from '../runtime/job.ts';
import { ManualClock, memoryChannel, memorySinkStore } from '../testing/index.ts';
import { memorySink, memorySource } from '../testing/memory.ts';
import { sinkOf, sourceOf } from './components.ts';
import { pipeline, tumbling } from './pipeline.ts';

const registry = testRegistry();
const h = new Harness();
afterEach(() => h.stopAll());

const memory = sourceOf(memorySource);
const collect = sinkOf(memorySink);

interface Bid {
  auction: number;
  price: number;
  ts: number;
}
interface Auction {
  id: number;
  seller: string;
  ts: number;
}

test('a window join and an interval join written in TypeScript', async () => {
  const p = pipeline('ts-join', { checkpoint: { interval: '0s', dir: './ckpt' } });
  const eventTime = { field: 'ts', maxOutOfOrderness: '1s' };
  const bids = p.from('bids', memory<Bid>({ channel: 'ts-join-bids', eventTime }));
  const auctions = p.from('auctions', memory<Auction>({ channel: 'ts-join-auctions', eventTime }));
  bids
    .join('windowed', auctions, {
      on: 'bids.auction = auctions.id',
      window: tumbling('10s'),
      fields: { price: 'bids.price', seller: 'auctions.seller', start: 'window_start' },
    })
    .to('out_window', collect({ store: 'ts-join-window' }));
  bids
    .join('near', auctions, {
      on: 'bids.auction = auctions.id',
      between: ['-2s', '2s'],
      kind: 'left',
      onLate: 'drop',
    })
    .to('out_interval', collect({ store: 'ts-join-interval' }));
  const { plan, functions } = p.build(await h.dir());
  assert.deepEqual(
    plan.steps.find((s) => s.id === 'windowed'),
    {
      id: 'windowed',
      type: 'join',
      inputs: ['bids', 'auctions'],
      config: {
        on: 'bids.auction = auctions.id',
        fields: { price: 'bids.price', seller: 'auctions.seller', start: 'window_start' },
        window: { type: 'tumbling', size: '10s' },
      },
    },
  );
  const bidChannel = memoryChannel('ts-join-bids');
  const auctionChannel = memoryChannel('ts-join-auctions');
  const job = await Job.create(plan, { registry, functions, clock: new ManualClock(0), tickInterval: 5 });
  const running = h.run(job);
  bidChannel.push('p0', { auction: 1, price: 5, ts: 1_000 }, { auction: 2, price: 7, ts: 12_000 });
  auctionChannel.push('p0', { id: 1, seller: 'ann', ts: 2_000 }, { id: 2, seller: 'bob', ts: 15_000 });
  bidChannel.end();
  auctionChannel.end();
  assert.equal((await running).status, 'completed');
  assert.deepEqual(memorySinkStore('ts-join-window').committed, [
    { price: 5, seller: 'ann', start: 0 },
    { price: 7, seller: 'bob', start: 10_000 },
  ]);
  assert.deepEqual(
    memorySinkStore('ts-join-interval').committed.map((r) => [
      (r.bids as Bid).price,
      (r.auctions as Auction | null)?.seller ?? null,
    ]),
    [
      [5, 'ann'],
      [7, null],
    ],
  );
});
