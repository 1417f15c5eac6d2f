/**
 * Model export. Every learner goes to and from plain JSON (`Learner.toJSON` / `Learner.fromJSON`,
 * what a `learn` step's summaries carry and `predict` reads from a `model_file`); the linear
 * models also go to ONNX, for the `score` step or any ONNX runtime.
 *
 * The ONNX model takes the raw feature columns — numeric fields as they are, hashed and text
 * features as their (stateless) bucket counts — as one double tensor `features` [N, width] and
 * gives `probability` (logistic regression) or `prediction` (linear regression) [N, 1]. The
 * online standardization is folded into the weights (w/σ, and b − Σ w·μ/σ), so the file needs no
 * feature state; `columns` is the `score` step's `inputs.features` list that feeds it.
 */

import type { FeatureConfig } from './features.ts';
import type { Learner } from './learner.ts';
import { LinearModel } from './models/linear.ts';
import { linearOnnx } from './onnx-writer.ts';

export interface OnnxExport {
  /** The ONNX ModelProto's bytes. */
  model: Uint8Array;
  /** The input tensor's name. */
  input: 'features';
  /** The output tensor's name. */
  output: 'probability' | 'prediction';
  /** The columns of `input`: what the `score` step declares as `inputs: { features: columns }`. */
  columns: FeatureConfig[];
}

/** Why a learner cannot be exported as ONNX. */
export class ExportRefused extends Error {}

/** The ONNX form of a linear learner; throws {@link ExportRefused} for other models and for features that need learned state. */
export function toOnnx(learner: Learner): OnnxExport {
  const model = learner.model;
  if (!(model instanceof LinearModel))
    throw new ExportRefused(
      `ONNX export covers logistic and linear regression; this model is '${learner.type}'`,
    );
  const weights = Array.from(model.weights);
  let bias = model.bias;
  const columns: FeatureConfig[] = [];
  let at = 0;
  learner.spec.features.forEach((f, k) => {
    switch (f.kind) {
      case 'numeric': {
        if (f.standardize) {
          if (f.missing !== 'dead_letter')
            throw new ExportRefused(
              `feature '${f.field}': a standardized feature with missing: ${f.missing} stands for its running mean, which the exported columns cannot`,
            );
          const m = learner.state.features[k] as { n: number; mean: number; m2: number };
          const sd = m.n > 1 ? Math.sqrt(m.m2 / (m.n - 1)) : 0;
          const w = sd > 0 ? weights[at] / sd : 0;
          bias -= w * m.mean;
          weights[at] = w;
        } else if (f.missing === 'mean')
          throw new ExportRefused(
            `feature '${f.field}': missing: mean uses the running mean, which the exported columns cannot`,
          );
        columns.push({
          numeric: f.field,
          standardize: false,
          missing: f.missing === 'zero' ? 'zero' : 'dead_letter',
        });
        at += 1;
        break;
      }
      case 'one_hot':
        throw new ExportRefused(
          `feature '${f.field}': one_hot columns depend on the learned vocabulary; use hashed for a model to export`,
        );
      case 'hashed':
        columns.push({ hashed: f.field, buckets: f.buckets, missing: f.missing });
        at += f.buckets + (f.missing === 'indicator' ? 1 : 0);
        break;
      case 'text':
        columns.push({ text: f.field, buckets: f.buckets, missing: f.missing });
        at += f.buckets + (f.missing === 'indicator' ? 1 : 0);
        break;
    }
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
