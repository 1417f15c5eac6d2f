import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { Row } from '@sluice/core';
import { DOUBLE, FLOAT, graphModel, INT64, opNode, STRING, tensor, valueInfo } from './onnx-writer.ts';
import { uniform } from './synthetic-test-data.ts';
import { runSteps } from './test-support.ts';

const W = [0.75, -2.5];
const B = 3.25;
const CODES: [string, number][] = [
  ['DE', 0.1],
  ['FR', 0.2],
  ['US', 0.3],
];

/** ids (int64 [N, 2]) → Cast to double → MatMul W → Add B → y [N, 1] double. */
const INT_MODEL = graphModel({
  name: 'int-linear',
  nodes: [
    opNode('Cast', ['ids'], ['xd'], [['to', { int: DOUBLE }]]),
    opNode('MatMul', ['xd', 'W'], ['xw']),
    opNode('Add', ['xw', 'B'], ['y']),
  ],
  initializers: [tensor('W', [2, 1], W), tensor('B', [1], [B])],
  inputs: [valueInfo('ids', ['N', 2], INT64)],
  outputs: [valueInfo('y', ['N', 1])],
});

/** country (string [N, 1]) → LabelEncoder (DE, FR, US → 0.1, 0.2, 0.3; else −1) → code [N, 1] float. */
const STRING_MODEL = graphModel({
  name: 'string-codes',
  nodes: [
    opNode(
      'LabelEncoder',
      ['country'],
      ['code'],
      [
        ['keys_strings', { strings: CODES.map(([k]) => k) }],
        ['values_floats', { floats: CODES.map(([, v]) => v) }],
        ['default_float', { float: -1 }],
      ],
      'ai.onnx.ml',
    ),
  ],
  inputs: [valueInfo('country', ['N', 1], STRING)],
  outputs: [valueInfo('code', ['N', 1], FLOAT)],
});

function rows(n: number): Row[] {
  const random = uniform(77);
  const countries = ['DE', 'FR', 'US', 'BR'];
  return Array.from({ length: n }, (_, i) => ({
    id: i,
    ts: i,
    a: Math.floor(random() * 2000) - 1000,
    b: Math.floor(random() * 50),
    country: countries[Math.floor(random() * countries.length)],
  }));
}

describe('score with integer and string input tensors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-score-types-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'int.onnx'), INT_MODEL);
  writeFileSync(join(dir, 'string.onnx'), STRING_MODEL);
  const steps = (extra = '') => `
  - id: ints
    type: score
    input: in
    model: ${join(dir, 'int.onnx')}
    inputs: { ids: [a, b] }
    outputs: { y: y }
    version_field: int_version${extra}
  - id: scored
    type: score
    input: ints
    model: ${join(dir, 'string.onnx')}
    inputs: { country: [country] }
    outputs: { code: code }${extra}`;

  test('an int64 tensor takes the integer fields as they are, a string tensor the texts: outputs as computed directly, for batch sizes 1, 7, 500 and on worker threads', async () => {
    const input = rows(600);
    // Values an int64 or string tensor cannot hold are dead letters naming the field.
    input[5] = { ...input[5], a: 1.5 };
    input[9] = { ...input[9], b: '7' };
    input[13] = { ...input[13], country: 49 };
    const good = input.filter((_, i) => i !== 5 && i !== 9 && i !== 13);
    const codes = new Map(CODES);
    let first: Row[] | undefined;
    for (const [batch, extra] of [
      [1, ''],
      [7, '\n    batch_size: 3'],
      [500, ''],
      [64, '\n    workers: 2'],
    ] as const) {
      const { results, dead } = await runSteps(steps(extra), input, batch, undefined, 'scored');
      assert.equal(results.length, good.length, `batch ${batch}`);
      results.forEach((r, i) => {
        const want = W[0] * Number(good[i].a) + W[1] * Number(good[i].b) + B;
        assert.ok(Math.abs(Number(r.y) - want) < 1e-9, `batch ${batch}, row ${i}: ${r.y} vs ${want}`);
        assert.equal(
          r.code,
          Math.fround(codes.get(String(good[i].country)) ?? -1),
          `batch ${batch}, row ${i}`,
        );
      });
      assert.deepEqual(
        dead.map((d) => String(d.message).match(/'(\w+)'/)?.[1]),
        ['a', 'b', 'country'],
        `batch ${batch}`,
      );
      assert.match(String(dead[0].message), /holds 1\.5, not an integer of 64 bits/);
      assert.match(String(dead[2].message), /holds 49, not a text/);
      first ??= results;
      assert.deepEqual(results, first, `batch ${batch}: the same output`);
    }
  });

  test('an integer or string tensor fed by a feature is refused when the job opens', async () => {
    await assert.rejects(
      runSteps(
        `
  - id: scored
    type: score
    input: in
    model: ${join(dir, 'string.onnx')}
    inputs: { country: [{ hashed: country, buckets: 1, missing: dead_letter }] }
    outputs: { code: code }`,
        rows(3),
        3,
        undefined,
        'scored',
      ),
      /the model's input 'country' is of type string: its columns are the fields as they are, so list plain field names/,
    );
  });
});
