/**
 * @sluice/core: the Sluice engine.
 *
 * Build a pipeline with the fluent API or load a YAML file, then run it:
 *
 * ```ts
 * const registry = new Registry([builtins]);
 * const { plan, functions } = await loadPipeline('pipeline.yaml', registry);
 * const job = await Job.create(plan, { registry, functions });
 * await job.run();
 * ```
 */

/** TypeBox, for record schemas that type the records of `.validate()`. */
export { type Static, Type } from 'typebox';
export type { AggregateFunction } from './aggregate/index.ts';
export { aggregateDocs, aggregateFunction } from './aggregate/index.ts';
export type { UserAggregate } from './aggregate/user-aggregates.ts';
export * from './api/aggregates.ts';
export {
  discard,
  file,
  fileSink,
  fileTable,
  generate,
  httpServer,
  httpSink,
  httpTable,
  nexmark,
  stdin,
  stdout,
} from './api/builtin-components.ts';
export {
  type ComponentOptions,
  type EventTimeOptions,
  type LookupDefinition,
  lookupOf,
  type SinkDefinition,
  type SourceDefinition,
  sinkOf,
  sourceOf,
} from './api/components.ts';
export {
  begin,
  Pattern,
  type PatternContiguity,
  type PatternOptions,
  type PatternStage,
} from './api/pattern.ts';
export {
  cumulative,
  hopping,
  KeyedStream,
  type LookupOptions,
  PipelineBuilder,
  type PipelineOptions,
  pipeline,
  Stream,
  session,
  tumbling,
  type WindowDefinition,
  WindowedStream,
  type WindowResult,
} from './api/pipeline.ts';
export { builtins } from './builtins.ts';
export {
  type CheckpointData,
  type CheckpointSlot,
  type CheckpointStore,
  DirectoryCheckpointStore,
  decodeCheckpoint,
  encodeCheckpoint,
  type LatestCheckpoint,
  latestReadable,
  type SlotCheckpoint,
  type StoredRead,
  unreadableOf,
} from './checkpoint/index.ts';
export type {
  DecodeFailure,
  LateRejection,
  Logger,
  Sink,
  SinkBatch,
  SinkContext,
  SinkRejection,
  Source,
  SourceBatch,
  SourceContext,
  SourceLag,
  SourceReader,
  TaskIdentity,
} from './connector.ts';
export { silentLogger } from './connector.ts';
export {
  backoffDelay,
  type RetryConfig,
  type RetryPolicy,
  retry,
  retryConfig,
  retryPolicy,
  sleep,
} from './connectors/backoff.ts';
export {
  createDecoder,
  type DecodeOutput,
  type RecordDecoder,
  sourceBatchOf,
} from './connectors/format-decode.ts';
export { type DecodeOptions, decodeFields, inputLimitFields } from './connectors/format-options.ts';
export {
  DEFAULT_INPUT_LIMITS,
  DEFAULT_MAX_DEPTH,
  decodedUtf8Problem,
  type InputLimits,
  type InvalidUtf8,
  invalidUtf8At,
  jsonValueProblem,
  MAX_MAX_DEPTH,
  utf8Problem,
} from './connectors/input-guards.ts';
export { type DecodedBody, decodeMessageBody, type MessageBodyOptions } from './connectors/message-body.ts';
export { type NexmarkConfig, nexmarkConfig, nexmarkSettings } from './connectors/nexmark-config.ts';
export { NexmarkGenerator, type NexmarkSettings } from './connectors/nexmark-generator.ts';
export type { NexmarkAuction, NexmarkBid, NexmarkEvent, NexmarkPerson } from './connectors/nexmark-model.ts';
export { type NexmarkPosition, nexmarkSource } from './connectors/nexmark-source.ts';
export { ReadWait } from './connectors/read-wait.ts';
export { describeComponent } from './describe.ts';
export { describeExpressions } from './describe-expressions.ts';
export { describePipelineFile } from './describe-pipeline.ts';
export {
  ConfigErrors,
  type ErrorCode,
  type ErrorKind,
  type ErrorLocation,
  errorCodes,
  SluiceError,
  toSluiceError,
} from './errors.ts';
export type { CallExpr, Expr, Token, TokenizeOptions, UserFunction } from './expr/index.ts';
export {
  childrenOf,
  compileExpression,
  compilePredicate,
  defineAggregateFunction,
  defineFunction,
  describeToken,
  formatExpression,
  formatName,
  functionDocs,
  isAggregateCall,
  isUserAggregate,
  isUserFunction,
  isVolatileFunction,
  mapChildren,
  parseExpression,
  parseExpressionFrom,
  TokenStream,
  tokenize,
} from './expr/index.ts';
export { createLogger, type LoggerOptions, type LogLevel } from './log.ts';
export type { Lookup, LookupAnswer, LookupContext, LookupInfo, LookupKey } from './lookup.ts';
export { getOrBisectByKey } from './lookup.ts';
export type { LatePolicy, Operator, OperatorContext, Output, StepInfo } from './operator.ts';
export {
  type AsyncOutcome,
  AsyncStage,
  type AsyncStageOptions,
  type AsyncWork,
} from './operators/async-stage.ts';
export { joinInputs, joinKeyExpressions } from './operators/join-condition.ts';
export { decodeKey, encodeKey } from './operators/key.ts';
export type { ProcessContext, ProcessFunction } from './operators/process.ts';
export {
  defineTableFunction,
  type TableFunctionRow,
  tableFunction,
  type UserTableFunction,
} from './operators/table-function.ts';
export { createRecordValidator, describeSchemaErrors } from './operators/validate.ts';
export { checkChangelogs } from './plan/changelog-check.ts';
export { redact, secretPaths, validateConfig } from './plan/config.ts';
export { didYouMean } from './plan/config-suggest.ts';
export { pipelineJsonSchema } from './plan/json-schema.ts';
export { describePartition, type PartitionKey, partitionByExpressions, type StreamKey } from './plan/keys.ts';
export { componentPath, locate } from './plan/locate.ts';
export type {
  EventTimeConfig,
  PipelineSettings,
  Plan,
  PlanExpressions,
  PlanSink,
  PlanSource,
  PlanStep,
} from './plan/plan.ts';
export { defaultSettings, inputName } from './plan/plan.ts';
export { resolvePlan } from './plan/resolve.ts';
export type { Batch, DeadLetter, Offset, Row, RowKind } from './record.ts';
export { DELETE, INSERT, kindAt, ROW_KIND_NAMES, UPDATE_AFTER, UPDATE_BEFORE } from './record.ts';
export { Registry } from './registry.ts';
export type { CheckpointSummary, StateSize, StateSizes } from './runtime/checkpoint-coordinator.ts';
export type { NumberedDeadLetter, ReplayResult } from './runtime/dead-letter-replay.ts';
export {
  type CheckpointStoreContext,
  Job,
  type JobOptions,
  type JobResult,
  type JobStatus,
  localCheckpointStore,
} from './runtime/job.ts';
export {
  type LoadedPipeline,
  loadPipeline,
  pipelineFileExtensions,
  pipelineFileKind,
  pipelineFileKinds,
} from './runtime/load.ts';
export type { JobMetrics, SinkCounters, SourceMetrics, StepCounters } from './runtime/metrics.ts';
export {
  defaultRestartStrategy,
  isRestartable,
  noRestart,
  RestartBackoff,
  type RestartOptions,
  type RestartStrategy,
  restartDelay,
  runWithRestarts,
} from './runtime/restart-strategy.ts';
export type { SinkTimingListener } from './runtime/sink-runner.ts';
export { safeJsonText } from './safe-json.ts';
export {
  CHANGELOG_MODES,
  type ChangelogMode,
  type ComponentSpec,
  DELIVERY_MEANINGS,
  type Delivery,
  type DeliveryGuarantee,
  defineLookup,
  defineSink,
  defineSource,
  defineStep,
  deliveryOf,
  type ExpandContext,
  type ExpressionOption,
  type ExpressionOptions,
  type LookupSpec,
  PER_RECORD_CHANGELOG,
  type Plugin,
  type SinkChangelog,
  type SinkInfo,
  type SinkSpec,
  type SourceMetadata,
  type SourceSpec,
  type StepChangelog,
  type StepSpec,
} from './spec.ts';
export { type KeyedMap, type KeyedView, MemoryStateBackend, type StateBackend } from './state.ts';
export {
  type Clock,
  formatDuration,
  ManualClock,
  parseDuration,
  systemClock,
  toEpochMillis,
} from './time.ts';
export { redactUrlCredentials } from './url-credentials.ts';
export { loadPipelineFile, parsePipelineYaml } from './yaml/index.ts';
