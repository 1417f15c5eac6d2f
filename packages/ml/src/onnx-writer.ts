/**
 * A minimal ONNX writer: the protobuf encoding of the few messages an ONNX model of a linear model
 * needs (ModelProto, GraphProto, NodeProto, TensorProto, ValueInfoProto) — varints and
 * length-delimited fields, no dependency. Used by the ONNX export and the test models.
 */

export class Writer {
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
export const DOUBLE = 11;

/** A TensorProto of doubles (raw little-endian data). */
export function tensor(name: string, dims: number[], values: readonly number[]): Writer {
  const t = new Writer();
  for (const d of dims) t.int(1, d);
  t.int(2, DOUBLE).bytes(8, name);
  const raw = new Float64Array(values);
  return t.bytes(9, new Uint8Array(raw.buffer));
}

/** A ValueInfoProto of a double tensor; a string dimension is symbolic (the batch). */
export function valueInfo(name: string, dims: (number | string)[]): Writer {
  const shape = new Writer();
  for (const d of dims)
    shape.bytes(1, typeof d === 'string' ? new Writer().bytes(2, d) : new Writer().int(1, d));
  const tensorType = new Writer().int(1, DOUBLE).bytes(2, shape);
  return new Writer().bytes(1, name).bytes(2, new Writer().bytes(1, tensorType));
}

export function node(op: string, inputs: string[], output: string): Writer {
  const n = new Writer();
  for (const i of inputs) n.bytes(1, i);
  return n.bytes(2, output).bytes(3, output).bytes(4, op);
}

/**
 * An ONNX ModelProto (IR 8, opset 13) of a linear model: `input` [N, width] double → MatMul(W) →
 * Add(B) → (with `sigmoid`) Sigmoid → `output` [N, 1] double.
 */
export function linearOnnx(
  weights: readonly number[],
  bias: number,
  options: { input: string; output: string; sigmoid: boolean; name: string; producer: string },
): Uint8Array {
  const width = weights.length;
  const { input, output } = options;
  const graph = new Writer().bytes(1, node('MatMul', [input, 'W'], 'margin0'));
  if (options.sigmoid)
    graph.bytes(1, node('Add', ['margin0', 'B'], 'margin')).bytes(1, node('Sigmoid', ['margin'], output));
  else graph.bytes(1, node('Add', ['margin0', 'B'], output));
  graph
    .bytes(2, options.name)
    .bytes(5, tensor('W', [width, 1], weights))
    .bytes(5, tensor('B', [1], [bias]))
    .bytes(11, valueInfo(input, ['N', width]))
    .bytes(12, valueInfo(output, ['N', 1]));
  return new Writer()
    .int(1, 8)
    .bytes(2, options.producer)
    .bytes(3, '1')
    .bytes(7, graph)
    .bytes(8, new Writer().bytes(1, '').int(2, 13))
    .finish();
}
