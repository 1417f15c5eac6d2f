/**
 * The `lookup` step against a real HTTP server on loopback and a file table: hits, misses per
 * policy, the cache (counted on the server), its time to live, transient errors retried,
 * permanent errors and timeouts dead-lettered, identical results for batch sizes 1, 7 and 1024,
 * a crash and restore that loses and repeats nothing, and backpressure from a slow server.
 */

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { httpTable } from '../api/builtin-components.ts';
import { sinkOf, sourceOf } from '../api/components.ts';
import { pipeline } from '../api/pipeline.ts';
import { resolvePlan } from '../plan/resolve.ts';
import type { Row } from '../record.ts';
import {
  assertAccounting,
  Harness,
  planFrom,
  runCrashedAndRestored,
  testRegistry,
  waitFor,
} from '../runtime/engine-test-support.ts';
import { Job, type JobResult } from '../runtime/job.ts';
import { ManualClock, memoryChannel, memorySinkStore } from '../testing/index.ts';
import { memorySink, memorySource } from '../testing/memory.ts';
import { parsePipelineYaml } from '../yaml/index.ts';
import { CustomerApi } from './lookup-test-support.ts';

const registry = testRegistry();
const memory = sourceOf(memorySource);
const collect = sinkOf(memorySink);
const h = new Harness();
afterEach(() => h.stopAll());

let api: CustomerApi;
before(async () => {
  api = await new CustomerApi().start();
  for (let c = 0; c < 20; c++) api.set(`c${c}`, { row: { id: `c${c}`, name: `Customer ${c}`, tier: c % 3 } });
  api.set('flaky', { status: 503, times: 2, row: { id: 'flaky', name: 'Flaky', tier: 0 } });
  api.set('down', { status: 503 });
  api.set('bad', { status: 400, body: 'invalid customer id' });
  api.set('gone', { status: 403, body: 'not yours' });
  api.set('slow', { hang: true });
});
after(() => api.stop());

type Order = {
  id: number;
  customer: string | null;
  ts: number;
};

/** Orders over 20 known customers, with misses, a NULL key and (with `troubles`) bad keys. */
function orders(n: number, troubles = false): Order[] {
  return Array.from({ length: n }, (_, i) => {
    let customer: string | null = `c${(i * 7) % 20}`;
    if (i % 13 === 5) customer = `missing${i % 3}`;
    if (i % 31 === 9) customer = null;
    if (troubles && i === 40) customer = 'flaky';
    if (troubles && i === 41) customer = 'bad';
    if (troubles && i === 42) customer = 'down';
    if (troubles && i === 43) customer = 'gone';
    return { id: i, customer, ts: 1_000 * i };
  });
}

let runs = 0;

function yamlOf(name: string, step: string, batchSize: number): string {
  return `
name: ${name}
settings: { checkpoint: { interval: 0, dir: ./ckpt }, batch_size: ${batchSize} }
sources:
  orders: { type: memory, channel: ${name}, event_time: { field: ts } }
steps:
  - id: enrich
    input: orders
${step
  .trim()
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}
sinks:
  out: { type: memory, store: ${name}-out, input: enrich }
dead_letter: { type: memory, store: ${name}-dead }
`;
}

interface Run {
  name: string;
  result: JobResult;
  out: Row[];
  dead: Row[];
}

/** Runs the step over `input` in one go (or in `parts`, with `between` run after each but the last). */
async function run(
  step: string,
  input: readonly Order[],
  options: { batchSize?: number; parts?: number; between?: (clock: ManualClock) => void } = {},
): Promise<Run> {
  const name = `lookup-${++runs}`;
  const channel = memoryChannel(name);
  const dir = await h.dir();
  const plan = planFrom(yamlOf(name, step, options.batchSize ?? 16), dir, registry);
  const clock = new ManualClock(1_000_000);
  const job = await Job.create(plan, { registry, clock, tickInterval: 5 });
  const running = h.run(job);
  const parts = options.parts ?? 1;
  const size = Math.ceil(input.length / parts);
  for (let p = 0; p < parts; p++) {
    const slice = input.slice(p * size, (p + 1) * size);
    channel.push('p0', ...slice.map((r) => ({ ...r })));
    const read = Math.min(input.length, (p + 1) * size);
    await waitFor(`${read} records through`, () => {
      const c = job.metrics().steps.enrich;
      return c !== undefined && c.out + c.dead + c.filtered === read;
    });
    if (p < parts - 1) options.between?.(clock);
  }
  channel.end();
  const result = await running;
  assert.equal(result.status, 'completed');
  assertAccounting(result.metrics);
  return {
    name,
    result,
    out: memorySinkStore(`${name}-out`).committed,
    dead: memorySinkStore(`${name}-dead`).committed.map(({ failedAt: _, ...d }) => d),
  };
}

/** The step against the test server, with `extra` options, and `table` options besides the URL. */
const step = (extra = '', table = '') => `
type: lookup
table: { type: http, url: "${api.url}"${table} }
key: customer
as: customer_row
${extra}`;

describe('lookup (http)', () => {
  test('hits carry the row; a miss and a NULL key carry NULL (on_miss: null)', async () => {
    const input = orders(60);
    const r = await run(step(), input);
    assert.equal(r.out.length, 60);
    for (const [i, o] of r.out.entries()) {
      const customer = input[i].customer;
      const known = customer !== null && /^c\d+$/.test(customer);
      assert.deepEqual(
        o.customer_row,
        known
          ? { id: customer, name: `Customer ${customer.slice(1)}`, tier: Number(customer.slice(1)) % 3 }
          : null,
      );
      assert.equal(o.id, i, 'in input order');
    }
    const unquoted = await run(step('on_miss: null'), input);
    assert.deepEqual(unquoted.out, r.out, 'YAML null means the policy null');
  });

  test('on_miss: drop counts misses as filtered; dead_letter sends them to the dead letters', async () => {
    const input = orders(60);
    const misses = input.filter((o) => o.customer === null || !/^c\d+$/.test(o.customer)).length;
    const dropped = await run(step('on_miss: drop'), input);
    assert.equal(dropped.out.length, 60 - misses);
    assert.equal(dropped.result.metrics.steps.enrich.filtered, misses);
    const dead = await run(step('on_miss: dead_letter'), input);
    assert.equal(dead.out.length, 60 - misses);
    assert.equal(dead.dead.length, misses);
    assert.ok(dead.dead.every((d) => d.code === 'LOOKUP_MISS' && d.step === 'enrich'));
    assert.equal(
      dead.dead[0].message,
      "the table has no row for customer = 'missing2' (on_miss: dead_letter)",
    );
    const nullKey = dead.dead.find((d) => (d.payload as Order).customer === null);
    assert.match(String(nullKey?.message), /the key customer = NULL is NULL, which matches no row/);
  });

  test('fields read the input and the row by name, as a join reads its two sides', async () => {
    const r = await run(
      step('fields: { order: orders.id, who: customer_row.name, tier: "coalesce(customer_row.tier, -1)" }'),
      orders(20),
    );
    assert.deepEqual(r.out[1], { order: 1, who: 'Customer 7', tier: 1 });
    assert.deepEqual(r.out[5], { order: 5, who: null, tier: -1 });
  });

  test('a key or a field that fails on a record sends that record to the dead letters', async () => {
    const badKey = await run(
      `
type: lookup
table: { type: http, url: "${api.url}" }
key: "CASE WHEN id = 3 THEN 1 / (id - 3) ELSE customer END"
`,
      orders(8),
    );
    assert.deepEqual(
      badKey.dead.map((d) => [(d.payload as Order).id, d.code]),
      [[3, 'EXPR_DIVISION_BY_ZERO']],
    );
    const badField = await run(step('fields: { x: "1 / (orders.id - 4)" }'), orders(8));
    assert.deepEqual(
      badField.dead.map((d) => [(d.payload as Order).id, d.code]),
      [[4, 'EXPR_DIVISION_BY_ZERO']],
    );
    assert.equal(badField.out.length, 7);
  });

  test('the cache: each distinct key is asked for once, and batch sizes 1, 7 and 1024 give the same results', async () => {
    const input = orders(500);
    const distinct = new Set(input.map((o) => o.customer).filter((c) => c !== null)).size;
    const results: Run[] = [];
    for (const batchSize of [1, 7, 1024]) {
      const before = api.total;
      results.push(await run(step('cache: { ttl: 1h }'), input, { batchSize }));
      assert.equal(api.total - before, distinct, `batch size ${batchSize}: one request per distinct key`);
    }
    for (const r of results.slice(1)) {
      assert.deepEqual(r.out, results[0].out);
      assert.deepEqual(r.dead, results[0].dead);
      assert.equal(r.result.metrics.steps.enrich.filtered, results[0].result.metrics.steps.enrich.filtered);
    }
  });

  test('batch sizes 1, 7 and 1024 give the same output, dead letters and filtered counts with failures about', async () => {
    const input = orders(120, true);
    const results: Run[] = [];
    for (const batchSize of [1, 7, 1024]) {
      api.requests.delete('flaky');
      results.push(
        // No request here hangs: the timeout is generous so that a loaded machine cannot turn a
        // slow answer into a timeout in one run and not in another.
        await run(step('on_miss: drop\ntimeout: 10s\nretries: 2\ncache: { ttl: 0s }'), input, {
          batchSize,
        }),
      );
    }
    for (const r of results.slice(1)) {
      assert.deepEqual(r.out, results[0].out);
      assert.deepEqual(r.dead, results[0].dead);
      assert.equal(r.result.metrics.steps.enrich.filtered, results[0].result.metrics.steps.enrich.filtered);
    }
  });

  test('entries expire after the ttl (job clock), misses after miss_ttl', async () => {
    const input = orders(200);
    const beforeHit = api.requests.get('c7') ?? 0;
    const beforeMiss = api.requests.get('missing2') ?? 0;
    await run(step('cache: { ttl: 10s, miss_ttl: 1h }'), input, {
      parts: 2,
      between: (clock) => clock.advance(10_001),
    });
    assert.equal((api.requests.get('c7') ?? 0) - beforeHit, 2, 'asked again once the row expired');
    assert.equal((api.requests.get('missing2') ?? 0) - beforeMiss, 1, 'the miss was still cached');
  });

  test('transient errors are retried; permanent ones and timeouts go to the dead letters with the reason', async () => {
    api.requests.clear();
    const input = orders(60, true);
    const r = await run(step('timeout: 10s\nretries: 2'), input);
    const byCustomer = new Map(r.dead.map((d) => [(d.payload as Order).customer, d]));
    assert.deepEqual(r.out.find((o) => o.id === 40)?.customer_row, { id: 'flaky', name: 'Flaky', tier: 0 });
    assert.equal(api.requests.get('flaky'), 3, 'two 503s, then the row');
    assert.equal(byCustomer.get('bad')?.code, 'LOOKUP_FAILED');
    assert.match(String(byCustomer.get('bad')?.message), /customer = 'bad'.*HTTP 400: invalid customer id/);
    assert.equal(api.requests.get('bad'), 1, 'a 4xx is not retried');
    assert.equal(byCustomer.get('gone')?.code, 'LOOKUP_FAILED');
    assert.equal(byCustomer.get('down')?.code, 'LOOKUP_UNAVAILABLE');
    assert.equal(api.requests.get('down'), 3, 'a 5xx is retried `retries` times');
    assert.equal(r.dead.length, 3);

    const slow = await run(step('timeout: 50ms\nretries: 1'), [{ id: 0, customer: 'slow', ts: 0 }]);
    assert.equal(slow.dead[0]?.code, 'ASYNC_TIMEOUT');
    assert.equal(api.requests.get('slow'), 2);
  });

  test('a retry waits at least what the server’s Retry-After asks for', async () => {
    api.set('busy', { status: 429, times: 1, retryAfter: 1, row: { id: 'busy', name: 'Busy', tier: 1 } });
    const asked: number[] = [];
    api.onRequest = (id) => {
      if (id === 'busy') asked.push(performance.now());
    };
    try {
      const r = await run(step('retries: 2'), [{ id: 0, customer: 'busy', ts: 0 }]);
      assert.deepEqual(r.out[0]?.customer_row, { id: 'busy', name: 'Busy', tier: 1 });
      assert.equal(asked.length, 2);
      // The backoff alone would wait at most 100 ms before the first retry.
      assert.ok(asked[1] - asked[0] >= 950, `asked again after ${Math.round(asked[1] - asked[0])} ms`);
    } finally {
      api.onRequest = undefined;
    }
  });

  test('a crash and restore mid-stream loses and repeats nothing', async () => {
    const input = orders(300);
    const name = `lookup-${++runs}`;
    const channel = memoryChannel(name);
    const dir = await h.dir();
    const plan = planFrom(yamlOf(name, step('cache: { ttl: 0s }'), 8), dir, registry);
    api.delay = 2;
    try {
      const result = await runCrashedAndRestored(h, registry, plan, channel, input, {
        checkpointAt: 150,
        crashAt: 220,
      });
      assert.equal(result.status, 'completed');
    } finally {
      api.delay = 0;
    }
    const got = memorySinkStore(`${name}-out`).committed;
    assert.deepEqual(
      got.map((o) => o.id),
      input.map((o) => o.id),
    );
    const whole = await run(step('cache: { ttl: 0s }'), input, { batchSize: 8 });
    assert.deepEqual(got, whole.out);
  });

  test('a slow server never lets more than `capacity` batches be in flight', async () => {
    const name = `lookup-${++runs}`;
    const channel = memoryChannel(name);
    const dir = await h.dir();
    const batchSize = 4;
    const capacity = 2;
    const plan = planFrom(
      yamlOf(name, step(`capacity: ${capacity}\nconcurrency: 64\ncache: { ttl: 0s }`), batchSize),
      dir,
      registry,
    );
    const job = await Job.create(plan, { registry, clock: new ManualClock(0), tickInterval: 5 });
    let most = 0;
    api.delay = 15;
    api.onRequest = () => {
      const c = job.metrics().steps.enrich;
      most = Math.max(most, c.in - c.out - c.dead - c.filtered);
    };
    try {
      const running = h.run(job);
      channel.push('p0', ...orders(80));
      channel.end();
      assert.equal((await running).status, 'completed');
    } finally {
      api.delay = 0;
      api.onRequest = undefined;
    }
    assert.ok(most <= capacity * batchSize, `records in flight: ${most}`);
    assert.ok(most > batchSize, `the stage filled up: ${most}`);
  });

  test('headers are sent, and never appear in errors', async () => {
    api.headers.length = 0;
    const r = await run(step('', ', headers: { authorization: Bearer s3cret-token }'), [
      { id: 0, customer: 'c1', ts: 0 },
      { id: 1, customer: 'bad', ts: 1 },
    ]);
    assert.equal(api.headers[0]?.authorization, 'Bearer s3cret-token');
    assert.ok(!JSON.stringify(r.dead).includes('s3cret'));
  });
});

describe('lookup (TypeScript API)', () => {
  test('.lookup() builds the same step, its options in camelCase', async () => {
    const name = `lookup-${++runs}`;
    const channel = memoryChannel(name);
    const p = pipeline(name, { checkpoint: { interval: '0s', dir: './ckpt' }, batchSize: 7 });
    p.from('orders', memory<Order>({ channel: name, eventTime: { field: 'ts' } }))
      .lookup('enrich', {
        table: httpTable({ url: api.url }),
        key: 'customer',
        as: 'customer_row',
        onMiss: 'drop',
        cache: { ttl: '1h', missTtl: '0s', maxEntries: 100 },
        capacity: 2,
      })
      .to('out', collect({ store: `${name}-out` }));
    const { plan } = p.build(await h.dir());
    const running = h.run(await Job.create(plan, { registry, clock: new ManualClock(0), tickInterval: 5 }));
    channel.push('p0', ...orders(60));
    channel.end();
    const result = await running;
    assert.equal(result.status, 'completed');
    const yaml = await run(step('on_miss: drop'), orders(60), { batchSize: 7 });
    assert.deepEqual(memorySinkStore(`${name}-out`).committed, yaml.out);
    assert.equal(result.metrics.steps.enrich.filtered, yaml.result.metrics.steps.enrich.filtered);
  });
});

describe('lookup (file)', () => {
  test('a JSON Lines table keyed by a field enriches like the HTTP one', async () => {
    const dir = await h.dir();
    const lines = Array.from({ length: 20 }, (_, c) =>
      JSON.stringify({ id: `c${c}`, name: `Customer ${c}`, tier: c % 3 }),
    );
    await writeFile(join(dir, 'customers.jsonl'), `${lines.join('\n')}\n`);
    const fromFile = await run(
      `
type: lookup
table: { type: file, path: ${join(dir, 'customers.jsonl')}, key: id }
key: customer
as: customer_row
`,
      orders(60),
    );
    const fromHttp = await run(step(), orders(60));
    assert.deepEqual(fromFile.out, fromHttp.out);
  });

  test('a configuration error names the option inside table', async () => {
    const dir = await h.dir();
    // A plan from another front end (the TypeScript API) is checked by the step's factory.
    const good = planFrom(
      yamlOf(
        'lookup-bad',
        'type: lookup\ntable: { type: http, url: "http://127.0.0.1:9/customers/{key}" }\nkey: customer',
        4,
      ),
      dir,
      registry,
    );
    const config = good.steps[0].config as { table: object };
    const plan = {
      ...good,
      steps: [{ ...good.steps[0], config: { ...config, table: { ...config.table, methd: 'GET' } } }],
    };
    await assert.rejects(Job.create(plan, { registry }), (err: Error & { path?: string; step?: string }) => {
      assert.equal(err.step, 'enrich');
      assert.equal(err.path, 'table.methd');
      assert.match(err.message, /unknown option 'methd'/);
      return true;
    });
    // The loader checks the table's options too, every problem with its line, and keeps a
    // secret given as a lone ${VAR} as text even when it reads as a number.
    const yaml = yamlOf(
      'lookup-bad4',
      'type: lookup\ntable:\n  type: http\n  url: "http://127.0.0.1:9/customers/{key}"\n  methd: GET\n  headrs: {}\nkey: customer',
      4,
    );
    assert.throws(
      () => parsePipelineYaml(yaml, join(dir, 'pipeline.yaml'), { registry, env: {} }),
      (err: Error) => {
        assert.match(err.message, /pipeline\.yaml:13:7: steps\[0\]\.table\.methd: unknown option 'methd'/);
        assert.match(
          err.message,
          /pipeline\.yaml:14:7: steps\[0\]\.table\.headrs: unknown option 'headrs' — did you mean 'headers'\?/,
        );
        return true;
      },
    );
    const secret = parsePipelineYaml(
      yamlOf(
        'lookup-secret',
        `type: lookup\ntable:\n  type: http\n  url: "${api.url}"\n  headers:\n    authorization: \${TOKEN}\nkey: customer`,
        4,
      ),
      join(dir, 'pipeline.yaml'),
      { registry, env: { TOKEN: '12345' } },
    );
    assert.deepEqual((secret.steps[0].config as { table: unknown }).table, {
      type: 'http',
      url: api.url,
      headers: { authorization: '12345' },
    });
    const missing = planFrom(
      yamlOf(
        'lookup-bad3',
        'type: lookup\ntable: { type: file, path: ./nope.jsonl, key: id }\nkey: customer',
        4,
      ),
      dir,
      registry,
    );
    await assert.rejects(
      Job.create(missing, { registry }),
      (err: Error & { path?: string; step?: string; code?: string }) => {
        assert.equal(err.code, 'PATH_UNUSABLE');
        assert.equal(err.step, 'enrich');
        assert.equal(err.path, 'table.path');
        assert.match(err.message, /could not be opened: cannot read the lookup table .*nope\.jsonl/);
        return true;
      },
    );
    const unknown = planFrom(
      yamlOf('lookup-bad2', 'type: lookup\ntable: { type: redis }\nkey: customer', 4),
      dir,
      registry,
    );
    await assert.rejects(
      Job.create(unknown, { registry }),
      /unknown lookup type 'redis'; known lookup types: file, http/,
    );
  });
});

describe('lookup (typed plan)', () => {
  const nexmarkPlan = (step: string) =>
    planFrom(
      `
name: typed
sources:
  events: { type: nexmark, events: 10 }
steps:
  - id: enrich
    input: events
${step
  .trim()
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}
  - id: after
    type: filter
    input: enrich
    where: seller.name IS NOT NULL
sinks:
  out: { type: discard, input: after }
`,
      '/tmp',
      registry,
    );

  test('keys and fields are checked against the input schema before the job runs; the row is of unknown shape', () => {
    const table = 'table: { type: http, url: "http://127.0.0.1:9/sellers/{key}" }';
    assert.doesNotThrow(() =>
      resolvePlan(nexmarkPlan(`type: lookup\n${table}\nkey: auction.seller\nas: seller`), registry),
    );
    assert.throws(
      () => resolvePlan(nexmarkPlan(`type: lookup\n${table}\nkey: auction.sellerr\nas: seller`), registry),
      (err: Error & { code?: string; path?: string }) => {
        assert.equal(err.code, 'PLAN_TYPE_ERROR');
        assert.equal(err.path, 'key');
        return true;
      },
    );
    assert.throws(
      () =>
        resolvePlan(
          nexmarkPlan(
            `type: lookup\n${table}\nkey: auction.seller\nas: seller\nfields: { id: events.auction.idd, seller: seller }`,
          ),
          registry,
        ),
      (err: Error & { code?: string; path?: string }) => {
        assert.equal(err.code, 'PLAN_TYPE_ERROR');
        assert.equal(err.path, 'fields.id');
        return true;
      },
    );
  });
});
