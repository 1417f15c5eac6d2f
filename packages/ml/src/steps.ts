/**
 * The `learn`, `predict` and `learn_predict` steps: one spec each over the model operator, sharing
 * the options that declare the model and its features once.
 */

import { isAbsolute, join } from 'node:path';
import { defineStep, parseDuration, SluiceError, type StepInfo } from '@sluice/core';
import Type from 'typebox';
import { DelayedLabelOperator } from './delayed-labels.ts';
import { FORK_PATIENCE, FORK_WINDOW } from './drift-watch.ts';
import { type FeatureConfig, FeatureSpec, featureProblem, featuresSchema } from './features.ts';
import { type ModelConfig, modelSchema, supervised } from './learner.ts';
import { ModelFile } from './model-file.ts';
import { DRIFT_PORT, type ModelMode, ModelOperator } from './model-operator.ts';
import { type DriftConfig, driftSchema } from './models/drift.ts';

const label = Type.Optional(
  Type.String({
    description:
      'The field holding the label to learn: true/false or 1/0 (logistic regression), a number (linear regression), a class (softmax regression, naive Bayes, Hoeffding tree). Required by every model but `streaming_kmeans`, `ewma_zscore` and `half_space_trees`. A record whose label is missing or unusable goes to the dead-letter output.',
    examples: ['is_fraud'],
  }),
);

const key = Type.Optional(
  Type.Array(Type.String(), {
    minItems: 1,
    description:
      'Fields whose values pick the model: a model per key (per card, per device). Default: one model.',
    examples: [['card_id']],
  }),
);

const output = Type.String({
  description:
    'Field the prediction is written to: the class (true/false, or the class text for `softmax_regression`, naive Bayes and `hoeffding_tree`), the estimate (linear regression), the nearest cluster’s index (`streaming_kmeans`) or whether the record is an anomaly (`ewma_zscore`, `half_space_trees`). Null before the model has learned anything it can predict with.',
  default: 'prediction',
});

const score = Type.String({
  description:
    'Field the score is written to: P(label = 1) (logistic regression), the predicted class’s probability (`softmax_regression`) or posterior (naive Bayes) or share in its leaf (`hoeffding_tree`), the distance to the nearest center (`streaming_kmeans`), the largest |z| (`ewma_zscore`), the anomaly score in [0, 1] (`half_space_trees`). Linear regression writes none.',
  default: 'score',
});

const shared = { model: modelSchema, features: featuresSchema, label, key };

const MODEL_DESCRIPTION =
  'The model and the feature spec are declared once in the step; the model’s state (weights, running moments, vocabularies) lives in the job’s checkpointed keyed state, so a restored job resumes learning exactly where its checkpoint stopped. Records are handled one by one in input order: results do not depend on batch sizes. A record with a missing or non-numeric feature or label goes to the dead-letter output with the reason and changes no model.';

/** The type of the prediction field of a model type (`any` when the model comes from a file). */
function predictionType(type: ModelConfig['type'] | undefined): 'boolean' | 'number' | 'string' | 'any' {
  switch (type) {
    case 'logistic_regression':
    case 'ewma_zscore':
    case 'half_space_trees':
      return 'boolean';
    case 'linear_regression':
    case 'streaming_kmeans':
      return 'number';
    case 'gaussian_nb':
    case 'multinomial_nb':
    case 'hoeffding_tree':
    case 'softmax_regression':
      return 'string';
    default:
      return 'any';
  }
}

/**
 * The schema of a scoring step's output: its input's fields, then the prediction and (but for
 * linear regression) the score, both nullable (null before a model can predict).
 */
function scoredSchema<F extends { readonly name: string }>(
  input: { readonly fields: readonly F[]; readonly open: boolean },
  cfg: { output?: string; score?: string },
  type: ModelConfig['type'] | undefined,
) {
  const output = cfg.output ?? 'prediction';
  const score = cfg.score ?? 'score';
  const added = [{ name: output, type: predictionType(type), nullable: true } as const];
  const withScore =
    type === 'linear_regression'
      ? added
      : [...added, { name: score, type: 'number', nullable: true } as const];
  const names = new Set(withScore.map((f) => f.name));
  return { fields: [...input.fields.filter((f) => !names.has(f.name)), ...withScore], open: input.open };
}

function checkLabel(stepId: string, cfg: { model: unknown; label?: string }): void {
  const model = cfg.model as ModelConfig;
  if (supervised(model.type) && cfg.label === undefined)
    throw new SluiceError('CONFIG_INVALID', `model '${model.type}' learns from a label: set 'label'`, {
      step: stepId,
      path: 'label',
    });
}

/** Fork options only with `on_drift: fork`, and a patience no shorter than the window. */
function checkDrift(stepId: string, drift: DriftConfig | undefined): void {
  if (drift === undefined) return;
  for (const option of ['fork_window', 'fork_patience'] as const)
    if (drift[option] !== undefined && drift.on_drift !== 'fork')
      throw new SluiceError('CONFIG_INVALID', `'${option}' applies only with 'on_drift: fork'`, {
        step: stepId,
        path: `drift.${option}`,
      });
  if ((drift.fork_patience ?? FORK_PATIENCE) < (drift.fork_window ?? FORK_WINDOW))
    throw new SluiceError(
      'CONFIG_INVALID',
      `'fork_patience' (${drift.fork_patience ?? FORK_PATIENCE}) is shorter than 'fork_window' (${drift.fork_window ?? FORK_WINDOW}): a candidate would be dropped before it could be compared`,
      { step: stepId, path: 'drift.fork_patience' },
    );
}

/** The step's feature spec; throws CONFIG_INVALID at the path of a feature that names no kind, two, or another kind's option. */
function featureSpec(stepId: string, features: readonly unknown[]): FeatureSpec {
  features.forEach((feature, i) => {
    const problem = featureProblem(feature as { [option: string]: unknown });
    if (problem !== undefined)
      throw new SluiceError('CONFIG_INVALID', problem[1], {
        step: stepId,
        path: problem[0] === '' ? `features[${i}]` : `features[${i}].${problem[0]}`,
      });
  });
  return new FeatureSpec(features as FeatureConfig[]);
}

function operator(
  mode: ModelMode,
  cfg: {
    model: unknown;
    features: unknown[];
    label?: string;
    key?: string[];
    output?: string;
    score?: string;
    summary_every?: number;
    drift?: unknown;
  },
  step: StepInfo,
  file?: { model_file: string; watch: boolean; version_field: string },
): ModelOperator {
  const features = featureSpec(step.id, cfg.features);
  return new ModelOperator({
    stepId: step.id,
    mode,
    model: cfg.model as ModelConfig,
    features,
    label: cfg.label,
    key: cfg.key,
    output: cfg.output ?? 'prediction',
    score: cfg.score ?? 'score',
    summaryEvery: cfg.summary_every ?? 0,
    ...(file === undefined
      ? {}
      : {
          modelFile: new ModelFile({
            stepId: step.id,
            file: file.model_file,
            path: isAbsolute(file.model_file) ? file.model_file : join(step.baseDir, file.model_file),
            features,
          }),
          watch: file.watch,
          ...(file.watch ? { versionField: file.version_field } : {}),
        }),
    drift: cfg.drift as DriftConfig | undefined,
  });
}

/** `learn_predict` with `labels`: the features on input 0, their labels later on input 1. */
function delayed(
  cfg: {
    model: unknown;
    features: unknown[];
    label?: string;
    key?: string[];
    output?: string;
    score?: string;
    drift?: unknown;
  },
  labels: { id: string; horizon: string | number },
  step: StepInfo,
): DelayedLabelOperator {
  if (step.inputs !== undefined && step.inputs.length !== 2)
    throw new SluiceError(
      'CONFIG_INVALID',
      'with `labels`, learn_predict reads two inputs: `input: [features, labels]`',
      {
        step: step.id,
        path: 'input',
      },
    );
  if (!supervised((cfg.model as ModelConfig).type))
    throw new SluiceError(
      'CONFIG_INVALID',
      `model '${(cfg.model as ModelConfig).type}' learns from no label`,
      {
        step: step.id,
        path: 'labels',
      },
    );
  return new DelayedLabelOperator({
    stepId: step.id,
    model: cfg.model as ModelConfig,
    features: featureSpec(step.id, cfg.features),
    label: cfg.label!,
    id: labels.id,
    horizon: parseDuration(labels.horizon, 'labels.horizon'),
    key: cfg.key,
    output: cfg.output ?? 'prediction',
    score: cfg.score ?? 'score',
    drift: cfg.drift as DriftConfig | undefined,
  });
}

export const learnPredictStep = defineStep({
  type: 'learn_predict',
  summary: 'Predicts each record with the current model, then learns from its label (prequential).',
  description: `Test-then-train: each record first gets the prediction of the model as it stands (the \`output\` and \`score\` fields), then the model learns from its label — so every prediction is made on a record the model has not seen, and an \`evaluate\` step downstream measures how the online model does. With \`key\`, one model per key. ${MODEL_DESCRIPTION}`,
  config: Type.Object(
    {
      ...shared,
      output,
      score,
      drift: Type.Optional(driftSchema),
      labels: Type.Optional(
        Type.Object(
          {
            id: Type.String({ description: 'Field both inputs carry that pairs a label with its features.' }),
            // A duration as the core's duration options take it (text with a unit, or ms), so that
            // a bad horizon fails when the plan is checked, not when the job starts.
            horizon: Type.Union(
              [
                Type.String({
                  pattern: '^\\s*(?:\\d+(?:\\.\\d+)?|(?:\\d+(?:\\.\\d+)?(?:ms|s|m|h|d))+)\\s*$',
                }),
                Type.Number({ minimum: 0 }),
              ],
              {
                title: 'duration',
                examples: ['30s', '1h'],
                description:
                  'How long (event time) after its features a label is still learned from. A number with a unit (ms, s, m, h, d), or milliseconds.',
              },
            ),
          },
          {
            additionalProperties: false,
            description:
              'Labels that arrive later than their features, on the step’s second input (`input: [features, labels]`): each feature record is predicted and held under its `id`; a label record with that id (its `label` field) within `horizon` makes the key’s model learn from the held features. Both inputs are handled in event-time order as the watermark passes them (features first at equal times), so results depend on the input only. A label that matches no held features goes to the late output; a matched one is consumed (counted as filtered).',
            examples: [{ id: 'txn_id', horizon: '1h' }],
          },
        ),
      ),
    },
    { additionalProperties: false },
  ),
  state: ['model', 'features', 'label', 'key', 'drift', 'labels'],
  schema: (cfg, [input]) => scoredSchema(input, cfg, (cfg.model as ModelConfig).type),
  sideOutputs: [
    {
      name: DRIFT_PORT,
      description:
        'with `drift`, a record per detected change and per end of a fork: the key fields, `detector`, `learned` (records the model in place had learned), `drifts` (changes found for the key so far) and `action` — `reset`, `keep` (reported only; also a drift found while a fork runs), `fork` (a candidate started), `swap` (the candidate took the model’s place) or `discard` (the candidate was dropped after `fork_patience` records); `swap` and `discard` records add `active_error` and `candidate_error`, the mean errors of both over the last `fork_window` records; append-only',
    },
  ],
  outputs: (cfg) => (cfg.drift === undefined ? [] : [DRIFT_PORT]),
  example:
    'type: learn_predict\nmodel: { type: logistic_regression, optimizer: adam, learning_rate: 0.01 }\nfeatures:\n  - numeric: amount\n  - one_hot: country\n  - text: merchant\nlabel: is_fraud',
  create(cfg, step) {
    checkLabel(step.id, cfg);
    checkDrift(step.id, cfg.drift as DriftConfig | undefined);
    if (cfg.labels !== undefined) return delayed(cfg, cfg.labels, step);
    if (step.inputs !== undefined && step.inputs.length > 1)
      throw new SluiceError(
        'CONFIG_INVALID',
        'learn_predict reads a second input only with `labels` (the labels arriving later than their features)',
        { step: step.id, path: 'input' },
      );
    if (cfg.drift !== undefined && !supervised((cfg.model as ModelConfig).type))
      throw new SluiceError(
        'CONFIG_INVALID',
        `drift detection watches the errors of a model that learns from a label; '${(cfg.model as ModelConfig).type}' has none`,
        { step: step.id, path: 'drift' },
      );
    return operator('learn_predict', cfg, step);
  },
});

export const learnStep = defineStep({
  type: 'learn',
  summary: 'Updates a model from each record and its label; emits model summaries, or nothing.',
  description: `Emits nothing but, with \`summary_every: N\`, a summary after every N records a key's model learned: the key fields, \`learned\` (records learned) and \`model\` (the model and its feature state as JSON — what \`predict\` reads from a \`model_file\` or from its second input). ${MODEL_DESCRIPTION}`,
  config: Type.Object(
    {
      ...shared,
      summary_every: Type.Integer({
        minimum: 0,
        description: 'Emit a model summary every this many records learned per key; 0: never.',
        default: 0,
      }),
    },
    { additionalProperties: false },
  ),
  state: ['model', 'features', 'label', 'key'],
  example:
    'type: learn\nmodel: { type: linear_regression, l2: 0.001 }\nfeatures: [{ numeric: distance_km }, { one_hot: vehicle }]\nlabel: minutes\nsummary_every: 10000',
  create(cfg, step) {
    checkLabel(step.id, cfg);
    return operator('learn', cfg, step);
  },
});

export const predictStep = defineStep({
  type: 'predict',
  summary: 'Adds a prediction field from a model loaded from a file or learned upstream.',
  description:
    'The model comes from `model_file` (the JSON of a `learn` step’s summary `model` field, or of `Learner.toJSON()`), or from the step’s second input: the summaries of an upstream `learn` step (`input: [records, learner]`), each replacing the model of its key as it arrives. Records of a key with no model yet get null predictions. Predicting never changes the model or its feature state. Which summary a record meets depends on how the two inputs interleave, which the engine does not order: for results that are a function of the input alone, use `learn_predict` or a `model_file`. A record with a missing or non-numeric feature goes to the dead-letter output with the reason.',
  config: Type.Object(
    {
      features: featuresSchema,
      key,
      model_file: Type.Optional(
        Type.String({
          description: 'JSON file of a learned model (relative to the pipeline file).',
          examples: ['./models/fraud.json'],
        }),
      ),
      output,
      score,
      watch: Type.Boolean({
        default: false,
        description:
          'Watch `model_file` and swap in a changed file between batches (an engine batch is always predicted by one model). A changed file that is not a model of these features is refused with a warning and the running model stays; writing the earlier file back rolls back. Each record then names the version that predicted it in `version_field`.',
      }),
      version_field: Type.String({
        default: 'model_version',
        description:
          'With `watch`: the field naming the version of the file’s model that predicted the record (the first 12 hex digits of the file’s SHA-256); null for a key predicted by a model from the second input.',
      }),
    },
    { additionalProperties: false },
  ),
  state: ['features', 'key'],
  example:
    'type: predict\nmodel_file: ./fraud-model.json\nfeatures: [{ numeric: amount }, { one_hot: country }]',
  create(cfg, step) {
    if (cfg.watch === true && cfg.model_file === undefined)
      throw new SluiceError('CONFIG_INVALID', '`watch` watches the `model_file`: set it', {
        step: step.id,
        path: 'watch',
      });
    // The model type comes with each model; the operator never creates one in predict mode.
    return operator(
      'predict',
      { ...cfg, model: { type: 'ewma_zscore' } as ModelConfig },
      step,
      cfg.model_file === undefined
        ? undefined
        : {
            model_file: cfg.model_file,
            watch: cfg.watch ?? false,
            version_field: cfg.version_field ?? 'model_version',
          },
    );
  },
});
