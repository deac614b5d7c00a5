import { UnrecoverableError } from 'bullmq';
import {
  imagenetLabels,
  LPIPS_LAYERS,
  type ModelIdentity,
  pairColumns,
  type ResolvedPreprocessOptions,
} from 'vgg-core';
import {
  type ChunkFence,
  type ChunkRecord,
  type CommitRefusal,
  keptColumnsOf,
  npyKeysFor,
  redactedModelSpec,
  type RunSpec,
  shardKeyFor,
  tallyRows,
} from 'vgg-pipeline';
import type { ChunkFacts } from './chunk-inputs.js';
import { type ColumnLayout, type RowResult, rowsToColumns } from './chunk-rows.js';
import { ChunkFencedError } from './errors.js';
import type { RunContext } from './run-contexts.js';
import type { ShardEncoder } from './shard-encoder.js';
import { addStageMs, type WorkerStats } from './stats.js';

/** What committing a chunk needs to know of the model that ran it. */
export interface CommitModel {
  identity: ModelIdentity;
  /** Taps the model's graph provides, by name. */
  taps: Readonly<Record<string, { dim: number }>>;
  preprocess: ResolvedPreprocessOptions;
  /** 'cpu' or 'cuda:N'. */
  provider: string;
}

/**
 * The columns of a run's shards: top-k over the model's classes, one embedding column per requested tap, and the
 * model's identity in the file metadata. Without a model (every attempt failed before one loaded) there are no
 * embedding columns and the metadata records what was requested.
 */
export function columnLayout(spec: RunSpec, model: CommitModel | null): ColumnLayout {
  const layout = imageColumnLayout(spec, model);
  const pairs = spec.output.pairs;
  if (pairs === undefined) return layout;
  // A pair run's score columns are fixed by LPIPS's layers, so shards written without a model match the others.
  return {
    ...layout,
    scores: pairColumns({ layers: LPIPS_LAYERS }),
    metadata: { ...layout.metadata, 'vgg.pairs': JSON.stringify(pairs) },
  };
}

function imageColumnLayout(spec: RunSpec, model: CommitModel | null): ColumnLayout {
  const keepCols = keptColumnsOf(spec);
  const redactParams = spec.output.redactParams ?? [];
  if (model === null) {
    return {
      keepCols,
      redactParams,
      topK: spec.output.topK,
      labels: imagenetLabels(),
      taps: [],
      metadata: {
        'vgg.run_id': spec.runId,
        'vgg.model': JSON.stringify({ requested: redactedModelSpec(spec.model, spec.output.redactParams) }),
      },
    };
  }
  const { identity } = model;
  const labels =
    identity.numClasses === 1000
      ? imagenetLabels()
      : Array.from({ length: identity.numClasses }, (_, i) => `class_${i}`);
  return {
    keepCols,
    redactParams,
    topK: Math.min(spec.output.topK, identity.numClasses),
    labels,
    taps: spec.output.taps.map((tap) => {
      const info = model.taps[tap];
      // Submit checks taps against the architecture, so this only happens for a spec made before that check.
      if (!info) throw new UnrecoverableError(`Tap ${tap} is not available for ${identity.variant}`);
      return { tap, dim: info.dim, dtype: spec.output.dtype };
    }),
    metadata: {
      'vgg.run_id': spec.runId,
      'vgg.model': JSON.stringify({ ...identity, provider: model.provider }),
      'vgg.preprocess': JSON.stringify(model.preprocess),
      'vgg.untrained': String(identity.untrained),
    },
  };
}

/** Options of {@link ChunkCommitter}. */
export interface ChunkCommitterOptions {
  encoder: Pick<ShardEncoder, 'parquet' | 'npy'>;
  /** Whether `fence` may write the chunk now, before its outputs are written (RunStore.mayWriteChunk). */
  mayWrite: (
    runId: string,
    chunkIndex: number,
    fence: ChunkFence,
    failed: boolean,
  ) => Promise<CommitRefusal | null>;
  /** Records a committed chunk if `fence` still may, atomically (RunStore.commitChunk). */
  recordChunk: (runId: string, record: ChunkRecord, fence: ChunkFence) => Promise<CommitRefusal | null>;
  /** Writes the manifest if every chunk is committed; returns its URI, or null (finalizeRun). */
  finalize: (context: RunContext) => Promise<string | null>;
  workerId: string;
  stats: WorkerStats;
}

/** One chunk to commit: its rows, the model that ran them, and the fence that entitles this attempt to write. */
export interface ChunkCommit {
  chunkIndex: number;
  rows: readonly RowResult[];
  /** The model that ran the rows; null when the chunk failed before a model loaded. */
  model: CommitModel | null;
  /** The rows are all failures of the chunk as a whole. */
  failed: boolean;
  facts?: ChunkFacts;
  /** The chunk job's lock (or, for a job BullMQ failed, its place in the failed set). */
  fence: ChunkFence;
}

/**
 * Commits a chunk: its Parquet shard (and with `--npy` its clip-retrieval files), then its record. Keys are pure
 * functions of the chunk, so a chunk committed twice overwrites its own outputs, and the record is written only
 * after every output is durable. Both steps are fenced (see RunStore.mayWriteChunk): an attempt that lost its job's
 * lock, a chunk of a finalised run, and failure rows over a committed chunk are refused with ChunkFencedError.
 */
export class ChunkCommitter {
  readonly #options: ChunkCommitterOptions;

  constructor(options: ChunkCommitterOptions) {
    this.#options = options;
  }

  /** Writes and records the chunk's rows; throws ChunkFencedError, having written nothing, when refused. */
  async commit(context: RunContext, chunk: ChunkCommit): Promise<ChunkRecord> {
    const { chunkIndex, rows, model, failed, fence, facts = {} } = chunk;
    const { runId } = context.spec;
    const refused = await this.#options.mayWrite(runId, chunkIndex, fence, failed);
    if (refused !== null) throw new ChunkFencedError(runId, chunkIndex, refused);
    const started = performance.now();
    // The first layout a run gets stays its layout, so all its shards have the same columns.
    const layout = context.layout ?? columnLayout(context.spec, model);
    if (model !== null) context.layout = layout;
    const shardKey = shardKeyFor(chunkIndex);
    const columns = rowsToColumns(rows, layout);
    if (facts.metadata !== undefined) columns.metadata = { ...columns.metadata, ...facts.metadata };
    await context.store.put(shardKey, await this.#options.encoder.parquet(columns), {
      contentType: 'application/vnd.apache.parquet',
    });
    const npyKeys = context.spec.output.npy ? await this.#writeNpy(context, chunkIndex, rows, layout) : [];
    // A pair run's rows have distances, not labels.
    const distanceAt = layout.scores?.indexOf('perceptual_distance') ?? -1;
    const tally = tallyRows(
      rows.map((row) => {
        const counted = { status: row.status, error: row.error };
        if (row.status !== 'ok') return counted;
        if (distanceAt < 0) return { ...counted, top1: layout.labels[row.classIds?.[0] ?? -1] ?? 'unknown' };
        const distance = row.scores?.[distanceAt];
        return distance === undefined ? counted : { ...counted, distance };
      }),
    );
    addStageMs(this.#options.stats, 'write', performance.now() - started);
    const duplicates = rows.filter((row) => row.duplicate === true).length;
    const record: ChunkRecord = {
      chunkIndex,
      shardKey,
      ...tally,
      provider: model?.provider ?? 'none',
      workerId: this.#options.workerId,
      ...(failed ? { failed: true } : {}),
      ...(facts.inputSha256 !== undefined ? { inputSha256: facts.inputSha256 } : {}),
      ...(facts.skippedMembers ? { skippedMembers: facts.skippedMembers } : {}),
      ...(duplicates > 0 ? { duplicates } : {}),
      ...(npyKeys.length ? { npyKeys } : {}),
      committedAt: new Date().toISOString(),
    };
    // Checked again with the record, atomically: the lock may have lapsed while the outputs were written.
    const late = await this.#options.recordChunk(runId, record, fence);
    if (late !== null) throw new ChunkFencedError(runId, chunkIndex, late);
    return record;
  }

  /** Finalises the run when this was its last chunk; returns the manifest's URI, or null. */
  finalize(context: RunContext): Promise<string | null> {
    return this.#options.finalize(context);
  }

  /** Per tap, the ok rows' embeddings as `.npy` and their metadata as Parquet, row-aligned. */
  async #writeNpy(
    context: RunContext,
    chunkIndex: number,
    rows: readonly RowResult[],
    layout: ColumnLayout,
  ): Promise<string[]> {
    const okRows = rows.filter((row) => row.status === 'ok');
    const keys: string[] = [];
    const metadata = await this.#options.encoder.parquet(rowsToColumns(okRows, { ...layout, taps: [] }));
    for (const { tap, dim, dtype } of layout.taps) {
      const data =
        dtype === 'float16' ? new Uint16Array(okRows.length * dim) : new Float32Array(okRows.length * dim);
      okRows.forEach((row, i) => {
        data.set(row.embeddings?.[tap] as Float32Array & Uint16Array, i * dim);
      });
      const key = npyKeysFor(tap, chunkIndex);
      await context.store.put(
        key.embeddings,
        await this.#options.encoder.npy(data, [okRows.length, dim], dtype),
      );
      await context.store.put(key.metadata, metadata);
      keys.push(key.embeddings, key.metadata);
    }
    return keys;
  }
}
