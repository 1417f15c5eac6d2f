// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings hold ${VAR} references on purpose.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import type { SluiceError } from '../errors.ts';
import { redact } from '../plan/config.ts';
import { defaultSettings, type Plan } from '../plan/plan.ts';
import { componentPath, loadPipelineFile, locate, locateIn, parsePipelineYaml } from './index.ts';
import { testRegistry } from './test-registry.ts';

const registry = testRegistry();
const load = (text: string, env: { [k: string]: string } = {}) =>
  parsePipelineYaml(text, 'pipelines/orders.yaml', { registry, env });

const example = `name: orders-per-region
settings:                       # optional
  checkpoint: { interval: 10s, dir: ./.sluice/checkpoints, keep: 3 }
  batch_size: 1024
  idle_timeout: 5s
sources:
  orders:
    type: file
    path: ./orders.jsonl
    format: json
    event_time: { field: ts, max_out_of_orderness: 5s, idle_timeout: 30s }
steps:
  - id: valid
    type: validate
    schema: ./order.schema.json
  - id: normalized
    type: map
    input: valid
    fields: { region: upper(region), amount_usd: amount * 1.1 }
sinks:
  results: { type: file, path: ./out/per-region.jsonl }
dead_letter: { type: file, path: ./out/dead-letters.jsonl }
late_output: { type: file, path: ./out/late.jsonl }
`;

describe('parsePipelineYaml', () => {
  test('the example file gives the plan', () => {
    const { locations, ...plan } = load(example);
    assert.deepEqual(plan, {
      name: 'orders-per-region',
      sources: [
        {
          id: 'orders',
          type: 'file',
          config: { path: './orders.jsonl', format: 'json' },
          eventTime: { field: 'ts', maxOutOfOrderness: 5000, idleTimeout: 30000 },
        },
      ],
      steps: [
        { id: 'valid', type: 'validate', inputs: ['orders'], config: { schema: './order.schema.json' } },
        {
          id: 'normalized',
          type: 'map',
          inputs: ['valid'],
          config: { fields: { region: 'upper(region)', amount_usd: 'amount * 1.1' } },
        },
      ],
      sinks: [
        {
          id: 'results',
          type: 'file',
          input: 'normalized',
          config: { path: './out/per-region.jsonl', format: 'json' },
        },
      ],
      deadLetter: { type: 'file', config: { path: './out/dead-letters.jsonl', format: 'json' } },
      lateOutput: { type: 'file', config: { path: './out/late.jsonl', format: 'json' } },
      settings: {
        checkpoint: { interval: 10_000, dir: './.sluice/checkpoints', keep: 3 },
        batchSize: 1024,
        idleTimeout: 5000,
        sinkQueueRecords: defaultSettings.sinkQueueRecords,
        sinkQueueBytes: defaultSettings.sinkQueueBytes,
      },
      baseDir: resolve('pipelines'),
    });
    assert.ok(locations);
    const at = (path: string) => {
      const l = locations[path];
      return l && [l.file, l.line, l.column];
    };
    assert.deepEqual(at('sources.orders.path'), ['pipelines/orders.yaml', 9, 11]);
    assert.deepEqual(at('steps[1].fields.region'), ['pipelines/orders.yaml', 19, 23]);
    assert.deepEqual(at('sinks.results'), ['pipelines/orders.yaml', 21, 12]);
    assert.deepEqual(at('dead_letter.path'), ['pipelines/orders.yaml', 22, 34]);
    assert.deepEqual(at('settings.checkpoint.interval'), ['pipelines/orders.yaml', 3, 27]);
    assert.deepEqual(at('sources.orders.event_time.max_out_of_orderness'), ['pipelines/orders.yaml', 11, 52]);
    assert.deepEqual(at('steps[0]'), ['pipelines/orders.yaml', 13, 5]);
    assert.deepEqual(at('name'), ['pipelines/orders.yaml', 1, 7]);
  });

  test('defaults: settings, inputs, options, event time', () => {
    const plan = load(`
name: p
sources:
  gen:
    type: generator
    event_time: { expression: to_timestamp(created) }
steps:
  - { id: a, type: filter, where: "x > 1" }
  - { id: b, type: filter, where: "x < 9" }
sinks:
  out: { type: file, path: o.jsonl }
  raw: { type: file, path: r.jsonl, input: gen }
`);
    assert.deepEqual(plan.settings, defaultSettings);
    assert.deepEqual(plan.sources[0].config, { count: 10 });
    assert.deepEqual(plan.sources[0].eventTime, {
      expression: 'to_timestamp(created)',
      maxOutOfOrderness: 0,
    });
    assert.deepEqual(
      plan.steps.map((s) => s.inputs),
      [['gen'], ['a']],
    );
    assert.deepEqual(
      plan.sinks.map((s) => [s.id, s.input, s.config]),
      [
        ['out', 'b', { path: 'o.jsonl', format: 'json' }],
        ['raw', 'gen', { path: 'r.jsonl', format: 'json' }],
      ],
    );
    assert.equal(plan.deadLetter, undefined);
  });

  test('partial settings merge over the defaults', () => {
    const plan = load(`
name: p
settings: { checkpoint: { interval: 1m30s }, sink_queue_records: 10, sink_queue_bytes: 2mb }
sources: { gen: { type: generator } }
sinks: { out: { type: file, path: o } }
`);
    assert.deepEqual(plan.settings, {
      ...defaultSettings,
      checkpoint: { ...defaultSettings.checkpoint, interval: 90_000 },
      sinkQueueRecords: 10,
      sinkQueueBytes: 2 * 1024 ** 2,
    });
  });

  test('inputs may be lists and may point forward', () => {
    const plan = load(`
name: p
sources:
  a: { type: generator }
  b: { type: generator }
steps:
  - { id: early, type: filter, where: "true", input: late }
  - { id: late, type: filter, where: "true", input: [a, b] }
sinks: { out: { type: file, path: o, input: early } }
`);
    assert.deepEqual(
      plan.steps.map((s) => [s.id, s.inputs]),
      [
        ['early', ['late']],
        ['late', ['a', 'b']],
      ],
    );
  });

  test('anchors, aliases and merge keys', () => {
    const plan = load(`name: p
sources: { gen: { type: generator, count: &n 3 } }
sinks:
  one: &out { type: file, format: csv, path: one.csv }
  two:
    <<: *out
    format: json
    path: two.json
dead_letter: *out
late_output: { <<: *out }
`);
    assert.deepEqual(plan.sources[0].config, { count: 3 });
    assert.deepEqual(
      plan.sinks.map((s) => s.config),
      [
        { path: 'one.csv', format: 'csv' },
        { path: 'two.json', format: 'json' },
      ],
    );
    assert.deepEqual(plan.deadLetter, { type: 'file', config: { format: 'csv', path: 'one.csv' } });
    assert.deepEqual(plan.lateOutput, plan.deadLetter);
    const file = 'pipelines/orders.yaml';
    assert.deepEqual(locate(plan, 'sinks.two.format'), { file, line: 7, column: 13 });
    assert.deepEqual(locate(plan, 'sinks.two.type'), { file, line: 4, column: 21 });
    assert.deepEqual(locate(plan, 'dead_letter'), { file, line: 9, column: 14 });
    assert.deepEqual(locate(plan, 'dead_letter.path'), { file, line: 4, column: 46 });
  });

  test('secrets can be redacted with the spec schema', () => {
    const plan = load(`
name: p
sources: { gen: { type: generator, token: s3cret } }
sinks: { out: { type: http, url: "https://x.test/in", auth: { user: me, password: pw } } }
`);
    const source = registry.source('generator');
    const sink = registry.sink('http');
    assert.ok(source && sink);
    assert.deepEqual(redact(source.config, plan.sources[0].config), { count: 10, token: '***' });
    assert.deepEqual(redact(sink.config, plan.sinks[0].config), {
      url: 'https://x.test/in',
      auth: { user: 'me', password: '***' },
    });
  });
});

describe('environment interpolation', () => {
  const text = `name: \${NAME:-fallback}
sources:
  gen:
    type: generator
    count: \${COUNT}
    token: "\${COUNT}$\${literal}"
sinks:
  out:
    type: http
    url: https://\${HOST}/in
    port: \${PORT:-8080}
`;

  test('interpolates, re-types lone plain references, keeps quoted ones text', () => {
    const plan = load(text, { COUNT: '7', HOST: 'api.test' });
    assert.equal(plan.name, 'fallback');
    assert.deepEqual(plan.sources[0].config, { count: 7, token: '7${literal}' });
    assert.deepEqual(plan.sinks[0].config, { url: 'https://api.test/in', port: 8080 });
  });

  test('an explicit tag keeps a lone reference as text', () => {
    const plan = load(
      'name: p\nsources:\n  g:\n    type: generator\n    token: !!str ${COUNT}\nsinks: { o: { type: file, path: o } }\n',
      {
        COUNT: '7',
      },
    );
    assert.deepEqual(plan.sources[0].config, { count: 10, token: '7' });
  });

  test('a missing variable is CONFIG_INVALID at its node', () => {
    assert.throws(
      () => load(text, { COUNT: '7' }),
      (err: SluiceError) => {
        assert.equal(err.code, 'CONFIG_INVALID');
        assert.deepEqual(
          [err.file, err.line, err.column, err.path],
          ['pipelines/orders.yaml', 10, 10, 'sinks.out.url'],
        );
        assert.match(err.message, /environment variable 'HOST' is not set/);
        return true;
      },
    );
  });

  test('a lone reference stays the text of the variable where the option takes text, and in every secret', () => {
    const pipeline = `name: \${NAME}
settings:
  batch_size: \${BATCH}
sources:
  gen:
    type: generator
    count: \${COUNT}
    token: \${TOKEN}
steps:
  - id: m
    type: map
    fields:
      a: \${EXPR}
sinks:
  out:
    type: http
    url: https://x.test/in
    port: \${PORT}
    auth:
      user: \${USER}
      password: \${PASSWORD}
    headers:
      x-api-key: \${KEY}
`;
    for (const secret of ['12345678', 'true', '0x1F', '1e3', 'null', '007', '~', '.inf']) {
      const plan = load(pipeline, {
        NAME: '2024',
        BATCH: '64',
        COUNT: '7',
        TOKEN: secret,
        EXPR: '5',
        PORT: '8443',
        USER: 'false',
        PASSWORD: secret,
        KEY: secret,
      });
      assert.equal(plan.name, '2024');
      assert.equal(plan.settings.batchSize, 64);
      assert.deepEqual(plan.sources[0].config, { count: 7, token: secret }, secret);
      assert.deepEqual(plan.steps[0].config, { fields: { a: '5' } });
      assert.deepEqual(plan.sinks[0].config, {
        url: 'https://x.test/in',
        port: 8443,
        auth: { user: 'false', password: secret },
        headers: { 'x-api-key': secret },
      });
    }
  });

  test('a lone reference that is not the type the option takes is still refused', () => {
    assert.throws(
      () =>
        load(
          'name: p\nsources:\n  g:\n    type: generator\n    count: ${COUNT}\nsinks: { o: { type: file, path: o } }\n',
          { COUNT: 'many' },
        ),
      (err: SluiceError) => err.code === 'CONFIG_INVALID' && err.path === 'sources.g.count',
    );
  });

  test('defaults to process.env', () => {
    process.env.SLUICE_TEST_COUNT = '4';
    try {
      const plan = parsePipelineYaml(
        'name: p\nsources:\n  g:\n    type: generator\n    count: ${SLUICE_TEST_COUNT}\nsinks: { o: { type: file, path: o } }\n',
        'p.yaml',
        { registry },
      );
      assert.deepEqual(plan.sources[0].config, { count: 4 });
    } finally {
      delete process.env.SLUICE_TEST_COUNT;
    }
  });
});

describe('locate', () => {
  const plan: Plan = load(example);

  test('finds a path or its closest known ancestor', () => {
    const file = 'pipelines/orders.yaml';
    assert.deepEqual(locate(plan, 'steps[1].fields.region'), { file, line: 19, column: 23 });
    assert.deepEqual(locate(plan, 'steps[1].fields.region.args[0]'), { file, line: 19, column: 23 });
    assert.deepEqual(locate(plan, 'sources.orders.format'), { file, line: 10, column: 13 });
    assert.deepEqual(locate(plan, 'sinks.results.format'), { file, line: 21, column: 12 });
    assert.deepEqual(locate(plan, 'nowhere.at.all'), { file, line: 1, column: 1 });
    assert.equal(locate({ ...plan, locations: undefined }, 'name'), undefined);
  });

  test('maps a component-relative path by id', () => {
    assert.equal(componentPath(plan, 'normalized', 'fields.region'), 'steps[1].fields.region');
    assert.equal(componentPath(plan, 'orders'), 'sources.orders');
    assert.equal(componentPath(plan, 'results'), 'sinks.results');
    assert.equal(componentPath(plan, 'nope'), undefined);
    assert.deepEqual(locateIn(plan, 'normalized', 'fields.amount_usd'), {
      file: 'pipelines/orders.yaml',
      line: 19,
      column: 50,
    });
  });
});

describe('loadPipelineFile', () => {
  test('reads a file; baseDir is its folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-yaml-'));
    try {
      const file = join(dir, 'p.yaml');
      await writeFile(file, example);
      const plan = await loadPipelineFile(file, { registry, env: {} });
      assert.equal(plan.baseDir, dir);
      assert.equal(plan.locations?.name.file, file);
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  test('an unreadable file is CONFIG_PARSE naming it', async () => {
    await assert.rejects(loadPipelineFile('/nonexistent/p.yaml', { registry }), (err: SluiceError) => {
      assert.equal(err.code, 'CONFIG_PARSE');
      assert.equal(err.file, '/nonexistent/p.yaml');
      assert.match(err.message, /cannot read the pipeline file: ENOENT/);
      return true;
    });
  });
});
