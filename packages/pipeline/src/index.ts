export { LocalObjectStore } from './local-object-store.js';
export type { LocalObjectStoreOptions } from './local-object-store.js';
export { formatS3Uri, parseLocation, parseS3Uri } from './location.js';
export type { Location } from './location.js';
export { openObjectStore, openRunOutput, validateKey, validatePrefix } from './object-store.js';
export type { ObjectInfo, ObjectStore, OpenObjectStoreDeps, PutOptions } from './object-store.js';
export { S3ObjectStore } from './s3-object-store.js';
export type { S3ObjectStoreOptions } from './s3-object-store.js';
export { classifyS3Error, createS3Client } from './s3-client.js';
export type { S3ClientOptions, S3ErrorInfo } from './s3-client.js';
export { StorageError } from './storage-error.js';
export type { StorageErrorCode, StorageOperation } from './storage-error.js';
export {
  IMAGE_EXTENSIONS,
  csvRecords,
  isImageName,
  listSource,
  manifestFormatOf,
  textLines,
} from './sources.js';
export type { ListSourceDeps, ManifestFormat } from './sources.js';
export { SourceError } from './source-error.js';
export type { SourceErrorCode } from './source-error.js';
export { fetchInput } from './fetch-input.js';
export type { FetchedInput, FetchInputOptions } from './fetch-input.js';
export { FetchError, redactUri } from './fetch-error.js';
export type { FetchErrorReason } from './fetch-error.js';
export { encodeParquetShard, readParquetShardRowCount } from './parquet-shard.js';
export type { ParquetShardOptions, ShardColumns } from './parquet-shard.js';
export { encodeNpy } from './npy.js';
export {
  buildManifest,
  MANIFEST_FORMAT,
  parseManifest,
  serializeManifest,
} from './manifest.js';
export type {
  BuildManifestInput,
  JsonValue,
  Manifest,
  ManifestModel,
  ManifestNpy,
  ManifestShard,
  ManifestTap,
  ShardSummary,
} from './manifest.js';
export { finalizeRun } from './finalize-run.js';
export type { FinalizeRunOptions, RunModelBinding } from './finalize-run.js';
export { createRedisConnection, redactRedisUrl } from './redis-connection.js';
export type { RedisConnectionOptions } from './redis-connection.js';
export { chunkJobId, DEFAULT_KEY_PREFIX, DEFAULT_QUEUE_NAME } from './queue-contract.js';
export type { ChunkJobData } from './queue-contract.js';
export { generateRunId, MANIFEST_KEY, shardKeyFor, validateRunId } from './run-spec.js';
export type {
  ChunkRecord,
  RunModelSpec,
  RunOutputSpec,
  RunPreprocessSpec,
  RunSpec,
  RunState,
} from './run-spec.js';
export { RunConflictError, RunStore } from './run-store.js';
export type { RunStatus, RunStoreOptions } from './run-store.js';
export { readShardUris, recoverChunkRecord } from './shard-reader.js';
export { s3ClientOptionsFromEnv } from './env-config.js';
export type { Env } from './env-config.js';
export { ForbiddenAddressError, NetworkPolicy } from './network-policy.js';
export type { NetworkPolicyOptions } from './network-policy.js';
export { outputUri } from './output-uri.js';
