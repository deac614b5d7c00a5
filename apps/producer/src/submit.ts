import type { S3Client } from '@aws-sdk/client-s3';
import type { Queue } from 'bullmq';
import {
  type ChunkJobData,
  chunkJobId,
  finalizeRun,
  listSource,
  openRunOutput,
  parseLocation,
  type RunModelSpec,
  type RunOutputSpec,
  type RunPreprocessSpec,
  type RunSpec,
  type RunStore,
  generateRunId,
  recoverChunkRecord,
  shardKeyFor,
  validateRunId,
} from 'vgg-pipeline';
import { invalidOption } from 'vgg-core';

export interface SubmitOptions {
  /** Local directories or files, s3:// prefixes, manifests (.txt/.csv/.jsonl, local or s3://), http(s) URLs, or `-`. */
  sources: string[];
  /** `s3://bucket/prefix` or a local directory; the run writes under `<out>/<runId>/`. */
  out: string;
  /** Run id; submitting an existing id resumes it. Default: generated from the time. */
  runId?: string;
  model: RunModelSpec;
  preprocess?: RunPreprocessSpec;
  output?: Partial<Omit<RunOutputSpec, 'out'>>;
  /** URIs per chunk job. Default 256. */
  chunkSize?: number;
  /** Attempts per chunk before it is recorded as failed. Default 3. */
  attempts?: number;
}

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

/** Enqueues a run as deterministic chunk jobs; resubmitting the same run resumes it. */
export async function submitRun(options: SubmitOptions, deps: SubmitDeps): Promise<SubmitResult> {
  if (options.sources.length === 0) throw invalidOption('sources', 'at least one source', '[]');
  const chunkSize = options.chunkSize ?? 256;
  if (!Number.isInteger(chunkSize) || chunkSize <= 0 || chunkSize > 100_000) {
    throw invalidOption('chunkSize', 'integer between 1 and 100000', chunkSize);
  }
  const attempts = options.attempts ?? 3;
  if (!Number.isInteger(attempts) || attempts <= 0)
    throw invalidOption('attempts', 'positive integer', attempts);
  const runId = validateRunId(options.runId ?? generateRunId());
  const outLocation = parseLocation(options.out);
  if (outLocation.kind === 'http') throw invalidOption('out', 's3:// URI or local directory', options.out);
  const out = outLocation.kind === 'local' ? outLocation.dir : options.out.replace(/\/+$/, '');
  const output: RunOutputSpec = {
    out,
    topK: options.output?.topK ?? 5,
    taps: options.output?.taps ?? [],
    l2Normalize: options.output?.l2Normalize ?? false,
    dtype: options.output?.dtype ?? 'float32',
    npy: options.output?.npy ?? false,
  };
  const spec: RunSpec = {
    runId,
    createdAt: new Date().toISOString(),
    model: options.model,
    preprocess: options.preprocess ?? {},
    output,
    chunkSize,
  };
  const { created, spec: stored } = await deps.runStore.createOrResume(spec);
  const store = openRunOutput(out, runId, { s3: deps.s3 });

  const committed = created ? new Set<number>() : await deps.runStore.committedChunkIndexes(runId);
  const existingShards = new Set<string>();
  if (!created) for await (const entry of store.list('shards/')) existingShards.add(entry.key);

  let inputs = 0;
  let chunkIndex = 0;
  let enqueued = 0;
  let skipped = 0;
  let chunk: string[] = [];
  let pending: { name: string; data: ChunkJobData; opts: object }[] = [];

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
        pending.push(job(runId, index, uris, attempts));
      }
    } else {
      pending.push(job(runId, index, uris, attempts));
    }
    if (pending.length >= ADD_BATCH) await flushJobs();
    deps.onProgress?.({ inputs, chunks: chunkIndex, enqueued: enqueued + pending.length, skipped });
  };

  for (const source of options.sources) {
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

function job(runId: string, chunkIndex: number, uris: string[], attempts: number) {
  return {
    name: 'chunk',
    data: { runId, chunkIndex, uris },
    opts: {
      jobId: chunkJobId(runId, chunkIndex),
      attempts,
      backoff: { type: 'exponential', delay: 2_000 },
      // Completed chunks live on as shard records; keeping jobs would grow Redis with the run.
      removeOnComplete: true,
      removeOnFail: { count: 1_000 },
    },
  };
}
