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
import { LinearModel } from './models/linear.ts';
import { linearOnnx, treeClassifierOnnx } from './onnx-writer.ts';

export interface OnnxExport {
  /** The ONNX ModelProto's bytes. */
  model: Uint8Array;
  /** The input tensor's name. */
  input: 'features';
  /**
   * The output tensor's name: `probability` [N, 1] (logistic), `prediction` [N, 1] (linear), or
   * for the tree `probabilities` [N, classes] (float, classes in the tree's order) beside
   * `label` [N] (the class's text).
   */
  output: 'probability' | 'prediction' | 'probabilities';
  /** The columns of `input`: what the `score` step declares as `inputs: { features: columns }`. */
  columns: FeatureConfig[];
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
  if (!(model instanceof LinearModel))
    throw new ExportRefused(
      `ONNX export covers logistic and linear regression and the Hoeffding tree; this model is '${learner.type}'`,
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

/** A Hoeffding tree as a TreeEnsembleClassifier: thresholds moved back to the raw columns' scale, leaves' class shares as weights. */
function treeOnnx(learner: Learner, tree: HoeffdingTree): OnnxExport {
  const { columns, scale } = exportColumns(learner);
  const classes = tree.classes;
  const nodes = tree.nodes.map((n) => {
    if (isHoeffdingLeaf(n)) {
      const total = n.counts.reduce((a, b) => a + b, 0);
      return { weights: classes.map((_, c) => (total > 0 ? (n.counts[c] ?? 0) / total : 0)) };
    }
    const s = scale[n.feature];
    let threshold = n.threshold;
    // (x − mean) / sd ≤ t  ⇔  x ≤ t·sd + mean; with sd = 0 the engine encodes 0, so the branch is fixed.
    if (s !== undefined)
      threshold =
        s.sd > 0 ? n.threshold * s.sd + s.mean : 0 <= n.threshold ? Number.MAX_VALUE : -Number.MAX_VALUE;
    return { feature: n.feature, threshold, left: n.left, right: n.right };
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
