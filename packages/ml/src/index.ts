/**
 * @sluice/ml: online machine learning on the stream, registered explicitly:
 *
 * ```ts
 * const registry = new Registry([builtins, ml]);
 * ```
 *
 * The `sluice` CLI loads this package by itself when a pipeline names one of its step types.
 */

import type { Plugin } from '@sluice/core';
import { evaluateStep } from './evaluate.ts';
import { scoreStep } from './score.ts';
import { learnPredictStep, learnStep, predictStep } from './steps.ts';

export { ExportRefused, type OnnxExport, toOnnx } from './export.ts';
export { type FeatureConfig, FeatureSpec, type FeatureState, stableHash } from './features.ts';
export { Learner, type LearnerJson, type ModelConfig, type ModelJson, type Prediction } from './learner.ts';
export { logLoss, regressionErrors, rocAuc } from './metrics.ts';
export { Adwin, PageHinkley } from './models/drift.ts';
export { EwmaZScore } from './models/ewma.ts';
export { HoeffdingTree } from './models/hoeffding.ts';
export { HalfSpaceTrees } from './models/hst.ts';
export { StreamingKMeans } from './models/kmeans.ts';
export { LinearModel } from './models/linear.ts';
export { GaussianNb, MultinomialNb } from './models/naive-bayes.ts';
export { evaluateStep, learnPredictStep, learnStep, predictStep, scoreStep };

/** The ML plugin: the `learn`, `predict`, `learn_predict`, `evaluate` and `score` (ONNX) steps. */
export const ml: Plugin = {
  name: 'ml',
  components: [learnStep, predictStep, learnPredictStep, evaluateStep, scoreStep],
};
