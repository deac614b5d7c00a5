import { invalidOption } from '../errors.js';
import type { RunModelSpec } from './run-spec.js';

/** Format tag of `_manifest.json`; bumped on incompatible changes. */
export const MANIFEST_FORMAT = 'vgg-batch/manifest@1';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * Identity of the model that produced the outputs; vgg-core's ModelIdentity plus the execution providers used.
 * Extra JSON fields (numClasses, inputSize, …) are kept.
 */
export interface ManifestModel {
  variant: string;
  /** `seeded`, `safetensors` or `onnx`. */
  source: string;
  weightsSha256: string;
  untrained: boolean;
  seed: number | null;
  /** Execution providers the workers ran on, e.g. `['cpu']` or `['cuda', 'cpu']`, deduplicated and sorted. */
  providers: string[];
  [extra: string]: JsonValue;
}

/** One embedding tap written to the outputs. */
export interface ManifestTap {
  name: string;
  dim: number;
  dtype: 'float32' | 'float16';
}

/** One Parquet shard: the output of one chunk. */
export interface ManifestShard {
  /** Key relative to the run's output root. */
  key: string;
  /** The chunk; for a compacted file, its number in the compaction (see `chunks`). */
  chunkIndex: number;
  rows: number;
  ok: number;
  error: number;
  /** A compacted file: the first and last chunk whose rows it holds, in order. */
  chunks?: [number, number];
}

/** One `.npy` embedding file, row-aligned with the shard of the same chunk. */
export interface ManifestNpy {
  key: string;
  chunkIndex: number;
  tap: string;
  rows: number;
  dim: number;
  dtype: 'float32' | 'float16';
}

/**
 * What the run asked for, as far as embedding new images the way the run did needs it: its model spec as stored
 * (the `--weights`/`--onnx` URIs redacted like input URIs) and whether embeddings were L2-normalised.
 */
export interface ManifestSpec {
  model: RunModelSpec;
  l2Normalize: boolean;
}

/** Contents of `_manifest.json`. */
export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  /**
   * Counts the manifests written for the run: 1 when it first finalises, one more for each compaction and each
   * finalisation after a retry. Absent in manifests of earlier versions (read as 1).
   */
  version?: number;
  runId: string;
  /** ISO 8601 time the run was created. */
  createdAt: string;
  /** ISO 8601 time the manifest was written. */
  finalizedAt: string;
  model: ManifestModel;
  /** The run's model options and `--l2`; absent in manifests written before they were recorded. */
  spec?: ManifestSpec;
  /** Resolved preprocessing options, as JSON. */
  preprocessing: { [key: string]: JsonValue };
  taps: ManifestTap[];
  /** Number of classes in each row's top-k lists. */
  topK: number;
  /** Sorted by chunk index. */
  shards: ManifestShard[];
  /**
   * `inputs`: what the sources listed (images and tar shards); `rows`: one per image, tar member image or error;
   * `duplicates`: rows whose bytes (sha256) a worker had already inferred in this run, reusing that result;
   * `skippedMembers`: tar members that are not images (not rows).
   */
  totals: {
    inputs: number;
    rows: number;
    ok: number;
    error: number;
    duplicates: number;
    skippedMembers: number;
  };
  /** Error rows by reason code, keys sorted. */
  errorsByReason: Record<string, number>;
  npy?: ManifestNpy[];
  /** Set by `vgg-producer compact`: the version compacted, the size aimed at, and when. */
  compaction?: { from: number; targetBytes: number; compactedAt: string };
}

/** A shard as a worker reports it, with its error counts by reason. */
export interface ShardSummary extends ManifestShard {
  errorsByReason: Record<string, number>;
  /** Rows that reused an earlier row's result (same sha256). Default 0. */
  duplicates?: number;
  /** Tar members that are not images. Default 0. */
  skippedMembers?: number;
}

/** Input of {@link buildManifest}. */
export interface BuildManifestInput {
  runId: string;
  createdAt: string | Date;
  /** Default: now. */
  finalizedAt?: string | Date;
  model: ManifestModel;
  /** The run's model options (URIs already redacted) and `--l2`. Default: not recorded. */
  spec?: ManifestSpec;
  preprocessing: { [key: string]: JsonValue };
  taps: readonly ManifestTap[];
  topK: number;
  /** Number of input URIs the run listed. */
  inputs: number;
  /** The manifest's version. Default 1. */
  version?: number;
  /** In any order; each chunk index at most once. */
  shards: readonly ShardSummary[];
  npy?: readonly ManifestNpy[];
}

/**
 * Builds the manifest: shards and npy files sorted by chunk index, totals and error counts summed from the
 * shards. Rejects duplicate chunk indices and shards whose ok + error differs from rows.
 */
export function buildManifest(input: BuildManifestInput): Manifest {
  if (typeof input.runId !== 'string' || input.runId === '') {
    throw invalidOption('runId', 'non-empty string', input.runId);
  }
  if (!Number.isSafeInteger(input.inputs) || input.inputs < 0) {
    throw invalidOption('inputs', 'non-negative integer', input.inputs);
  }
  if (!Number.isInteger(input.topK) || input.topK < 0)
    throw invalidOption('topK', 'non-negative integer', input.topK);
  const seen = new Set<number>();
  const totals = { inputs: input.inputs, rows: 0, ok: 0, error: 0, duplicates: 0, skippedMembers: 0 };
  const reasons = new Map<string, number>();
  for (const shard of input.shards) {
    if (!Number.isSafeInteger(shard.chunkIndex) || shard.chunkIndex < 0 || seen.has(shard.chunkIndex)) {
      throw invalidOption('shards[].chunkIndex', 'unique non-negative integer', shard.chunkIndex);
    }
    seen.add(shard.chunkIndex);
    if (shard.ok + shard.error !== shard.rows) {
      throw invalidOption(
        `shards[chunk ${shard.chunkIndex}].rows`,
        `ok + error = ${shard.ok + shard.error}`,
        shard.rows,
      );
    }
    totals.rows += shard.rows;
    totals.ok += shard.ok;
    totals.error += shard.error;
    totals.duplicates += shard.duplicates ?? 0;
    totals.skippedMembers += shard.skippedMembers ?? 0;
    for (const [reason, count] of Object.entries(shard.errorsByReason)) {
      reasons.set(reason, (reasons.get(reason) ?? 0) + count);
    }
  }
  const errorsByReason: Record<string, number> = {};
  for (const reason of [...reasons.keys()].sort()) errorsByReason[reason] = reasons.get(reason) as number;
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    version: input.version ?? 1,
    runId: input.runId,
    createdAt: toIso(input.createdAt, 'createdAt'),
    finalizedAt: toIso(input.finalizedAt ?? new Date(), 'finalizedAt'),
    model: { ...input.model, providers: [...new Set(input.model.providers)].sort() },
    ...(input.spec !== undefined ? { spec: input.spec } : {}),
    preprocessing: input.preprocessing,
    taps: input.taps.map((tap) => ({ name: tap.name, dim: tap.dim, dtype: tap.dtype })),
    topK: input.topK,
    shards: [...input.shards]
      .sort((a, b) => a.chunkIndex - b.chunkIndex)
      .map(({ key, chunkIndex, rows, ok, error }) => ({ key, chunkIndex, rows, ok, error })),
    totals,
    errorsByReason,
  };
  if (input.npy !== undefined) {
    manifest.npy = [...input.npy].sort((a, b) => a.chunkIndex - b.chunkIndex || (a.tap < b.tap ? -1 : 1));
  }
  return manifest;
}

/** Pretty-printed UTF-8 JSON with a trailing newline. */
export function serializeManifest(manifest: Manifest): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`);
}

/** Parses `_manifest.json`, checking its format tag. */
export function parseManifest(bytes: Uint8Array | string): Manifest {
  const text = typeof bytes === 'string' ? bytes : new TextDecoder().decode(bytes);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalidOption('manifest', 'JSON document', `${text.slice(0, 40)}…`);
  }
  const format = (value as { format?: unknown } | null)?.format;
  if (format !== MANIFEST_FORMAT)
    throw invalidOption('manifest format', JSON.stringify(MANIFEST_FORMAT), format);
  return value as Manifest;
}

function toIso(value: string | Date, name: string): string {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) throw invalidOption(name, 'date or ISO 8601 string', String(value));
  return date.toISOString();
}
