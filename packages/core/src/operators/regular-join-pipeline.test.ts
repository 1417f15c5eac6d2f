/**
 * The regular join (a `join` with neither `between` nor `window`) run as pipelines — one source
 * split by two filters and joined again, two separate sources, an updating input from an
 * `aggregate` without a window — with its changelog folded into a table and compared with an
 * independent computation of the same SQL join, for every join kind and batch sizes 1, 7 and
 * 1024; across a crash and restore; and in the plan check (changelog modes, `ttl`).
 */

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { SluiceError } from '../errors.ts';
import { DELETE, INSERT, type Row, type RowKind, UPDATE_AFTER, UPDATE_BEFORE } from '../record.ts';
import {
  assertAccounting,
  canonical,
  Harness,
  planFrom,
  runCrashedAndRestored,
  sleep,
  testRegistry,
  waitFor,
} from '../runtime/engine-test-support.ts';
import { Job } from '../runtime/job.ts';
import { ManualClock, memoryChannel, memorySinkStore } from '../testing/index.ts';
import { seededRandom } from '../testing/random.ts';
import type { JoinKind } from './interval-join.ts';

const registry = testRegistry();
const h = new Harness();
afterEach(() => h.stopAll());

const KINDS = ['inner', 'left', 'right', 'full'] as const;
const KIND_LETTERS = ['+I', '-U', '+U', '-D'] as const;

// ---------------------------------------------------------------------------------------------
// Pipelines: folded changelogs against an independent computation of the SQL join.

/**
 * Customers and orders, mixed in one stream: 40 customer ids (some twice, with another name and
 * floor), orders for 50 ids (so some find no customer, and some customers no order). A few keys
 * are NULL; a few fail (`+ 0` of an object) or are missing (dead letters).
 */
function input(seed: number, n = 700): Row[] {
  const random = seededRandom(seed);
  const out: Row[] = [];
  for (let i = 0; i < n; i++) {
    const ts = 1_700_000_000_000 + i * 10;
    const r: Row =
      random() < 0.2
        ? {
            type: 'customer',
            id: Math.floor(random() * 40),
            name: `c${i}`,
            floor: Math.floor(random() * 60),
            ts,
          }
        : {
            type: 'order',
            oid: i,
            customer: Math.floor(random() * 50),
            amount: Math.floor(random() * 100),
            ts,
          };
    const odd = random();
    const field = r.type === 'order' ? 'customer' : 'id';
    if (odd < 0.02) r[field] = null;
    else if (odd < 0.03) r[field] = { nested: true };
    else if (odd < 0.035) delete r[field];
    out.push(r);
  }
  return out;
}

/** Whether a key would be a dead letter: missing, or not a number (`+ 0` refuses objects). */
const failsKey = (v: unknown) => v === undefined || (typeof v === 'object' && v !== null);

/**
 * The same join computed apart from the engine, as SQL defines it over the final tables:
 * `orders <kind> JOIN customers ON orders.customer = customers.id AND orders.amount >= customers.floor`.
 */
function expectedTable(
  orders: readonly Row[],
  customers: readonly Row[],
  kind: JoinKind,
  row: (o: Row | null, c: Row | null) => Row,
  lk: (o: Row) => unknown,
  residual: (o: Row, c: Row) => boolean,
): Map<string, number> {
  const rows: Row[] = [];
  const matchedCustomers = new Set<Row>();
  for (const o of orders) {
    let matched = false;
    for (const c of customers) {
      if (lk(o) === null || lk(o) !== c.id || !residual(o, c)) continue;
      rows.push(row(o, c));
      matched = true;
      matchedCustomers.add(c);
    }
    if (!matched && (kind === 'left' || kind === 'full')) rows.push(row(o, null));
  }
  if (kind === 'right' || kind === 'full')
    for (const c of customers) if (!matchedCustomers.has(c)) rows.push(row(null, c));
  return multiset(rows);
}

function multiset(rows: readonly Row[]): Map<string, number> {
  const table = new Map<string, number>();
  for (const r of rows) table.set(canonical(r), (table.get(canonical(r)) ?? 0) + 1);
  return new Map([...table].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Folds a retract changelog into its table; every retraction must remove a row that is there. */
function fold(log: readonly { record: Row; kind?: RowKind }[]): Map<string, number> {
  const table = new Map<string, number>();
  for (const { record, kind } of log) {
    const key = canonical(record);
    const n = table.get(key) ?? 0;
    if (kind === undefined || kind === INSERT || kind === UPDATE_AFTER) table.set(key, n + 1);
    else {
      assert.ok(n > 0, `a ${KIND_LETTERS[kind]} of a row not in the table: ${key}`);
      if (n === 1) table.delete(key);
      else table.set(key, n - 1);
    }
  }
  return new Map([...table].sort(([a], [b]) => (a < b ? -1 : 1)));
}

let runs = 0;

interface Run {
  table: Map<string, number>;
  dead: string[];
  /** Changes that retract a row (update-before, delete). */
  retractions: number;
}

/** Runs `yaml` (sources reading channels `<name>-<source>`), pushing `feeds`, to the end. */
async function run(
  yaml: (name: string) => string,
  feeds: { [source: string]: readonly Row[] },
): Promise<Run> {
  const name = `rjoin-${++runs}`;
  const channels = Object.entries(feeds).map(([source, rows]) => {
    const channel = memoryChannel(`${name}-${source}`, ['p0']);
    return { channel, rows };
  });
  const plan = planFrom(yaml(name), await h.dir(), registry);
  const job = await Job.create(plan, { registry, clock: new ManualClock(0), tickInterval: 5 });
  const running = h.run(job);
  for (const { channel, rows } of channels) {
    channel.push('p0', ...rows);
    channel.end();
  }
  const result = await running;
  assert.equal(result.status, 'completed');
  assertAccounting(result.metrics);
  const written = memorySinkStore(`${name}-out`).written;
  return {
    table: fold(written),
    dead: memorySinkStore(`${name}-dead`)
      .committed.map(({ failedAt: _, ...rest }) => canonical(rest))
      .sort(),
    retractions: written.filter((w) => w.kind === UPDATE_BEFORE || w.kind === DELETE).length,
  };
}

const diamond = (kind: JoinKind, batch: number) => (name: string) =>
  `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt }, batch_size: ${batch} }
sources:
  events: { type: memory, channel: ${name}-events, event_time: { field: ts, max_out_of_orderness: 1s } }
steps:
  - { id: orders, type: filter, input: events, where: "type = 'order'" }
  - { id: customers, type: filter, input: events, where: "type = 'customer'" }
  - id: joined
    type: join
    input: [orders, customers]
    kind: ${kind}
    on: orders.customer + 0 = customers.id + 0 AND orders.amount >= customers.floor
    fields: { oid: orders.oid, amount: orders.amount, customer: customers.id, name: customers.name }
sinks:
  out: { type: memory, store: ${name}-out, input: joined, changelog: true }
dead_letter: { type: memory, store: ${name}-dead }
`;

const FIELD_ROW = (o: Row | null, c: Row | null): Row => ({
  oid: o?.oid ?? null,
  amount: o?.amount ?? null,
  customer: c?.id ?? null,
  name: c?.name ?? null,
});

function validOf(records: readonly Row[]): { orders: Row[]; customers: Row[] } {
  const orders = records.filter((r) => r.type === 'order' && !failsKey(r.customer));
  const customers = records.filter((r) => r.type === 'customer' && !failsKey(r.id));
  return { orders, customers };
}

describe('regular join in a pipeline', () => {
  const records = input(7);
  const { orders, customers } = validOf(records);

  for (const kind of KINDS) {
    test(`${kind}, one source split and joined again: the folded changelog is the SQL join, for batch sizes 1, 7 and 1024`, async () => {
      const want = expectedTable(
        orders,
        customers,
        kind,
        FIELD_ROW,
        (o) => o.customer,
        (o, c) => (o.amount as number) >= (c.floor as number),
      );
      assert.ok(want.size > 150, `rows (${want.size})`);
      const one = await run(diamond(kind, 1), { events: records });
      assert.deepEqual(one.table, want);
      assert.ok(one.dead.length > 5, `dead letters (${one.dead.length})`);
      for (const size of [7, 1024]) {
        const other = await run(diamond(kind, size), { events: records });
        assert.deepEqual(other.table, one.table, `table, batch size ${size}`);
        assert.deepEqual(other.dead, one.dead, `dead letters, batch size ${size}`);
      }
    });
  }

  const twoSources = (kind: JoinKind, batch: number) => (name: string) =>
    `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt }, batch_size: ${batch} }
sources:
  orders: { type: memory, channel: ${name}-orders }
  customers: { type: memory, channel: ${name}-customers }
steps:
  - id: joined
    type: join
    input: [orders, customers]
    kind: ${kind}
    on: orders.customer + 0 = customers.id + 0
sinks:
  out: { type: memory, store: ${name}-out, input: joined, changelog: true }
dead_letter: { type: memory, store: ${name}-dead }
`;

  for (const kind of KINDS) {
    test(`${kind}, two sources, the pair as output: the SQL join, for batch sizes 1, 7 and 1024`, async () => {
      const allOrders = records.filter((r) => r.type === 'order');
      const allCustomers = records.filter((r) => r.type === 'customer');
      const want = expectedTable(
        orders,
        customers,
        kind,
        (o, c) => ({ orders: o, customers: c }),
        (o) => o.customer,
        () => true,
      );
      let first: Run | undefined;
      for (const size of [1, 7, 1024]) {
        const got = await run(twoSources(kind, size), { orders: allOrders, customers: allCustomers });
        assert.deepEqual(got.table, want, `table, batch size ${size}`);
        if (first === undefined) first = got;
        else assert.deepEqual(got.dead, first.dead, `dead letters, batch size ${size}`);
      }
    });
  }

  const updating = (kind: JoinKind, batch: number) => (name: string) =>
    `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt }, batch_size: ${batch} }
sources:
  events: { type: memory, channel: ${name}-events, event_time: { field: ts } }
steps:
  - { id: orders, type: filter, input: events, where: "type = 'order' AND customer + 0 IS NOT NULL" }
  - { id: customers, type: filter, input: events, where: "type = 'customer'" }
  - id: totals
    type: aggregate
    input: orders
    key: [customer]
    fields: { n: count(*), spent: sum(amount) }
  - id: joined
    type: join
    input: [totals, customers]
    kind: ${kind}
    on: totals.customer = customers.id + 0 AND totals.spent > customers.floor * 3
    fields: { customer: totals.customer, n: totals.n, spent: totals.spent, name: customers.name }
sinks:
  out: { type: memory, store: ${name}-out, input: joined, changelog: true }
dead_letter: { type: memory, store: ${name}-dead }
`;

  for (const kind of KINDS) {
    test(`${kind} with an updating input (an aggregate without a window): the join of its final table`, async () => {
      const clean = records.filter((r) => r.type !== 'order' || typeof r.customer === 'number');
      const totals = new Map<number, { customer: number; n: number; spent: number }>();
      for (const o of clean) {
        if (o.type !== 'order') continue;
        const t = totals.get(o.customer as number) ?? { customer: o.customer as number, n: 0, spent: 0 };
        t.n++;
        t.spent += o.amount as number;
        totals.set(t.customer, t);
      }
      const want = expectedTable(
        [...totals.values()],
        customers,
        kind,
        (t, c) => ({
          customer: t?.customer ?? null,
          n: t?.n ?? null,
          spent: t?.spent ?? null,
          name: c?.name ?? null,
        }),
        (t) => t.customer,
        (t, c) => (t.spent as number) > (c.floor as number) * 3,
      );
      let first: Run | undefined;
      for (const size of [1, 7, 1024]) {
        const got = await run(updating(kind, size), { events: clean });
        assert.deepEqual(got.table, want, `table, batch size ${size}`);
        // Record by record, the aggregate's updates meet customers already there and retract
        // pairs; in one batch of 1024, the whole orders branch may come before the customers.
        if (size === 1) assert.ok(got.retractions > 100, `retractions (${got.retractions})`);
        if (first === undefined) first = got;
        else assert.deepEqual(got.dead, first.dead, `dead letters, batch size ${size}`);
      }
    });
  }

  test('a run crashed mid-join and restored from its checkpoint folds into the same table', async () => {
    const dir = await h.dir();
    const name = `rjoin-${++runs}`;
    const channel = memoryChannel(`${name}-events`, ['p0']);
    const yaml = diamond(
      'full',
      32,
    )(name).replace(
      `out: { type: memory, store: ${name}-out, input: joined, changelog: true }`,
      'out: { type: file, path: ./out/changes.jsonl, input: joined, changelog: debezium }',
    );
    const plan = planFrom(yaml, dir, registry);
    const result = await runCrashedAndRestored(h, registry, plan, channel, records, {
      checkpointAt: 300,
      crashAt: 500,
      onRestored: (job) => assert.equal(job.metrics().recordsIn, 300, 'restored the checkpoint'),
    });
    assert.equal(result.status, 'completed');
    const text = await readFile(join(dir, 'out', 'changes.jsonl'), 'utf8');
    const log: { record: Row; kind: RowKind }[] = [];
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const { before, after } = JSON.parse(line) as { before: Row | null; after: Row | null };
      if (before !== null && before !== undefined) log.push({ record: before, kind: DELETE });
      if (after !== null && after !== undefined) log.push({ record: after, kind: INSERT });
    }
    const want = expectedTable(
      orders,
      customers,
      'full',
      FIELD_ROW,
      (o) => o.customer,
      (o, c) => (o.amount as number) >= (c.floor as number),
    );
    assert.deepEqual(fold(log), want);
  });
});

// ---------------------------------------------------------------------------------------------
// The plan: changelog modes and configuration errors.

describe('regular join ttl in a job', () => {
  test('the job clock forgets a key: a row that waited longer than the ttl no longer joins', async () => {
    const results: number[] = [];
    for (const wait of [500, 1_500]) {
      const name = `rjoin-${++runs}`;
      const yaml = `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt } }
sources:
  orders: { type: memory, channel: ${name}-orders }
  customers: { type: memory, channel: ${name}-customers }
steps:
  - { id: joined, type: join, input: [orders, customers], on: orders.c = customers.id, ttl: 1s }
sinks:
  out: { type: memory, store: ${name}-out, input: joined }
`;
      const orders = memoryChannel(`${name}-orders`, ['p0']);
      const customers = memoryChannel(`${name}-customers`, ['p0']);
      const clock = new ManualClock(1_000_000);
      const job = await Job.create(planFrom(yaml, await h.dir(), registry), {
        registry,
        clock,
        tickInterval: 5,
      });
      const running = h.run(job);
      orders.push('p0', { c: 1, n: 'kept a while' });
      await waitFor('the order read', () => job.metrics().recordsIn === 1);
      clock.advance(wait);
      await sleep(30); // a few processing-time ticks at the new time
      customers.push('p0', { id: 1 });
      orders.end();
      customers.end();
      assert.equal((await running).status, 'completed');
      results.push(memorySinkStore(`${name}-out`).committed.length);
    }
    assert.deepEqual(results, [1, 0], 'joined within the ttl, forgotten after it');
  });
});

describe('regular join in the plan check', () => {
  const plan = (dir: string, join: string, sink = '') =>
    planFrom(
      `
name: rjoin-plan
sources:
  orders: { type: memory, channel: rjoin-plan-orders }
  customers: { type: memory, channel: rjoin-plan-customers }
steps:
  - { id: j, type: join, input: [orders, customers], on: orders.c = customers.id, ${join} }
sinks:
  out: { type: memory, store: rjoin-plan, input: j${sink} }
`,
      dir,
      registry,
    );

  test('an outer join into an append-only sink is refused; an inner join of appends is not', async () => {
    const dir = await h.dir();
    for (const kind of ['left', 'right', 'full']) {
      await assert.rejects(Job.validate(plan(dir, `kind: ${kind}`), { registry }), (err: unknown) => {
        assert.ok(err instanceof SluiceError);
        assert.equal(err.code, 'PLAN_CHANGELOG_MISMATCH');
        assert.equal(err.step, 'out');
        assert.match(
          err.message,
          new RegExp(
            `sink 'out' \\(memory\\) takes only appends, but its input 'j' is a retract changelog .* because step 'j' \\(join\\) emits one: a ${kind} join without \`between\` or \`window\` emits a row without a match at once.*; to write the changes, set \`changelog: true\``,
          ),
        );
        return true;
      });
      await Job.validate(plan(dir, `kind: ${kind}`, ', changelog: true'), { registry });
    }
    await Job.validate(plan(dir, 'kind: inner'), { registry });
    await Job.validate(plan(dir, 'kind: inner, between: [0s, 1s]'), { registry });
  });

  test('an inner join of an updating input is updating too', async () => {
    const dir = await h.dir();
    const text = `
name: rjoin-updating
sources:
  orders: { type: memory, channel: rjoin-updating-orders }
  customers: { type: memory, channel: rjoin-updating-customers }
steps:
  - { id: totals, type: aggregate, input: orders, key: [c], fields: { n: count(*) } }
  - { id: j, type: join, input: [totals, customers], on: totals.c = customers.id }
sinks:
  out: { type: memory, store: rjoin-updating, input: j }
`;
    await assert.rejects(Job.validate(planFrom(text, dir, registry), { registry }), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'PLAN_CHANGELOG_MISMATCH');
      assert.match(err.message, /made updating by step 'totals'/);
      return true;
    });
    // An interval join takes appends only.
    await assert.rejects(
      Job.validate(
        planFrom(text.replace('customers.id }', 'customers.id, between: [0s, 1s] }'), dir, registry),
        {
          registry,
        },
      ),
      /step 'j' \(join\) takes only appends/,
    );
  });

  test('ttl is a duration, and only for a regular join', async () => {
    const dir = await h.dir();
    await Job.validate(plan(dir, 'ttl: 1h'), { registry });
    await assert.rejects(Job.validate(plan(dir, 'ttl: soon'), { registry }), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.deepEqual([err.step, err.path], ['j', 'ttl']);
      return true;
    });
    await assert.rejects(
      Job.validate(plan(dir, 'ttl: 1h, between: [0s, 1s]'), { registry }),
      (err: unknown) => {
        assert.ok(err instanceof SluiceError);
        assert.deepEqual([err.code, err.step, err.path], ['CONFIG_INVALID', 'j', 'ttl']);
        return true;
      },
    );
  });
});
