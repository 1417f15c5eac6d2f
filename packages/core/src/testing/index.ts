/**
 * Helpers for testing pipelines: in-memory source and sink, and a manual clock.
 */

export { ManualClock } from '../time.ts';
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
