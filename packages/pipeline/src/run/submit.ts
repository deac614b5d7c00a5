import type { S3Client } from '@aws-sdk/client-s3';
import type { Queue } from 'bullmq';
import { invalidOption, RunError } from '../errors.js';
import { InputGuard } from '../inputs/input-guard.js';
import type { NetworkPolicyOptions } from '../inputs/network-policy.js';
import { listSource } from '../inputs/sources.js';
import { redactUri } from '../uri.js';
import { type ChunkJob, type ChunkJobData, chunkJob } from '../queue/chunk-jobs.js';
import { ChunkBatch, chunkInputSha256, shardMatchesChunk } from './chunk-input.js';
import { type ChunkRecord, recoverChunkRecord } from './chunk-record.js';
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
  /**
   * The address policy for http(s) manifests the producer reads (`--allow-hosts`, `--allow-cidrs`): the workers'
   * rule, so a manifest URL (or a redirect) cannot reach loopback, private or metadata addresses unless allowed.
   * Default: nothing beyond the default policy allowed.
   */
  network?: NetworkPolicyOptions;
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

  // A re-created run (Redis lost its data) adopts the shards already written as well as a resumed one does.
  const records = created ? [] : await deps.runStore.getChunkRecords(runId);
  const committed = new Map<number, ChunkRecord>(records.map((r) => [r.chunkIndex, r]));
  const existingShards = new Set<string>();
  for await (const entry of store.list('shards/')) existingShards.add(entry.key);
  // What the run's chunks were when first enqueued: a resumed listing must give every chunk the same inputs.
  const listing = created ? new Map<number, string>() : await deps.runStore.getListing(runId);
  const listedChunks = created ? null : await deps.runStore.getTotalChunks(runId);
  if (!created) await removeFailedJobs(runId, committed, deps);
  const stuck = created ? [] : (await deps.runStore.getStuckChunks(runId)).map((c) => c.chunkIndex);

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
  const newListing = new Map<number, string>();

  const flushJobs = async () => {
    await deps.runStore.addListing(runId, newListing);
    newListing.clear();
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
    const inputSha256 = chunkInputSha256(data, spec.input);
    const known = listing.get(index) ?? committed.get(index)?.inputSha256;
    if (known !== undefined && known !== inputSha256)
      throw listingChanged(runId, `chunk ${index} now holds other inputs than it did`);
    if (known === undefined && listedChunks !== null && index >= listedChunks)
      throw listingChanged(runId, `it now has more than the ${listedChunks} chunks it had`);
    if (!listing.has(index)) newListing.set(index, inputSha256);
    if (committed.has(index)) {
      skipped += 1;
    } else if (existingShards.has(shardKeyFor(index))) {
      // The shard exists but Redis has no record of it (Redis lost its data, or the worker died between writing
      // the shard and recording it): adopt the shard if it holds this chunk's rows.
      const recovered = await recoverChunkRecord(store, index);
      if (recovered && shardMatchesChunk(recovered, data, spec.input)) {
        await deps.runStore.recordChunk(runId, recovered.record);
        skipped += 1;
      } else if (recovered?.input.inputSha256 !== undefined) {
        throw listingChanged(runId, `the shard of chunk ${index} holds other inputs than the chunk now has`);
      } else {
        enqueue(data);
      }
    } else {
      enqueue(data);
    }
    if (pending.length >= ADD_BATCH) await flushJobs();
    deps.onProgress?.({ inputs, chunks: chunkIndex, enqueued: enqueued + pending.length, skipped });
  };

  const guard = new InputGuard({
    allowHosts: deps.network?.allowHosts ?? [],
    allowCidrs: deps.network?.allowCidrs ?? [],
    localRoots: [],
  });
  const listDeps = {
    s3: deps.s3,
    dispatcher: guard.dispatcher,
    ...(deps.stdin ? { stdin: deps.stdin } : {}),
  };
  try {
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
  } finally {
    await guard.close();
  }
  if (listedChunks !== null && chunkIndex < listedChunks)
    throw listingChanged(runId, `it now has ${chunkIndex} chunks, not the ${listedChunks} it had`);
  await flushJobs();
  // Stuck chunks (failed for good without rows) were enqueued again above: they are no longer stuck.
  await deps.runStore.clearStuck(runId, stuck);
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

/**
 * Removes the run's failed jobs whose chunks have no record (their error rows could not be written), so that the
 * resubmission can add them again: BullMQ ignores a job id it still keeps, and failed jobs are kept.
 */
async function removeFailedJobs(
  runId: string,
  committed: ReadonlyMap<number, ChunkRecord>,
  deps: Pick<SubmitDeps, 'queue'>,
): Promise<void> {
  const page = 1_000;
  const stale = [];
  for (let start = 0; ; start += page) {
    const jobs = await deps.queue.getFailed(start, start + page - 1);
    stale.push(...jobs.filter((job) => job?.data.runId === runId && !committed.has(job.data.chunkIndex)));
    if (jobs.length < page) break;
  }
  // Removed after paging, since each removal shifts the pages.
  for (const job of stale) await job.remove();
}

/** A resumed run whose listing no longer gives its chunks the inputs they were first enqueued with. */
function listingChanged(runId: string, detail: string): RunError {
  return new RunError(
    'RUN_CONFLICT',
    { runId, field: 'inputs' },
    `Run ${runId} was first submitted with another listing of its sources: ${detail}. A run's chunks are fixed ` +
      'by its first listing, so resume it with the same sources listing the same inputs in the same order, or ' +
      'submit the new listing as a new run (another --run id)',
  );
}
