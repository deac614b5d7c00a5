import type { S3Client } from '@aws-sdk/client-s3';
import type { Queue } from 'bullmq';
import { invalidOption } from '../errors.js';
import { listSource } from '../inputs/sources.js';
import { redactUri } from '../uri.js';
import { type ChunkJob, type ChunkJobData, chunkJob } from '../queue/chunk-jobs.js';
import { ChunkBatch, shardMatchesChunk } from './chunk-input.js';
import { recoverChunkRecord } from './chunk-record.js';
import { finalizeRun } from './finalize-run.js';
import { openRunOutput, shardKeyFor } from './output-layout.js';
import { planRun } from './plan-run.js';
import type { RunOptionsInput } from './run-options.js';
import type { RunSpec } from './run-spec.js';
import type { RunStore } from './run-store.js';

/** A run to submit: where its images are, and its options (see RUN_OPTIONS). */
export type SubmitOptions = RunOptionsInput & {
  /** Local directories or files, s3:// prefixes, manifests, tar shards and brace patterns (see listSource), or `-`. */
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
  const { sources: given, ...runOptions } = options;
  const { spec, attempts } = planRun(runOptions);
  const pairs = spec.output.pairs;
  if (pairs !== undefined && given.length > 0) {
    throw invalidOption('sources', 'none with --pairs (the pairs file lists the images)', given.join(' '));
  }
  // A pair run's one source is its manifest, read with column a as the URI and b kept (see planRun).
  const sources = pairs === undefined ? given : [pairs.manifest];
  if (sources.length === 0) throw invalidOption('sources', 'at least one source, or --pairs FILE', '[]');
  const { runId, chunkSize } = spec;
  const { created, spec: stored } = await deps.runStore.createOrResume(spec);
  const store = openRunOutput(spec.output.out, runId, { s3: deps.s3 });

  const committed = created ? new Set<number>() : await deps.runStore.committedChunkIndexes(runId);
  const existingShards = new Set<string>();
  if (!created) for await (const entry of store.list('shards/')) existingShards.add(entry.key);

  let inputs = 0;
  let tarShards = 0;
  let chunkIndex = 0;
  let enqueued = 0;
  let skipped = 0;
  const batch = new ChunkBatch(spec.input.keepCols);
  let pending: ChunkJob[] = [];
  // Chunks whose URIs lose something to redaction, with the URIs as given (for retry-failed).
  const originals = new Map<number, readonly string[]>();
  const redactParams = spec.output.redactParams ?? [];

  const flushJobs = async () => {
    if (pending.length === 0) return;
    await deps.runStore.keepChunkInputs(runId, originals);
    originals.clear();
    await deps.queue.addBulk(pending);
    enqueued += pending.length;
    pending = [];
  };
  const enqueue = (data: ChunkJobData) => {
    pending.push(chunkJob(data, attempts));
    if (data.uris.some((uri) => redactUri(uri, redactParams) !== uri))
      originals.set(data.chunkIndex, data.uris);
  };
  const emitChunk = async (data: ChunkJobData) => {
    const index = data.chunkIndex;
    if (committed.has(index)) {
      skipped += 1;
    } else if (existingShards.has(shardKeyFor(index))) {
      // The shard exists but Redis has no record of it (for example Redis lost its data): adopt the shard if it
      // holds this chunk's rows.
      const recovered = await recoverChunkRecord(store, index);
      if (recovered && shardMatchesChunk(recovered, data)) {
        await deps.runStore.recordChunk(runId, recovered.record);
        skipped += 1;
      } else {
        enqueue(data);
      }
    } else {
      enqueue(data);
    }
    if (pending.length >= ADD_BATCH) await flushJobs();
    deps.onProgress?.({ inputs, chunks: chunkIndex, enqueued: enqueued + pending.length, skipped });
  };

  const listDeps = { s3: deps.s3, ...(deps.stdin ? { stdin: deps.stdin } : {}) };
  for (const source of sources) {
    for await (const entry of listSource(source, listDeps, spec.input)) {
      inputs += 1;
      if (entry.kind === 'tar') {
        tarShards += 1;
        // A shard is a chunk of its own, after the images listed before it.
        if (batch.size > 0) await emitChunk(batch.take(runId, chunkIndex++));
        await emitChunk({ runId, chunkIndex: chunkIndex++, uris: [entry.uri], kind: 'tar' });
        continue;
      }
      batch.add(entry);
      if (batch.size >= chunkSize) await emitChunk(batch.take(runId, chunkIndex++));
    }
  }
  if (batch.size > 0) await emitChunk(batch.take(runId, chunkIndex++));
  await flushJobs();
  await deps.runStore.markEnqueued(runId, chunkIndex, inputs, tarShards);
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
