/**
 * A learner: one model with its feature state, behind one interface for the steps — check a
 * record's label, encode its features, predict, learn, and go to and from plain JSON.
 */

import { type TSchema, Type } from 'typebox';
import { FeatureError, type FeatureSpec, type FeatureState } from './features.ts';
import { type EwmaJson, EwmaZScore, ewmaOptions } from './models/ewma.ts';
import {
  type HoeffdingJson,
  type HoeffdingOptions,
  HoeffdingTree,
  hoeffdingOptions,
} from './models/hoeffding.ts';
import { HalfSpaceTrees, type HstJson, type HstOptions, hstOptions } from './models/hst.ts';
import { type KMeansJson, kmeansOptions, StreamingKMeans } from './models/kmeans.ts';
import { LinearModel, type LinearModelJson, type LinearOptions, linearOptions } from './models/linear.ts';
import {
  GaussianNb,
  type GaussianNbJson,
  gaussianNbOptions,
  MultinomialNb,
  type MultinomialNbJson,
  multinomialNbOptions,
} from './models/naive-bayes.ts';
import { type SoftmaxJson, SoftmaxRegression } from './models/softmax.ts';

/**
 * One variant of the `model` union: its `type` and its options, each optional — Ajv does not apply
 * defaults inside a union, so the options' defaults are applied by the model's constructor (and
 * the schema's `default`s document them).
 */
/**
 * The properties of `schema` with every option that has a default made optional: Ajv applies no
 * defaults inside a union, so a variant leaves them optional and the model's constructor applies
 * them (the schema's `default`s document them).
 */
function defaultsOptional(schema: { properties: { [name: string]: TSchema } }): { [name: string]: TSchema } {
  return Object.fromEntries(
    Object.entries(schema.properties).map(([name, p]) => [name, 'default' in p ? Type.Optional(p) : p]),
  );
}

const TYPE_DESCRIPTION =
  'The model: `logistic_regression` (binary; label true/false or 1/0), `softmax_regression` (multiclass logistic regression; label a class), `linear_regression` (label a number), `gaussian_nb`, `multinomial_nb` or `hoeffding_tree` (label a class; multinomial over non-negative counts), `streaming_kmeans`, `ewma_zscore` or `half_space_trees` (unsupervised, no label).';

const withType = <T extends string>(type: T, options: { properties: object }) =>
  Type.Object(
    {
      type: Type.Literal(type, { description: TYPE_DESCRIPTION }),
      ...defaultsOptional(options as { properties: { [name: string]: TSchema } }),
    },
    { additionalProperties: false },
  );

/** The `model:` option of the steps: a model type and its options. */
export const modelSchema = Type.Union(
  [
    withType('logistic_regression', linearOptions),
    withType('linear_regression', linearOptions),
    withType('softmax_regression', linearOptions),
    withType('gaussian_nb', gaussianNbOptions),
    withType('multinomial_nb', multinomialNbOptions),
    withType('streaming_kmeans', kmeansOptions),
    withType('ewma_zscore', ewmaOptions),
    withType('hoeffding_tree', hoeffdingOptions),
    withType('half_space_trees', hstOptions),
  ],
  {
    description:
      'The model: `type` and its options (learning rate, regularization, smoothing, …). Options not given take their defaults.',
    examples: [{ type: 'logistic_regression', optimizer: 'adam', learning_rate: 0.01, l2: 0.0001 }],
  },
);

/** The `model:` option as declared (options left out take their defaults). */
export type ModelConfig =
  | ({ type: 'logistic_regression' | 'linear_regression' | 'softmax_regression' } & Partial<LinearOptions>)
  | { type: 'gaussian_nb'; var_smoothing?: number }
  | { type: 'multinomial_nb'; alpha?: number }
  | { type: 'streaming_kmeans'; k?: number; decay?: number }
  | { type: 'ewma_zscore'; alpha?: number; threshold?: number; warmup?: number }
  | ({ type: 'hoeffding_tree' } & Partial<HoeffdingOptions>)
  | ({ type: 'half_space_trees' } & Partial<HstOptions>);
export type ModelType = ModelConfig['type'];

type AnyModel =
  | LinearModel
  | SoftmaxRegression
  | GaussianNb
  | MultinomialNb
  | EwmaZScore
  | StreamingKMeans
  | HoeffdingTree
  | HalfSpaceTrees;
export type ModelJson =
  | LinearModelJson
  | SoftmaxJson
  | GaussianNbJson
  | MultinomialNbJson
  | EwmaJson
  | KMeansJson
  | HoeffdingJson
  | HstJson;

/** The JSON form of a learner: its model and the state of its features. */
export interface LearnerJson {
  model: ModelJson;
  features: FeatureState;
}

/** A label the model learns from: a number (0/1 or a target) or a class's text. */
export type Label = number | string;

/** Why a record cannot be learned from or scored (dead-letter reason), with the field at fault. */
export class RecordRefused extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}

/** Whether the model type needs a label. */
export function supervised(type: ModelType): boolean {
  return type !== 'ewma_zscore' && type !== 'streaming_kmeans' && type !== 'half_space_trees';
}

/**
 * The label of `record` as model `type` learns it; throws {@link RecordRefused} for a missing or
 * unusable one.
 */
export function labelOf(type: ModelType, field: string, record: { [field: string]: unknown }): Label {
  const value = record[field];
  if (value === undefined || value === null)
    throw new RecordRefused(field, `label field '${field}' is missing`);
  switch (type) {
    case 'logistic_regression':
      if (value === true || value === 1) return 1;
      if (value === false || value === 0) return 0;
      throw new RecordRefused(
        field,
        `label field '${field}' holds ${JSON.stringify(value)}, not a binary label (true/false or 1/0)`,
      );
    case 'linear_regression':
      if (typeof value === 'number' && Number.isFinite(value)) return value;
      throw new RecordRefused(
        field,
        `label field '${field}' holds ${JSON.stringify(value)}, not a finite number`,
      );
    default:
      if (typeof value === 'string' && value !== '') return value;
      if (typeof value === 'number' || typeof value === 'boolean') return String(value);
      throw new RecordRefused(field, `label field '${field}' holds ${JSON.stringify(value)}, not a class`);
  }
}

/** What a model says of a record: the prediction and, where the model has one, a score. */
export interface Prediction {
  /** Logistic: the class (p ≥ 0.5); linear: the estimate; NB, Hoeffding tree: the class; k-means: the cluster; EWMA, HST: anomaly. */
  value: boolean | number | string | null;
  /** Logistic: P(y = 1); NB: the class's posterior; tree: the class's share in its leaf; k-means: the distance to its center; EWMA: the largest |z|; HST: the anomaly score; linear: none. */
  score: number | null;
}

function createModel(config: ModelConfig, width: number): AnyModel {
  const { type, ...options } = config as ModelConfig & { [option: string]: never };
  switch (type) {
    case 'logistic_regression':
    case 'linear_regression':
      return new LinearModel(type, width, options);
    case 'softmax_regression':
      return new SoftmaxRegression(width, options);
    case 'gaussian_nb':
      return new GaussianNb(width, options);
    case 'multinomial_nb':
      return new MultinomialNb(width, options);
    case 'ewma_zscore':
      return new EwmaZScore(width, options);
    case 'streaming_kmeans':
      return new StreamingKMeans(width, options);
    case 'hoeffding_tree':
      return new HoeffdingTree(width, options);
    case 'half_space_trees':
      return new HalfSpaceTrees(width, options);
  }
}

function modelFromJson(json: ModelJson, width: number): AnyModel {
  switch (json?.type) {
    case 'logistic_regression':
    case 'linear_regression':
      return LinearModel.fromJSON(json, width);
    case 'softmax_regression':
      return SoftmaxRegression.fromJSON(json, width);
    case 'gaussian_nb':
      return GaussianNb.fromJSON(json, width);
    case 'multinomial_nb':
      return MultinomialNb.fromJSON(json, width);
    case 'ewma_zscore':
      return EwmaZScore.fromJSON(json, width);
    case 'streaming_kmeans':
      return StreamingKMeans.fromJSON(json, width);
    case 'hoeffding_tree':
      return HoeffdingTree.fromJSON(json, width);
    case 'half_space_trees':
      return HalfSpaceTrees.fromJSON(json, width);
    default:
      throw new Error(`unknown model type ${JSON.stringify((json as { type?: unknown })?.type)}`);
  }
}

/** One model and its feature state. */
export class Learner {
  readonly spec: FeatureSpec;
  readonly model: AnyModel;
  readonly state: FeatureState;
  /** Records learned. */
  learned = 0;
  readonly #x: Float64Array;

  private constructor(spec: FeatureSpec, model: AnyModel, state: FeatureState) {
    this.spec = spec;
    this.model = model;
    this.state = state;
    this.#x = new Float64Array(spec.width);
  }

  /** A learner that has learned nothing. */
  static create(config: ModelConfig, spec: FeatureSpec): Learner {
    return new Learner(spec, createModel(config, spec.width), spec.initialState());
  }

  /** The learner a {@link toJSON} result describes; throws when it does not fit `spec`. */
  static fromJSON(json: LearnerJson & { learned?: number }, spec: FeatureSpec): Learner {
    if (typeof json !== 'object' || json === null || !spec.isState(json.features))
      throw new Error('the feature state does not match the features of the step');
    const learner = new Learner(spec, modelFromJson(json.model, spec.width), structuredClone(json.features));
    learner.learned = typeof json.learned === 'number' ? json.learned : 0;
    return learner;
  }

  get type(): ModelType {
    return this.model.type;
  }

  /**
   * Encodes the record's features; with `learn`, folds them into the feature state first.
   * Throws {@link RecordRefused} for a feature the spec refuses (state unchanged).
   */
  encode(record: { [field: string]: unknown }, learn: boolean): Float64Array {
    try {
      this.spec.encode(record, this.state, this.#x, learn);
    } catch (err) {
      if (err instanceof FeatureError) throw new RecordRefused(err.field, err.message);
      throw err;
    }
    if (this.model instanceof MultinomialNb) {
      try {
        MultinomialNb.check(this.#x);
      } catch (err) {
        throw new RecordRefused('features', (err as Error).message);
      }
    }
    return this.#x;
  }

  /** The model's prediction for encoded features `x`. */
  predict(x: Float64Array): Prediction {
    const model = this.model;
    if (model instanceof LinearModel) {
      const p = model.predict(x);
      return model.type === 'logistic_regression' ? { value: p >= 0.5, score: p } : { value: p, score: null };
    }
    if (model instanceof EwmaZScore) {
      const { score, anomaly } = model.predict(x);
      return { value: anomaly, score };
    }
    if (model instanceof HalfSpaceTrees) {
      const p = model.predict(x);
      return p === undefined ? { value: null, score: null } : { value: p.anomaly, score: p.score };
    }
    if (model instanceof StreamingKMeans) {
      const assignment = model.predict(x);
      return assignment === undefined
        ? { value: null, score: null }
        : { value: assignment.cluster, score: assignment.distance };
    }
    const prediction = model.predict(x);
    if (prediction === undefined) return { value: null, score: null };
    return { value: prediction.label, score: prediction.probabilities.get(prediction.label) ?? null };
  }

  /** Learns from encoded features `x` and `label` (ignored by unsupervised models). */
  learn(x: Float64Array, label: Label): void {
    const model = this.model;
    if (model instanceof LinearModel) model.learn(x, label as number);
    else if (
      model instanceof EwmaZScore ||
      model instanceof StreamingKMeans ||
      model instanceof HalfSpaceTrees
    )
      model.learn(x);
    else model.learn(x, String(label));
    this.learned++;
  }

  toJSON(): LearnerJson & { learned: number } {
    return { model: this.model.toJSON(), features: structuredClone(this.state), learned: this.learned };
  }
}
