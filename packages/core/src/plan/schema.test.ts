/**
 * The schema gate: what each step's records look like, worked out through the plan from the
 * sources that know theirs (here the `nexmark` source), and the mistakes it catches before a job
 * runs — a misspelt field at any depth, an aggregate over text — each with its file and line.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { builtins } from '../builtins.ts';
import { SluiceError } from '../errors.ts';
import { Registry } from '../registry.ts';
import { parsePipelineYaml } from '../yaml/load.ts';
import { resolvePlan } from './resolve.ts';
import type { Schema } from './schema.ts';

const registry = new Registry([builtins]);

function resolve(steps: string, source = 'type: nexmark, events: 10') {
  const text = `name: typed
sources:
  events: { ${source} }
steps:
${steps}
sinks:
  out: { type: discard }
`;
  return resolvePlan(parsePipelineYaml(text, '/tmp/typed/pipeline.yaml', { registry }), registry);
}

function refused(steps: string, pattern: RegExp, line: number): void {
  assert.throws(
    () => resolve(steps),
    (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code === 'PLAN_TYPE_ERROR' || err.code === 'CONFIG_INVALID', true, err.code);
      assert.match(err.message, pattern);
      assert.equal(err.line, line, `line of ${err.message}`);
      return true;
    },
  );
}

const names = (s: Schema | undefined) => s?.fields.map((f) => `${f.name}:${f.type}`);

describe('schemas through a plan', () => {
  test('a misspelt nested field is refused with the fields there are and a guess', () => {
    refused(
      `  - id: bids
    type: filter
    where: event_type = 2 AND bid.pricee > 100`,
      /bid has no field 'pricee'; did you mean 'price'\? \(its fields: auction, bidder, price, channel, url, dateTime, extra\)/,
      7,
    );
  });

  test('a field a map did not select is gone after it', () => {
    refused(
      `  - { id: slim, type: map, select: [event_type], fields: { price: bid.price } }
  - { id: cheap, type: filter, where: "price < 10 AND bid.price > 0" }`,
      /the record has no field 'bid'/,
      6,
    );
  });

  test('an aggregate over text is refused before the job runs', () => {
    refused(
      `  - id: totals
    type: aggregate
    key: [event_type]
    window: { type: tumbling, size: 10s }
    fields: { total: sum(bid.channel) }`,
      /sum\(\) needs numbers, but bid\.channel is a string; convert it with sum\(CAST\(bid\.channel AS DOUBLE\)\)/,
      9,
    );
  });

  test('a join reads each side by its input id, nested fields and all', () => {
    refused(
      `  - { id: persons, type: filter, input: events, where: event_type = 0 }
  - { id: auctions, type: filter, input: events, where: event_type = 1 }
  - id: q8
    type: join
    input: [persons, auctions]
    on: persons.person.id = auctions.auction.sellerr
    window: { type: tumbling, size: 10s }`,
      /auctions\.auction has no field 'sellerr'; did you mean 'seller'\?/,
      10,
    );
  });

  test('each step gets the schema its records have', () => {
    const plan = resolve(`  - { id: persons, type: filter, input: events, where: event_type = 0 }
  - { id: auctions, type: filter, input: events, where: event_type = 1 }
  - id: q8
    type: join
    input: [persons, auctions]
    on: persons.person.id = auctions.auction.seller
    window: { type: tumbling, size: 10s }
    fields: { id: persons.person.id, name: persons.person.name, starttime: window_start }
  - id: per_seller
    type: aggregate
    input: q8
    key: [name]
    window: { type: tumbling, size: 1m }
    fields: { n: count(*), first_id: min(id), mean: avg(id) }`);
    assert.deepEqual(names(plan.schemas?.q8), ['id:number', 'name:string', 'starttime:number']);
    assert.equal(plan.schemas?.q8.open, false);
    assert.deepEqual(names(plan.schemas?.per_seller), [
      'name:string',
      'window_start:number',
      'window_end:number',
      'n:number',
      'first_id:number',
      'mean:number',
    ]);
    assert.deepEqual(names(plan.schemas?.persons), names(plan.schemas?.events));
  });

  test('records of unknown shape are never refused', () => {
    const plan = resolve(
      `  - { id: f, type: filter, where: "anything.at.all > 1" }
  - { id: m, type: map, fields: { x: whatever + 1 } }`,
      'type: file, path: in.jsonl',
    );
    assert.equal(plan.schemas?.m.open, true);
  });
});
