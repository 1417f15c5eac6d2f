/**
 * Checkpoints: the file format (`encodeCheckpoint` / `decodeCheckpoint`) and the stores that keep
 * encoded checkpoints durably.
 */

export {
  CHECKPOINT_FORMAT_VERSION,
  CHECKPOINT_HEADER_BYTES,
  type CheckpointData,
  decodeCheckpoint,
  encodeCheckpoint,
} from './checkpoint-format.ts';
export {
  type CheckpointSlot,
  type CheckpointStore,
  type LatestCheckpoint,
  latestReadable,
  type SlotCheckpoint,
  type StoredRead,
  unreadableOf,
} from './checkpoint-store.ts';
export {
  checkpointFileName,
  DirectoryCheckpointStore,
  type DirectoryCheckpointStoreOptions,
  pipelineCheckpointDir,
} from './directory-checkpoint-store.ts';
export {
  type ComponentPrint,
  fingerprintChanges,
  fingerprintOf,
  missingComponents,
  type PipelineFingerprint,
} from './fingerprint.ts';
