// Public API of vgg-pipeline, by part. Nothing outside this package imports its files directly.

// --- errors and URIs: the package's shared vocabulary ---
export {
  FetchError,
  ForbiddenAddressError,
  invalidOption,
  isPipelineError,
  isRunUsageError,
  OptionError,
  PipelineError,
  RunError,
  runNotFound,
  SourceError,
  StorageError,
} from './errors.js';
export type {
  FetchErrorReason,
  PipelineErrorCode,
  PipelineErrors,
  RunErrorCode,
  SourceErrorCode,
  StorageErrorCode,
  StorageOperation,
} from './errors.js';
export {
  formatS3Uri,
  isHttpUri,
  isRemoteUri,
  isSecretParam,
  parseS3Uri,
  redactUri,
  schemeOf,
} from './uri.js';

// --- storage: object stores for outputs ---
export { LocalObjectStore } from './storage/local-object-store.js';
export type { LocalObjectStoreOptions } from './storage/local-object-store.js';
export { parseLocation } from './storage/location.js';
export type { Location } from './storage/location.js';
export { validateKey, validatePrefix } from './storage/object-store.js';
export type { ObjectInfo, ObjectStore, PutOptions } from './storage/object-store.js';
export { openObjectStore } from './storage/open-object-store.js';
export type { OpenObjectStoreDeps } from './storage/open-object-store.js';
export { S3ObjectStore } from './storage/s3-object-store.js';
export type { S3ObjectStoreOptions } from './storage/s3-object-store.js';
export { classifyS3Error, createS3Client, s3ClientOptionsFromEnv } from './storage/s3-client.js';
export type { S3ClientOptions, S3ErrorInfo } from './storage/s3-client.js';

// --- formats: Parquet shards and .npy files ---
export { encodeNpy } from './formats/npy.js';
export { embeddingColumn, encodeParquetShard, readParquetShardRowCount } from './formats/parquet-shard.js';
export type { ParquetShardOptions, ShardColumns } from './formats/parquet-shard.js';
export {
  readShardReportColumns,
  readShardSummary,
  readShardTextColumns,
  readShardUris,
} from './formats/shard-reader.js';
export type { ShardSummaryColumns } from './formats/shard-reader.js';

// --- inputs: listing sources, fetching bytes, what a worker may reach ---
export { fetchInput } from './inputs/fetch-input.js';
export type { FetchedInput, FetchInputOptions } from './inputs/fetch-input.js';
export { localPathOf } from './inputs/fetch-local.js';
export { InputGuard } from './inputs/input-guard.js';
export type { InputGuardOptions } from './inputs/input-guard.js';
export { NETWORK_FLAGS } from './inputs/network-flags.js';
export { NetworkPolicy, parseCidr } from './inputs/network-policy.js';
export type { CidrRange, NetworkPolicyOptions } from './inputs/network-policy.js';
export { expandBraces, hasBraces } from './inputs/brace-range.js';
export { compressionOf, decompressed } from './inputs/decompress.js';
export type { Compression } from './inputs/decompress.js';
export { cellText, entryOf } from './inputs/source-entry.js';
export type { ListInputOptions, SourceEntry } from './inputs/source-entry.js';
export {
  IMAGE_EXTENSIONS,
  INPUT_FORMATS,
  inputFormatOf,
  isImageName,
  isTarName,
  manifestFormatOf,
} from './inputs/source-kinds.js';
export type { InputFormat, ManifestFormat } from './inputs/source-kinds.js';
export { listSource } from './inputs/sources.js';
export type { ListSourceDeps } from './inputs/sources.js';
export { textLines } from './inputs/text-records.js';
export { HostLimiter } from './inputs/host-limiter.js';
export type { HostLimiterOptions } from './inputs/host-limiter.js';
export { streamInput } from './inputs/input-stream.js';
export type { StreamInputOptions } from './inputs/input-stream.js';
export { TarReadError, tarMembers, webdatasetKey } from './inputs/tar-members.js';
export type { TarMember } from './inputs/tar-members.js';

// --- queue: Redis connections and chunk jobs ---
export { chunkJob, chunkJobId, DEFAULT_KEY_PREFIX, DEFAULT_QUEUE_NAME } from './queue/chunk-jobs.js';
export type { ChunkJob, ChunkJobData } from './queue/chunk-jobs.js';
export { QUEUE_FLAGS } from './queue/queue-flags.js';
export { createRedisConnection } from './queue/redis-connection.js';
export type { RedisConnectionOptions } from './queue/redis-connection.js';

// --- run: the run contract ---
export { RUN_OPTIONS, runOptionFlag } from './run/run-options.js';
export type { RunOptions, RunOptionsInput, RunOptionSection, RunOptionTarget } from './run/run-options.js';
export { planRun } from './run/plan-run.js';
export type { RunPlan } from './run/plan-run.js';
export { generateRunId, validateRunId } from './run/run-spec.js';
export type {
  RunInputSpec,
  RunModelSpec,
  RunOutputSpec,
  RunPairsSpec,
  RunPreprocessSpec,
  RunSpec,
  RunState,
} from './run/run-spec.js';
export { modelOptionsForRun, redactedModelSpec, requestedModelIdentity } from './run/model-binding.js';
export type { RunModelBinding } from './run/model-binding.js';
export { MANIFEST_KEY, npyKeysFor, openRunOutput, shardKeyFor } from './run/output-layout.js';
export { mergeDistances, recoverChunkRecord, tallyRows } from './run/chunk-record.js';
export {
  ChunkBatch,
  chunkInputSha256,
  INPUTS_METADATA_KEY,
  shardMatchesChunk,
  TAR_METADATA_KEY,
  tarMetadataOf,
} from './run/chunk-input.js';
export type { ShardInput } from './run/chunk-input.js';
export { checkKeptColumns, keptColumnsOf, ROW_COLUMNS } from './run/output-columns.js';
export type { ChunkRecord, DistanceTally, RowTally } from './run/chunk-record.js';
export { RunStore } from './run/run-store.js';
export type { RunStoreOptions } from './run/run-store.js';
export type {
  BoundModel,
  ChunkFence,
  CommitRefusal,
  ModelErrorNote,
  RunStatus,
  StuckChunk,
} from './run/run-store-types.js';
export { connectRuns } from './run/run-connection.js';
export type { RunConnection, RunConnectionOptions } from './run/run-connection.js';
export { submitRun } from './run/submit.js';
export type { SubmitDeps, SubmitOptions, SubmitResult } from './run/submit.js';
export { cancelRun, RETRYABLE_REASONS, retryFailed } from './run/control.js';
export type { RunControlDeps } from './run/control.js';
export { progressOf } from './run/progress.js';
export type { RunProgress } from './run/progress.js';
export {
  formatDistances,
  formatDuration,
  formatProgressBar,
  formatStatus,
  rowNoun,
} from './run/status-format.js';
export { finalizeRun } from './run/finalize-run.js';
export { compactRun, DEFAULT_COMPACT_TARGET_BYTES } from './run/compact-run.js';
export type { CompactResult, CompactRunOptions } from './run/compact-run.js';
export type { FinalizeRunOptions } from './run/finalize-run.js';
export { buildManifest, MANIFEST_FORMAT, parseManifest, serializeManifest } from './run/manifest.js';
export type {
  BuildManifestInput,
  JsonValue,
  Manifest,
  ManifestModel,
  ManifestNpy,
  ManifestShard,
  ManifestSpec,
  ManifestTap,
  ShardSummary,
} from './run/manifest.js';
export { renderRunReport } from './report/report-html.js';
export { collectRunReport } from './report/run-report.js';
export type { RunReport, RunReportOptions, Thumbnail } from './report/run-report.js';
