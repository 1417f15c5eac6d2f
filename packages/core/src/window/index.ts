/**
 * Windows: specs, assigners and the window-aggregate operator.
 */

export {
  type AggregateField,
  createWindowAggregate,
  type DerivedField,
  type OutputField,
  type WindowAggregateConfig,
} from './window-aggregate.ts';
export { createWindowAssigner, type WindowAssigner } from './window-assigner.ts';
export { MAX_WINDOWS_PER_RECORD, validateWindowSpec, type WindowSpec } from './window-spec.ts';
