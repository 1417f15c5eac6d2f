/**
 * The changelog check of plan resolution: updating streams reach only steps and sinks that take
 * them, and a refusal names the step, the place in the file, where the updates come from and what
 * would take them.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Type } from 'typebox';
import { builtins } from '../builtins.ts';
import { ConfigErrors, SluiceError } from '../errors.ts';
import { Registry } from '../registry.ts';
import { defineSink, defineSource, defineStep, PER_RECORD_CHANGELOG } from '../spec.ts';
import { parsePipelineYaml } from '../yaml/index.ts';
import { resolvePlan } from './resolve.ts';

const none = Type.Object({}, { additionalProperties: false });
const noSink = () => ({ open: async () => {}, write: async () => undefined, close: async () => {} });
const passThrough = () => ({ processBatch() {} });

/**
 * `gen` source, `cdc` source of a table's changes (keyed by `id`); steps `totals` (gives a retract stream), `keep` (record by record), `once` (appends
 * only); sinks `plain` (appends only) and `log` (takes changes when `changes: true`).
 */
function registry(): Registry {
  return new Registry([
    {
      name: 'test',
      components: [
        defineSource({
          type: 'gen',
          delivery: 'exactly-once',
          summary: 'Generates.',
          config: none,
          create: () => ({ open: async () => [] }),
        }),
        defineSource({
          type: 'cdc',
          delivery: 'exactly-once',
          summary: "Reads a table's changes.",
          config: Type.Object({ mode: Type.Union([Type.Literal('upsert'), Type.Literal('retract')]) }),
          changelog: (c) => ({ mode: c.mode, key: ['id'], reason: 'it reads the changes of table t' }),
          create: () => ({ open: async () => [] }),
        }),
        defineStep({
          type: 'totals',
          summary: 'Updates a total per key.',
          config: none,
          changelog: () => ({
            consumes: ['append'],
            produces: 'retract',
            reason: 'its total per key changes with every record; give it a window',
          }),
          create: passThrough,
        }),
        defineStep({
          type: 'keep',
          summary: 'Passes records on.',
          config: none,
          changelog: () => PER_RECORD_CHANGELOG,
          create: passThrough,
        }),
        defineStep({ type: 'once', summary: 'Takes appends.', config: none, create: passThrough }),
        defineSink({
          type: 'plain',
          summary: 'Appends.',
          delivery: 'at-least-once',
          config: none,
          create: noSink,
        }),
        defineSink({
          type: 'log',
          summary: 'Writes changes when asked.',
          delivery: 'at-least-once',
          config: Type.Object({ changes: Type.Boolean({ default: false }) }, { additionalProperties: false }),
          changelog: {
            consumes: (c) => (c.changes ? ['append', 'retract'] : ['append']),
            hint: 'set `changes: true`',
          },
          create: noSink,
        }),
      ],
    },
  ]);
}

const reg = registry();

function resolve(text: string) {
  return resolvePlan(parsePipelineYaml(text, 'p.yaml', { registry: reg, env: {} }), reg);
}

function refused(text: string): SluiceError {
  try {
    resolve(text);
  } catch (err) {
    assert.ok(err instanceof SluiceError);
    assert.ok(!(err instanceof ConfigErrors), `several problems:\n${err.message}`);
    assert.equal(err.code, 'PLAN_CHANGELOG_MISMATCH');
    return err;
  }
  assert.fail('the plan was accepted');
}

const head = 'name: p\nsources:\n  in: { type: gen }\n';

describe('changelog check', () => {
  test('append-only plans pass everywhere', () => {
    resolve(
      `${head}steps:\n  - { id: a, type: once }\n  - { id: b, type: keep }\nsinks:\n  out: { type: plain }\n`,
    );
  });

  test('an updating stream through record-by-record steps into a sink that takes changes passes', () => {
    resolve(
      `${head}steps:\n  - { id: t, type: totals }\n  - { id: k, type: keep }\nsinks:\n  out: { type: log, changes: true }\n`,
    );
  });

  test('a sink that takes only appends is refused at its place in the file, with the fix', () => {
    const err = refused(
      `${head}steps:\n  - { id: t, type: totals }\n  - { id: k, type: keep }\nsinks:\n  out:\n    type: log\n`,
    );
    assert.deepEqual(
      { step: err.step, file: err.file, line: err.line, path: err.path },
      { step: 'out', file: 'p.yaml', line: 9, path: 'changelog' },
    );
    assert.equal(
      err.message,
      "sink 'out' (log) takes only appends, but its input 'k' (made updating by step 't') is a retract changelog — it has updates and deletes, not only inserts — because step 't' (totals) emits one: its total per key changes with every record; give it a window; to write the changes, set `changes: true`",
    );
  });

  test('a sink type without a changelog option names the sink types that have one', () => {
    const err = refused(`${head}steps:\n  - { id: t, type: totals }\nsinks:\n  out: { type: plain }\n`);
    assert.equal(err.step, 'out');
    assert.equal(err.line, 7);
    assert.match(
      err.message,
      /^sink 'out' \(plain\) takes only appends, but its input 't' is a retract changelog/,
    );
    assert.match(
      err.message,
      /a 'plain' sink cannot write changes; sink types that can: log \(with their `changelog` option\)$/,
    );
  });

  test('a step that takes only appends is refused, and what follows it is not reported again', () => {
    const err = refused(
      `${head}steps:\n  - { id: t, type: totals }\n  - id: o\n    type: once\n    input: t\nsinks:\n  out: { type: plain }\n`,
    );
    assert.deepEqual(
      { step: err.step, line: err.line, path: err.path },
      { step: 'o', line: 8, path: 'input' },
    );
    assert.match(
      err.message,
      /^step 'o' \(once\) takes only appends, but its input 't' is a retract changelog/,
    );
    assert.match(err.message, /; put 'o' before 't', or make 't' emit appends$/);
  });

  test('an updating step after an updating stream is refused too', () => {
    const err = refused(
      `${head}steps:\n  - { id: t, type: totals }\n  - { id: u, type: totals }\nsinks:\n  out: { type: log, changes: true }\n`,
    );
    assert.equal(err.step, 'u');
  });

  test('a union takes the most updating of its inputs', () => {
    const text = `${head}steps:\n  - { id: t, type: totals, input: in }\n  - { id: k, type: keep, input: in }\n  - { id: both, type: keep, input: [k, t] }\nsinks:\n  out: { type: plain, input: both }\n`;
    const err = refused(text);
    assert.match(err.message, /its input 'both' \(made updating by step 't'\) is a retract changelog/);
  });

  test('the built-in discard sink takes every changelog', () => {
    const discard = new Registry([builtins]).sink('discard')!;
    assert.deepEqual(discard.changelog?.consumes({}), ['append', 'upsert', 'retract']);
  });

  test("a source of a table's changes is an updating stream keyed by its primary key", () => {
    const plan = resolve(
      'name: p\nsources:\n  in: { type: cdc, mode: retract }\nsteps:\n  - { id: k, type: keep }\nsinks:\n  out: { type: log, changes: true }\n',
    );
    assert.deepEqual(plan.keys?.in?.unique, [['id']]);
    const err = refused(
      'name: p\nsources:\n  in: { type: cdc, mode: upsert }\nsteps:\n  - { id: k, type: keep }\nsinks:\n  out: { type: log, changes: true }\n',
    );
    assert.equal(err.step, 'k');
    assert.equal(
      err.message,
      "step 'k' (keep) takes appends and retract streams, but its input 'in' is a upsert changelog — it has updates and deletes, not only inserts — because source 'in' (cdc) emits one: it reads the changes of table t; read it with steps that take upsert streams",
    );
  });
});
