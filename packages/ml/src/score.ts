/**
 * The `score` step: an ONNX model run by `onnxruntime-node` (CPU provider) over batches of
 * records, through the core's asynchronous boundary (`AsyncStage`): results in input order, at
 * most `capacity` engine batches in flight, drained before every checkpoint. The model's
 * signature is checked against the declared input and output mapping when the job opens; with
 * `watch`, a changed model file is loaded, checked and swapped in between batches, and each output
 * record names the version (the file's SHA-256 prefix) that scored it (`score-model.ts`).
 */

import { isAbsolute, join } from 'node:path';
import { AsyncStage, defineStep, PER_RECORD_CHANGELOG, SluiceError } from '@sluice/core';
import Type from 'typebox';
import { type FeatureConfig, FeatureSpec, featureProblem, featureSchema } from './features.ts';
import { ScoreModel } from './score-model.ts';

export { checkSignature, modelVersion } from './score-model.ts';

const config = Type.Object(
  {
    model: Type.String({
      description: 'The ONNX model file (relative to the pipeline file).',
      examples: ['./models/fraud.onnx'],
    }),
    inputs: Type.Record(
      Type.String(),
      Type.Array(Type.Union([Type.String(), featureSchema]), {
        minItems: 1,
        description:
          'The columns of one input tensor, in order: a field name (its value, used as it is) or a feature (`{ numeric | hashed | text: <field>, …options }`, as in `learn`). Numeric features must set `standardize: false` and `one_hot` is not available: the model file holds no learned feature state.',
      }),
      {
        description:
          'Input tensor name → its columns. Each tensor is fed as [records, columns] of the element type the model declares: float32 or float64 (fields as numbers, or features); int64 or int32 (fields holding integers, as they are) or string (fields holding texts, as they are), whose columns must be plain field names. Every input of the model must be declared.',
        examples: [{ features: ['amount', 'hour', { hashed: 'country', buckets: 8 }] }],
      },
    ),
    outputs: Type.Record(Type.String(), Type.String(), {
      description:
        'Output tensor name → the field it is written to: a number per record for an output of shape [N] or [N, 1], an array of numbers for [N, k]. Outputs not named are not read.',
      examples: [{ probability: 'score' }],
    }),
    batch_size: Type.Integer({
      minimum: 1,
      maximum: 1 << 20,
      default: 256,
      description:
        'Most records per model run: each engine batch is scored in runs of up to this many records (one `session.run` each). Results do not depend on it.',
    }),
    capacity: Type.Integer({
      minimum: 1,
      default: 4,
      description:
        'Most engine batches in flight; while this many are, the sources wait (backpressure). Checkpoints and the end of input wait for them to finish.',
    }),
    watch: Type.Boolean({
      default: false,
      description:
        'Watch the model file: a changed file (by checksum) is loaded, its signature checked, and it replaces the model between batches without stopping the job; one whose signature does not fit is refused with a warning and the running model stays. Writing an earlier file back rolls back.',
    }),
    version_field: Type.String({
      default: 'model_version',
      description:
        'Field that names the model version that scored the record: the first 12 hex digits of the file’s SHA-256.',
    }),
    threads: Type.Integer({
      minimum: 1,
      default: 1,
      description: 'Threads onnxruntime uses within one run (`intraOpNumThreads`).',
    }),
    workers: Type.Integer({
      minimum: 0,
      maximum: 64,
      default: 0,
      description:
        'Worker threads that run the model, each with its own session, taking runs in turn; 0: runs on the event-loop thread (onnxruntime-node runs a model synchronously there). Worth it for models slow enough to stall the job between batches.',
    }),
  },
  { additionalProperties: false },
);

/** The input's features, a field name standing for an unstandardized numeric feature. */
function inputSpec(stepId: string, tensor: string, columns: readonly unknown[]): FeatureSpec {
  const path = (i: number, option?: string) => `inputs.${tensor}[${i}]${option ? `.${option}` : ''}`;
  const configs = columns.map((column, i) => {
    if (typeof column === 'string') return { numeric: column, standardize: false } as FeatureConfig;
    const feature = column as { [option: string]: unknown };
    const problem = featureProblem(feature);
    if (problem !== undefined)
      throw new SluiceError('CONFIG_INVALID', problem[1], { step: stepId, path: path(i, problem[0]) });
    if (feature.one_hot !== undefined)
      throw new SluiceError(
        'CONFIG_INVALID',
        'one_hot needs a learned vocabulary, which a model file does not hold: use hashed',
        { step: stepId, path: path(i, 'one_hot') },
      );
    if (feature.numeric !== undefined && feature.standardize !== false)
      throw new SluiceError(
        'CONFIG_INVALID',
        'score has no running moments to standardize with: set standardize: false (standardize inside the model)',
        { step: stepId, path: path(i, 'standardize') },
      );
    if (feature.numeric !== undefined && feature.missing === 'mean')
      throw new SluiceError('CONFIG_INVALID', 'missing: mean needs a running mean: use zero or dead_letter', {
        step: stepId,
        path: path(i, 'missing'),
      });
    return feature as FeatureConfig;
  });
  return new FeatureSpec(configs);
}

export const scoreStep = defineStep({
  type: 'score',
  summary: 'Scores records with an ONNX model (onnxruntime, CPU), batched, with hot model swaps.',
  description:
    'Each record’s input fields become a row of the declared input tensors; the model runs once per up to `batch_size` records, through the asynchronous boundary (results in input order; checkpoints wait for the batches in flight), and the declared outputs are written to their fields with `version_field` naming the model version. The model’s inputs and outputs (names, element types, shapes) are checked against `inputs` and `outputs` when the job opens; a mismatch stops it with an error naming the tensor. With `watch: true` a changed model file is checked and swapped in between batches; a file that does not fit is refused with a warning. A record with a missing input, or one its tensor cannot hold (not a number, not an integer, not a text), goes to the dead-letter output with the reason.',
  config,
  changelog: () => PER_RECORD_CHANGELOG,
  schema(cfg, [input]) {
    const added = [
      ...Object.values(cfg.outputs).map((name) => ({ name, type: 'any' as const, nullable: false })),
      { name: cfg.version_field ?? 'model_version', type: 'string' as const, nullable: false },
    ];
    const names = new Set(added.map((f) => f.name));
    return { fields: [...input.fields.filter((f) => !names.has(f.name)), ...added], open: input.open };
  },
  example:
    'type: score\nmodel: ./models/fraud.onnx\ninputs:\n  features: [amount, hour, { hashed: country, buckets: 8 }]\noutputs: { probability: fraud_score }\nbatch_size: 512\nwatch: true',
  create(cfg, step) {
    const inputs = Object.entries(cfg.inputs).map(([name, columns]) => ({
      name,
      spec: inputSpec(step.id, name, columns),
      ...(columns.every((c) => typeof c === 'string') ? { fields: columns as string[] } : {}),
    }));
    const outputs = Object.entries(cfg.outputs);
    if (outputs.length === 0)
      throw new SluiceError('CONFIG_INVALID', 'declare at least one output tensor to read', {
        step: step.id,
        path: 'outputs',
      });
    const model = new ScoreModel({
      stepId: step.id,
      path: isAbsolute(cfg.model) ? cfg.model : join(step.baseDir, cfg.model),
      file: cfg.model,
      inputs,
      outputs,
      batchSize: cfg.batch_size ?? 256,
      watch: cfg.watch ?? false,
      versionField: cfg.version_field ?? 'model_version',
      threads: cfg.threads ?? 1,
      workers: cfg.workers ?? 0,
    });
    return new AsyncStage({
      stepId: step.id,
      capacity: cfg.capacity ?? 4,
      ordered: true,
      acquire: (ctx) => model.open(ctx.log),
      release: () => model.close(),
      work: (batch) => model.score(batch),
    });
  },
});
