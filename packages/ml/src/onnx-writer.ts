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

  /** A 32-bit float field (wire type 5). */
  float(field: number, value: number): this {
    this.varint((field << 3) | 5);
    const b = new Uint8Array(new Float32Array([value]).buffer);
    for (const x of b) this.#bytes.push(x);
    return this;
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

/** TensorProto.DataType FLOAT, INT64 and STRING. */
export const FLOAT = 1;
export const INT64 = 7;
export const STRING = 8;

/** A ValueInfoProto of a tensor (double by default); a string dimension is symbolic (the batch). */
export function valueInfo(name: string, dims: (number | string)[], elemType = DOUBLE): Writer {
  const shape = new Writer();
  for (const d of dims)
    shape.bytes(1, typeof d === 'string' ? new Writer().bytes(2, d) : new Writer().int(1, d));
  const tensorType = new Writer().int(1, elemType).bytes(2, shape);
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

/** An attribute of a node (AttributeProto): ints, floats, strings, one string or a tensor. */
export type Attribute =
  | { float: number }
  | { int: number }
  | { ints: readonly number[] }
  | { floats: readonly number[] }
  | { strings: readonly string[] }
  | { string: string }
  | { tensor: Writer };

function attribute(name: string, value: Attribute): Writer {
  const a = new Writer().bytes(1, name);
  // AttributeType: STRING 3, TENSOR 4, FLOATS 6, INTS 7, STRINGS 8 (repeated fields unpacked, as proto2 writes them).
  // FLOAT 1 (field f, 2); INT 2 (field i, 3).
  if ('float' in value) return a.float(2, value.float).int(20, 1);
  if ('int' in value) return a.int(3, value.int).int(20, 2);
  if ('ints' in value) {
    for (const v of value.ints) a.int(8, v);
    return a.int(20, 7);
  }
  if ('floats' in value) {
    for (const v of value.floats) a.float(7, v);
    return a.int(20, 6);
  }
  if ('strings' in value) {
    for (const v of value.strings) a.bytes(9, v);
    return a.int(20, 8);
  }
  if ('string' in value) return a.bytes(4, value.string).int(20, 3);
  return a.bytes(5, value.tensor).int(20, 4);
}

/**
 * An ONNX ModelProto (IR 8; opsets 13 and ai.onnx.ml 3) of one classification tree as
 * `TreeEnsembleClassifier`: `input` [N, width] double → `label` [N] (string) and `probabilities`
 * [N, classes] (float). Thresholds are doubles (`nodes_values_as_tensor`), so records route as
 * in the engine.
 */
export function treeClassifierOnnx(
  tree: {
    width: number;
    classes: readonly string[];
    /** Per node: a split (feature, threshold, left, right) or a leaf's class weights. */
    nodes: readonly (
      | { feature: number; threshold: number; left: number; right: number }
      | { weights: readonly number[] }
    )[];
  },
  options: { input: string; name: string; producer: string },
): Uint8Array {
  const ids = tree.nodes.map((_, i) => i);
  const features: number[] = [];
  const thresholds: number[] = [];
  const modes: string[] = [];
  const trues: number[] = [];
  const falses: number[] = [];
  const classNodes: number[] = [];
  const classIds: number[] = [];
  const classWeights: number[] = [];
  tree.nodes.forEach((n, i) => {
    if ('weights' in n) {
      features.push(0);
      thresholds.push(0);
      modes.push('LEAF');
      trues.push(0);
      falses.push(0);
      n.weights.forEach((w, c) => {
        // Two classes: onnxruntime takes the label from the second class's weight alone, and by
        // `> 0.5` only when every weight is positive and all are for that one class (otherwise
        // by `> 0`); so only the second class's nonzero weights are written (the first's share
        // is 1 − that, which onnxruntime writes as its probability).
        if (w === 0 || (tree.classes.length === 2 && c === 0)) return;
        classNodes.push(i);
        classIds.push(c);
        classWeights.push(w);
      });
    } else {
      features.push(n.feature);
      thresholds.push(n.threshold);
      modes.push('BRANCH_LEQ');
      trues.push(n.left);
      falses.push(n.right);
    }
  });
  const attrs: [string, Attribute][] = [
    ['nodes_treeids', { ints: ids.map(() => 0) }],
    ['nodes_nodeids', { ints: ids }],
    ['nodes_featureids', { ints: features }],
    ['nodes_values_as_tensor', { tensor: tensor('nodes_values', [thresholds.length], thresholds) }],
    ['nodes_modes', { strings: modes }],
    ['nodes_truenodeids', { ints: trues }],
    ['nodes_falsenodeids', { ints: falses }],
    ['class_treeids', { ints: classNodes.map(() => 0) }],
    ['class_nodeids', { ints: classNodes }],
    ['class_ids', { ints: classIds }],
    ['class_weights', { floats: classWeights }],
    ['classlabels_strings', { strings: tree.classes }],
    ['post_transform', { string: 'NONE' }],
  ];
  const n = new Writer().bytes(1, options.input).bytes(2, 'label').bytes(2, 'probabilities').bytes(3, 'tree');
  n.bytes(4, 'TreeEnsembleClassifier');
  for (const [name, value] of attrs) n.bytes(5, attribute(name, value));
  n.bytes(7, 'ai.onnx.ml');
  const graph = new Writer()
    .bytes(1, n)
    .bytes(2, options.name)
    .bytes(11, valueInfo(options.input, ['N', tree.width]))
    .bytes(12, valueInfo('label', ['N'], STRING))
    .bytes(12, valueInfo('probabilities', ['N', tree.classes.length], FLOAT));
  return new Writer()
    .int(1, 8)
    .bytes(2, options.producer)
    .bytes(3, '1')
    .bytes(7, graph)
    .bytes(8, new Writer().bytes(1, '').int(2, 13))
    .bytes(8, new Writer().bytes(1, 'ai.onnx.ml').int(2, 3))
    .finish();
}

/** TensorProto.DataType BOOL. */
export const BOOL = 9;

/** A node with attributes (and a domain, for `ai.onnx.ml` operators). */
export function opNode(
  op: string,
  inputs: readonly string[],
  outputs: readonly string[],
  attrs: readonly [string, Attribute][] = [],
  domain?: string,
): Writer {
  const n = new Writer();
  for (const i of inputs) n.bytes(1, i);
  for (const o of outputs) n.bytes(2, o);
  n.bytes(3, outputs[0]).bytes(4, op);
  for (const [name, value] of attrs) n.bytes(5, attribute(name, value));
  if (domain !== undefined) n.bytes(7, domain);
  return n;
}

/** One regression tree: per node a split (feature, threshold, left, right) or a leaf's value. */
export type RegressionTree = readonly (
  | { feature: number; threshold: number; left: number; right: number }
  | { value: number }
)[];

/**
 * An ONNX ModelProto (IR 8; opsets 13 and ai.onnx.ml 3) of an anomaly score from a sum of
 * regression trees, as Half-Space Trees score: `input` [N, width] double → TreeEnsembleRegressor
 * (thresholds and leaf values as double tensors, SUM) → `mass` → Cast to double →
 * `score` = 1 / (1 + mass) [N, 1] double → `anomaly` = score > `threshold` [N, 1] bool.
 */
export function anomalyTreesOnnx(
  trees: readonly RegressionTree[],
  options: { input: string; width: number; threshold: number; name: string; producer: string },
): Uint8Array {
  const treeIds: number[] = [];
  const nodeIds: number[] = [];
  const features: number[] = [];
  const thresholds: number[] = [];
  const modes: string[] = [];
  const trues: number[] = [];
  const falses: number[] = [];
  const targetTrees: number[] = [];
  const targetNodes: number[] = [];
  const values: number[] = [];
  trees.forEach((tree, t) => {
    tree.forEach((n, i) => {
      treeIds.push(t);
      nodeIds.push(i);
      if ('value' in n) {
        features.push(0);
        thresholds.push(0);
        modes.push('LEAF');
        trues.push(0);
        falses.push(0);
        targetTrees.push(t);
        targetNodes.push(i);
        values.push(n.value);
      } else {
        features.push(n.feature);
        thresholds.push(n.threshold);
        modes.push('BRANCH_LEQ');
        trues.push(n.left);
        falses.push(n.right);
      }
    });
  });
  const ensemble = opNode(
    'TreeEnsembleRegressor',
    [options.input],
    ['mass_f'],
    [
      ['n_targets', { int: 1 }],
      ['nodes_treeids', { ints: treeIds }],
      ['nodes_nodeids', { ints: nodeIds }],
      ['nodes_featureids', { ints: features }],
      ['nodes_values_as_tensor', { tensor: tensor('nodes_values', [thresholds.length], thresholds) }],
      ['nodes_modes', { strings: modes }],
      ['nodes_truenodeids', { ints: trues }],
      ['nodes_falsenodeids', { ints: falses }],
      ['target_treeids', { ints: targetTrees }],
      ['target_nodeids', { ints: targetNodes }],
      ['target_ids', { ints: targetNodes.map(() => 0) }],
      ['target_weights_as_tensor', { tensor: tensor('target_weights', [values.length], values) }],
      ['aggregate_function', { string: 'SUM' }],
      ['post_transform', { string: 'NONE' }],
    ],
    'ai.onnx.ml',
  );
  const graph = new Writer()
    .bytes(1, ensemble)
    .bytes(1, opNode('Cast', ['mass_f'], ['mass'], [['to', { int: DOUBLE }]]))
    .bytes(1, opNode('Add', ['mass', 'one'], ['denominator']))
    .bytes(1, opNode('Reciprocal', ['denominator'], ['score']))
    .bytes(1, opNode('Greater', ['score', 'threshold'], ['anomaly']))
    .bytes(2, options.name)
    .bytes(5, tensor('one', [1], [1]))
    .bytes(5, tensor('threshold', [1], [options.threshold]))
    .bytes(11, valueInfo(options.input, ['N', options.width]))
    .bytes(12, valueInfo('score', ['N', 1]))
    .bytes(12, valueInfo('anomaly', ['N', 1], BOOL));
  return new Writer()
    .int(1, 8)
    .bytes(2, options.producer)
    .bytes(3, '1')
    .bytes(7, graph)
    .bytes(8, new Writer().bytes(1, '').int(2, 13))
    .bytes(8, new Writer().bytes(1, 'ai.onnx.ml').int(2, 3))
    .finish();
}

/**
 * An ONNX ModelProto (IR 8; opsets 13 and ai.onnx.ml 3) of any small graph: its nodes, its
 * constant tensors, and its inputs and outputs as value infos.
 */
export function graphModel(graph: {
  name: string;
  nodes: readonly Writer[];
  initializers?: readonly Writer[];
  inputs: readonly Writer[];
  outputs: readonly Writer[];
}): Uint8Array {
  const g = new Writer();
  for (const n of graph.nodes) g.bytes(1, n);
  g.bytes(2, graph.name);
  for (const t of graph.initializers ?? []) g.bytes(5, t);
  for (const i of graph.inputs) g.bytes(11, i);
  for (const o of graph.outputs) g.bytes(12, o);
  return new Writer()
    .int(1, 8)
    .bytes(2, 'sluice-ml')
    .bytes(3, '1')
    .bytes(7, g)
    .bytes(8, new Writer().bytes(1, '').int(2, 13))
    .bytes(8, new Writer().bytes(1, 'ai.onnx.ml').int(2, 3))
    .finish();
}

/**
 * An ONNX ModelProto of a softmax regression: `input` [N, width] double → MatMul W [width, K] →
 * Add B [K] → Softmax → `probabilities` [N, K] double, and ArgMax (the first of equal maxima, as
 * the engine) → `class_index` [N, 1] int64.
 */
export function softmaxOnnx(
  weights: readonly (readonly number[])[],
  bias: readonly number[],
  options: { input: string; name: string },
): Uint8Array {
  const k = bias.length;
  const width = k === 0 ? 0 : weights[0].length;
  // W is [width, K]: column c holds class c's weights.
  const w: number[] = [];
  for (let j = 0; j < width; j++) for (let c = 0; c < k; c++) w.push(weights[c][j]);
  return graphModel({
    name: options.name,
    nodes: [
      opNode('MatMul', [options.input, 'W'], ['margins0']),
      opNode('Add', ['margins0', 'B'], ['margins']),
      opNode('Softmax', ['margins'], ['probabilities'], [['axis', { int: 1 }]]),
      opNode(
        'ArgMax',
        ['margins'],
        ['class_index'],
        [
          ['axis', { int: 1 }],
          ['keepdims', { int: 1 }],
        ],
      ),
    ],
    initializers: [tensor('W', [width, k], w), tensor('B', [k], bias)],
    inputs: [valueInfo(options.input, ['N', width])],
    outputs: [valueInfo('probabilities', ['N', k]), valueInfo('class_index', ['N', 1], INT64)],
  });
}
