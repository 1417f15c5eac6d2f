/**
 * Model export. Every learner goes to and from plain JSON (`Learner.toJSON` / `Learner.fromJSON`,
 * what a `learn` step's summaries carry and `predict` reads from a `model_file`); the linear
 * models and the Hoeffding tree also go to ONNX, for the `score` step or any ONNX runtime.
 *
 * The ONNX model takes the raw feature columns — numeric fields as they are, hashed and text
 * features as their (stateless) bucket counts — as one double tensor `features` [N, width] and
 * gives `probability` (logistic regression) or `prediction` (linear regression) [N, 1]. The
 * online standardization is folded into the weights (w/σ, and b − Σ w·μ/σ), so the file needs no
 * feature state; `columns` is the `score` step's `inputs.features` list that feeds it.
 */

import type { FeatureConfig } from './features.ts';
import type { Learner } from './learner.ts';
import { HoeffdingTree, isHoeffdingLeaf } from './models/hoeffding.ts';
import { HalfSpaceTrees } from './models/hst.ts';
import { LinearModel } from './models/linear.ts';
import { SoftmaxRegression } from './models/softmax.ts';
import {
  anomalyTreesOnnx,
  linearOnnx,
  type RegressionTree,
  softmaxOnnx,
  treeClassifierOnnx,
} from './onnx-writer.ts';

export interface OnnxExport {
  /** The ONNX ModelProto's bytes. */
  model: Uint8Array;
  /** The input tensor's name. */
  input: 'features';
  /**
   * The output tensor's name: `probability` [N, 1] (logistic), `prediction` [N, 1] (linear), or
   * for the tree `probabilities` [N, classes] (float, classes in the tree's order) beside
   * `label` [N] (the class's text); for Half-Space Trees `score` [N, 1] (double) beside
   * `anomaly` [N, 1] (bool).
   */
  output: 'probability' | 'prediction' | 'probabilities' | 'score';
  /** The columns of `input`: what the `score` step declares as `inputs: { features: columns }`. */
  columns: FeatureConfig[];
  /** Softmax regression: the classes, in the order of `probabilities`' columns and of `class_index`. */
  classes?: string[];
}

/** Why a learner cannot be exported as ONNX. */
export class ExportRefused extends Error {}

/** The exported columns of a learner's features, and per column how the engine encodes a raw value: (x − mean) / sd, or as it is. */
function exportColumns(learner: Learner): {
  columns: FeatureConfig[];
  scale: ({ mean: number; sd: number } | undefined)[];
} {
  const columns: FeatureConfig[] = [];
  const scale: ({ mean: number; sd: number } | undefined)[] = [];
  learner.spec.features.forEach((f, k) => {
    switch (f.kind) {
      case 'numeric': {
        if (f.standardize) {
          if (f.missing !== 'dead_letter')
            throw new ExportRefused(
              `feature '${f.field}': a standardized feature with missing: ${f.missing} stands for its running mean, which the exported columns cannot`,
            );
          const m = learner.state.features[k] as { n: number; mean: number; m2: number };
          scale.push({ mean: m.mean, sd: m.n > 1 ? Math.sqrt(m.m2 / (m.n - 1)) : 0 });
        } else if (f.missing === 'mean')
          throw new ExportRefused(
            `feature '${f.field}': missing: mean uses the running mean, which the exported columns cannot`,
          );
        else scale.push(undefined);
        columns.push({
          numeric: f.field,
          standardize: false,
          missing: f.missing === 'zero' ? 'zero' : 'dead_letter',
        });
        break;
      }
      case 'one_hot':
        throw new ExportRefused(
          `feature '${f.field}': one_hot columns depend on the learned vocabulary; use hashed for a model to export`,
        );
      case 'hashed':
      case 'text': {
        columns.push(
          f.kind === 'hashed'
            ? { hashed: f.field, buckets: f.buckets, missing: f.missing }
            : { text: f.field, buckets: f.buckets, missing: f.missing },
        );
        for (let i = 0; i < f.buckets + (f.missing === 'indicator' ? 1 : 0); i++) scale.push(undefined);
        break;
      }
    }
  });
  return { columns, scale };
}

/**
 * The ONNX form of a logistic or linear regression or a Hoeffding tree; throws
 * {@link ExportRefused} for other models and for features that need learned state.
 */
export function toOnnx(learner: Learner): OnnxExport {
  const model = learner.model;
  if (model instanceof HoeffdingTree) return treeOnnx(learner, model);
  if (model instanceof HalfSpaceTrees) return hstOnnx(learner, model);
  if (model instanceof SoftmaxRegression) return softmaxExport(learner, model);
  if (!(model instanceof LinearModel))
    throw new ExportRefused(
      `ONNX export covers logistic, softmax and linear regression, the Hoeffding tree and Half-Space Trees; this model is '${learner.type}'`,
    );
  const { columns, scale } = exportColumns(learner);
  const weights = Array.from(model.weights);
  let bias = model.bias;
  scale.forEach((s, j) => {
    if (s === undefined) return;
    const w = s.sd > 0 ? weights[j] / s.sd : 0;
    bias -= w * s.mean;
    weights[j] = w;
  });
  const logistic = learner.type === 'logistic_regression';
  const output = logistic ? 'probability' : 'prediction';
  return {
    model: linearOnnx(weights, bias, {
      input: 'features',
      output,
      sigmoid: logistic,
      name: learner.type,
      producer: 'sluice-ml',
    }),
    input: 'features',
    output,
    columns,
  };
}

/**
 * Softmax regression: per class, the standardization folded into the weights as for the linear
 * models; outputs `probabilities` [N, classes] and `class_index` [N, 1] (into `classes`).
 */
function softmaxExport(learner: Learner, model: SoftmaxRegression): OnnxExport {
  if (model.classes.length === 0) throw new ExportRefused('softmax regression has learned no class yet');
  const { columns, scale } = exportColumns(learner);
  const weights: number[][] = [];
  const bias: number[] = [];
  model.classes.forEach((_, k) => {
    const w = Array.from(model.weights[k]);
    let b = model.bias[k];
    scale.forEach((s, j) => {
      if (s === undefined) return;
      const wj = s.sd > 0 ? w[j] / s.sd : 0;
      b -= wj * s.mean;
      w[j] = wj;
    });
    weights.push(w);
    bias.push(b);
  });
  return {
    model: softmaxOnnx(weights, bias, { input: 'features', name: 'softmax_regression' }),
    input: 'features',
    output: 'probabilities',
    columns,
    classes: [...model.classes],
  };
}

/**
 * An encoded-scale split threshold on the raw column's scale: (x − mean) / sd ≤ t ⇔ x ≤ t·sd + mean;
 * with sd = 0 the engine encodes 0, so the branch is fixed.
 */
function rawThreshold(s: { mean: number; sd: number } | undefined, t: number): number {
  if (s === undefined) return t;
  return s.sd > 0 ? t * s.sd + s.mean : 0 <= t ? Number.MAX_VALUE : -Number.MAX_VALUE;
}

/**
 * Half-Space Trees as one TreeEnsembleRegressor summing, per tree, the mass of the node where a
 * record's walk stops (the first whose reference count is below `size_limit · window_size`, or a
 * leaf): `reference · 2^depth / (trees · window_size)`, so that the sum is the model's mass; then
 * `score` = 1 / (1 + mass) and `anomaly` = score > threshold. The reference counts are those of
 * the last complete window at the time of export: the file is a snapshot and learns nothing.
 */
function hstOnnx(learner: Learner, model: HalfSpaceTrees): OnnxExport {
  if (model.windows === 0)
    throw new ExportRefused(
      `Half-Space Trees score only after a first complete window (${model.options.window_size} records); this model has learned ${model.n}`,
    );
  const { columns, scale } = exportColumns(learner);
  const { height, window_size, size_limit, threshold } = model.options;
  const inner = 2 ** height - 1;
  const limit = size_limit * window_size;
  const trees = model.features.map((features, t): RegressionTree => {
    const thresholds = model.thresholds[t];
    const reference = model.reference[t];
    const nodes: RegressionTree[number][] = [];
    // Depth first from the root; a node where the walk stops is a leaf and its subtree is left out.
    const add = (heap: number, depth: number): number => {
      const id = nodes.length;
      if (heap >= inner || reference[heap] < limit) {
        nodes.push({ value: (reference[heap] * 2 ** depth) / (model.features.length * window_size) });
        return id;
      }
      const split = {
        feature: features[heap],
        threshold: rawThreshold(scale[features[heap]], thresholds[heap]),
        left: 0,
        right: 0,
      };
      nodes.push(split);
      split.left = add(2 * heap + 1, depth + 1);
      split.right = add(2 * heap + 2, depth + 1);
      return id;
    };
    add(0, 0);
    return nodes;
  });
  return {
    model: anomalyTreesOnnx(trees, {
      input: 'features',
      width: model.width,
      threshold,
      name: 'half_space_trees',
      producer: 'sluice-ml',
    }),
    input: 'features',
    output: 'score',
    columns,
  };
}

/** A Hoeffding tree as a TreeEnsembleClassifier: thresholds moved back to the raw columns' scale, leaves' class shares as weights. */
function treeOnnx(learner: Learner, tree: HoeffdingTree): OnnxExport {
  const { columns, scale } = exportColumns(learner);
  const classes = tree.classes;
  const nodes = tree.nodes.map((n) => {
    if (isHoeffdingLeaf(n)) {
      const total = n.counts.reduce((a, b) => a + b, 0);
      return { weights: classes.map((_, c) => (total > 0 ? (n.counts[c] ?? 0) / total : 0)) };
    }
    return {
      feature: n.feature,
      threshold: rawThreshold(scale[n.feature], n.threshold),
      left: n.left,
      right: n.right,
    };
  });
  return {
    model: treeClassifierOnnx(
      { width: tree.width, classes, nodes },
      { input: 'features', name: 'hoeffding_tree', producer: 'sluice-ml' },
    ),
    input: 'features',
    output: 'probabilities',
    columns,
  };
}
