import type { S3Client } from '@aws-sdk/client-s3';
import type { Queue } from 'bullmq';
import { invalidOption } from '../errors.js';
import { listSource } from '../inputs/sources.js';
import { type ChunkJob, type ChunkJobData, chunkJob } from '../queue/chunk-jobs.js';
import { recoverChunkRecord } from './chunk-record.js';
import { finalizeRun } from './finalize-run.js';
import { openRunOutput, shardKeyFor } from './output-layout.js';
import { planRun } from './plan-run.js';
import type { RunOptionsInput } from './run-options.js';
import type { RunSpec } from './run-spec.js';
import type { RunStore } from './run-store.js';

/** A run to submit: where its images are, and its options (see RUN_OPTIONS). */
export type SubmitOptions = RunOptionsInput & {
  /** Local directories or files, s3:// prefixes, manifests (.txt/.csv/.jsonl, local or s3://), http(s) URLs, or `-`. */
  sources: readonly string[];
};

export interface SubmitDeps {
  queue: Queue<ChunkJobData>;
  runStore: RunStore;
  s3: S3Client | (() => S3Client);
  stdin?: NodeJS.ReadableStream;
  /** Called as chunks are enqueued. */
  onProgress?: (progress: { inputs: number; chunks: number; enqueued: number; skipped: number }) => void;
}

export interface SubmitResult {
  runId: string;
  created: boolean;
  spec: RunSpec;
  totalInputs: number;
  totalChunks: number;
  /** Chunks added to the queue by this call. */
  enqueued: number;
  /** Chunks already committed (or with an existing shard) and skipped. */
  skipped: number;
  /** The run was already complete and has been finalised by this call. */
  finalized: boolean;
}

const ADD_BATCH = 200;

/**
 * Enqueues a run as deterministic chunk jobs; resubmitting the same run resumes it. The options are checked
 * against vgg-core first (see planRun), so a run that cannot work is refused before anything is enqueued.
 */
export async function submitRun(options: SubmitOptions, deps: SubmitDeps): Promise<SubmitResult> {
  const { sources, ...runOptions } = options;
  if (sources.length === 0) throw invalidOption('sources', 'at least one source', '[]');
  const { spec, attempts } = planRun(runOptions);
  const { runId, chunkSize } = spec;
  const { created, spec: stored } = await deps.runStore.createOrResume(spec);
  const store = openRunOutput(spec.output.out, runId, { s3: deps.s3 });

  const committed = created ? new Set<number>() : await deps.runStore.committedChunkIndexes(runId);
  const existingShards = new Set<string>();
  if (!created) for await (const entry of store.list('shards/')) existingShards.add(entry.key);

  let inputs = 0;
  let chunkIndex = 0;
  let enqueued = 0;
  let skipped = 0;
  let chunk: string[] = [];
  let pending: ChunkJob[] = [];

  const flushJobs = async () => {
    if (pending.length === 0) return;
    await deps.queue.addBulk(pending);
    enqueued += pending.length;
    pending = [];
  };
  const emitChunk = async () => {
    const index = chunkIndex++;
    const uris = chunk;
    chunk = [];
    if (committed.has(index)) {
      skipped += 1;
    } else if (existingShards.has(shardKeyFor(index))) {
      // The shard exists but Redis has no record of it (for example Redis lost its data): adopt the shard.
      const record = await recoverChunkRecord(store, index);
      if (record && record.rows === uris.length) {
        await deps.runStore.recordChunk(runId, record);
        skipped += 1;
      } else {
        pending.push(chunkJob({ runId, chunkIndex: index, uris }, attempts));
      }
    } else {
      pending.push(chunkJob({ runId, chunkIndex: index, uris }, attempts));
    }
    if (pending.length >= ADD_BATCH) await flushJobs();
    deps.onProgress?.({ inputs, chunks: chunkIndex, enqueued: enqueued + pending.length, skipped });
  };

  for (const source of sources) {
    const uris = listSource(source, { s3: deps.s3, ...(deps.stdin ? { stdin: deps.stdin } : {}) });
    for await (const uri of uris) {
      chunk.push(uri);
      inputs += 1;
      if (chunk.length >= chunkSize) await emitChunk();
    }
  }
  if (chunk.length > 0) await emitChunk();
  await flushJobs();
  await deps.runStore.markEnqueued(runId, chunkIndex, inputs);
  deps.onProgress?.({ inputs, chunks: chunkIndex, enqueued, skipped });

  // Every chunk may already be committed (a resumed, finished run): finalise here, since no worker will.
  const manifest = await finalizeRun({ runStore: deps.runStore, store, runId, owner: 'producer' });
  return {
    runId,
    created,
    spec: stored,
    totalInputs: inputs,
    totalChunks: chunkIndex,
    enqueued,
    skipped,
    finalized: manifest !== null,
  };
}
