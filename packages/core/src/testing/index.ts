/**
 * Helpers for testing pipelines and connectors: in-memory source and sink, a manual clock, and
 * the conformance suites every sink and source runs against its real system.
 */

export { ManualClock } from '../time.ts';
export {
  type CheckpointStoreConformance,
  checkpointStoreConformance,
  type SlotStore,
} from './checkpoint-store-conformance.ts';
export { foldChangelog, foldChangelogRows, foldChanges, rowText } from './conformance-support.ts';
export {
  MemoryChannel,
  MemorySinkStore,
  memoryChannel,
  memorySink,
  memorySinkStore,
  memorySource,
  testing,
} from './memory.ts';
export { seededRandom } from './random.ts';
export { OutageProxy, portOpen, reportMissingService, serviceAvailable } from './services.ts';
export { type SinkConformance, type SinkTarget, sinkConformance } from './sink-conformance.ts';
export { type SourceConformance, type SourceInput, sourceConformance } from './source-conformance.ts';
