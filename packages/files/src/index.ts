/**
 * @sluice/files: the file layout the file-writing sinks share (S3, HDFS) — JSON lines and
 * Parquet, Hive-style partition folders, rolling by size and age, file names that carry the
 * writing sink's mark. Not a connector: it registers no component.
 */

export { FileBuffer, type FileFormat, fileName, lineOf, runName, sinkMark } from './file-buffer.ts';
export { compileLayout, type Layout, type LayoutConfig, layoutFields } from './layout-config.ts';
export { ParquetColumnsBuilder } from './parquet-builder.ts';
export { inferType } from './parquet-columns.ts';
export { decodeParquet } from './parquet-decode.ts';
export { encodeParquet, type ParquetCompression, writeColumns } from './parquet-encode.ts';
export {
  compilePartitionPath,
  escapeValue,
  NULL_PARTITION,
  type PartitionPath,
  timeTemplateProblem,
} from './partition.ts';
export { type FileStore, PartitionedFiles, type PartitionedFilesOptions } from './partitioned-files.ts';
