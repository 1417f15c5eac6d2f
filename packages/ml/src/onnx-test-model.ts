/**
 * The ONNX test models: logistic regressions trained by this package's own `logistic_regression`
 * on seeded data, written as ONNX protobuf by a minimal encoder (no Python `onnx` here), so the
 * `score` step's results can be checked against the package's own predictions. Not part of the
 * public surface.
 *
 * Regenerate the fixtures with `node packages/ml/src/onnx-test-model.ts`; a test checks that this
 * gives the shipped files byte for byte.
 *
 * Graph: `features` [N, width] double → MatMul(W [width, 1]) → Add(B [1]) → Sigmoid →
 * `probability` [N, 1] double. Doubles, so the scores equal the package's own within rounding.
 */

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FeatureSpec } from './features.ts';
import { Learner } from './learner.ts';
import type { LinearModelJson } from './models/linear.ts';
import { denseRows } from './synthetic-test-data.ts';

/** The fixtures' folder. */
export const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

/** The features of the test models: `f0…` numeric, unstandardized (the model file holds no feature state). */
export function testFeatures(width: number): { numeric: string; standardize: false }[] {
  return Array.from({ length: width }, (_, j) => ({ numeric: `f${j}`, standardize: false }));
}

// --- a minimal protobuf writer: varints, length-delimited fields ---

class Writer {
  readonly #bytes: number[] = [];

  varint(value: number | bigint): this {
    let v = BigInt.asUintN(64, BigInt(value));
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v !== 0n) byte |= 0x80;
      this.#bytes.push(byte);
    } while (v !== 0n);
    return this;
  }

  /** A varint field (wire type 0). */
  int(field: number, value: number): this {
    return this.varint(field << 3).varint(value);
  }

  /** A length-delimited field (wire type 2): bytes, a string or an embedded message. */
  bytes(field: number, value: Uint8Array | string | Writer): this {
    const data =
      typeof value === 'string'
        ? new TextEncoder().encode(value)
        : value instanceof Writer
          ? value.finish()
          : value;
    this.varint((field << 3) | 2).varint(data.length);
    for (const b of data) this.#bytes.push(b);
    return this;
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.#bytes);
  }
}

/** TensorProto.DataType DOUBLE. */
const DOUBLE = 11;

/** A TensorProto of doubles (raw little-endian data). */
function tensor(name: string, dims: number[], values: readonly number[]): Writer {
  const t = new Writer();
  for (const d of dims) t.int(1, d);
  t.int(2, DOUBLE).bytes(8, name);
  const raw = new Float64Array(values);
  return t.bytes(9, new Uint8Array(raw.buffer));
}

/** A ValueInfoProto of a double tensor; a string dimension is symbolic (the batch). */
function valueInfo(name: string, dims: (number | string)[]): Writer {
  const shape = new Writer();
  for (const d of dims)
    shape.bytes(1, typeof d === 'string' ? new Writer().bytes(2, d) : new Writer().int(1, d));
  const tensorType = new Writer().int(1, DOUBLE).bytes(2, shape);
  return new Writer().bytes(1, name).bytes(2, new Writer().bytes(1, tensorType));
}

function node(op: string, inputs: string[], output: string): Writer {
  const n = new Writer();
  for (const i of inputs) n.bytes(1, i);
  return n.bytes(2, output).bytes(3, output).bytes(4, op);
}

/** An ONNX ModelProto (IR 8, opset 13) of a logistic regression with these weights and bias. */
export function logisticOnnx(weights: readonly number[], bias: number, input = 'features'): Uint8Array {
  const width = weights.length;
  const graph = new Writer()
    .bytes(1, node('MatMul', [input, 'W'], 'margin0'))
    .bytes(1, node('Add', ['margin0', 'B'], 'margin'))
    .bytes(1, node('Sigmoid', ['margin'], 'probability'))
    .bytes(2, 'logistic_regression')
    .bytes(5, tensor('W', [width, 1], weights))
    .bytes(5, tensor('B', [1], [bias]))
    .bytes(11, valueInfo(input, ['N', width]))
    .bytes(12, valueInfo('probability', ['N', 1]));
  return new Writer()
    .int(1, 8)
    .bytes(2, 'sluice-ml-test')
    .bytes(3, '1')
    .bytes(7, graph)
    .bytes(8, new Writer().bytes(1, '').int(2, 13))
    .finish();
}

/** A logistic regression of `width` features learned by the package from `n` seeded rows. */
export function trainedLearner(seed: number, n: number, width: number): Learner {
  const learner = Learner.create(
    { type: 'logistic_regression', optimizer: 'sgd', learning_rate: 0.05 },
    new FeatureSpec(testFeatures(width)),
  );
  const { xs, ys } = denseRows(seed, n, width);
  for (let i = 0; i < n; i++) learner.learn(xs[i], ys[i]);
  return learner;
}

/** The learners behind the fixtures, by fixture name: the package's own predictions of them are the reference. */
export const TEST_MODELS = {
  'logistic-a': () => trainedLearner(11, 2000, 4),
  // Same signature, other weights: the hot-swap tests' second version.
  'logistic-b': () => trainedLearner(12, 500, 4),
  // Three features: a signature that does not fit a step declaring four.
  'logistic-3': () => trainedLearner(13, 500, 3),
} as const;

/** Every fixture: file name → contents. */
export function testModelFiles(): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  for (const [name, create] of Object.entries(TEST_MODELS)) {
    const model = create().toJSON().model as LinearModelJson;
    files.set(`${name}.onnx`, logisticOnnx(model.weights, model.bias));
  }
  return files;
}

if (import.meta.main) {
  for (const [name, data] of testModelFiles()) writeFileSync(join(FIXTURES, name), data);
}
