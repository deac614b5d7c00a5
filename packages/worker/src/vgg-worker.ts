import { setMaxListeners } from 'node:events';
import { type Job, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import {
  type ChunkJobData,
  chunkInputSha256,
  finalizeRun,
  HostLimiter,
  InputGuard,
  openRunOutput,
  RunStore,
  type RunSpec,
} from 'vgg-pipeline';
import { ByteBudget } from './byte-budget.js';
import { ChunkCommitter } from './chunk-commit.js';
import { type ChunkOutcome, rowsOfChunk } from './chunk-inputs.js';
import { DedupCache } from './dedup-cache.js';
import { isWorkerError, ModelLoadError } from './errors.js';
import { type ChunkJobResult, FailedChunks, FinalizeError, lockFenceOf } from './failed-chunks.js';
import { ImageStages } from './image-stages.js';
import { Lifecycle, type LifecycleState, settleWithin } from './lifecycle.js';
import { type LoadedModel, loadModel, type ModelChoice, modelKeyOf } from './loaded-model.js';
import { ModelFiles } from './model-files.js';
import { isPermanentLoadFailure } from './model-load-failure.js';
import { ModelSlot } from './model-slot.js';
import { rowsOfPairChunk } from './pair-rows.js';
import { readyUnlessRefused } from './redis-ready.js';
import { type RunContext, RunContexts } from './run-contexts.js';
import { TarShardRows } from './tar-shard-rows.js';
import { ShardEncoder } from './shard-encoder.js';
import { newWorkerStats, type WorkerStats } from './stats.js';
import { openWorkerEndpoint } from './telemetry/worker-endpoint.js';
import { WorkerMetrics } from './telemetry/worker-metrics.js';
import { type ResolvedWorkerOptions, resolveWorkerOptions, type VggWorkerOptions } from './worker-options.js';

/**
 * Pulls chunk jobs, runs their images through VGG in shared batches and commits one Parquet shard per chunk; a
 * chunk's job completes only after its shard is durably written and recorded. A composition of parts: the
 * lifecycle, the model slot, the run contexts, the image stages, the chunk committer and the failure path.
 */
export class VggWorker {
  readonly options: ResolvedWorkerOptions;
  /** What the metrics endpoint serves (infra/README.md). */
  readonly metrics = new WorkerMetrics();
  readonly stats: WorkerStats = newWorkerStats(this.metrics);
  readonly #bull: Worker<ChunkJobData, ChunkJobResult>;
  readonly #runStore: RunStore;
  readonly #slot = new ModelSlot<LoadedModel>({
    close: (model) => {
      this.metrics.modelUnloaded({ ...model.identity, provider: model.provider });
      return model.close();
    },
  });
  readonly #runs: RunContexts;
  readonly #stages: ImageStages;
  readonly #tars: TarShardRows;
  readonly #committer: ChunkCommitter;
  readonly #failed: FailedChunks;
  readonly #lifecycle: Lifecycle;
  readonly #modelFiles: ModelFiles;
  /** Input bytes held (see --memory-budget-mb). */
  readonly #budget: ByteBudget;
  /** Aborts each chunk in flight, for the forced part of close(). */
  readonly #active = new Set<AbortController>();
  #graceful: Promise<void> = Promise.resolve();
  #closing: Promise<void> | null = null;
  #endpoint: { readonly port: number; close(): Promise<void> } | null = null;

  private constructor(options: ResolvedWorkerOptions) {
    this.options = options;
    this.#runStore = new RunStore({ redis: options.connect(), prefix: options.prefix });
    const guard = new InputGuard(options);
    this.#modelFiles = new ModelFiles({
      cacheDir: options.cacheDir,
      s3: options.s3,
      guard,
      maxBytes: options.maxModelBytes,
      connectTimeoutMs: options.connectTimeoutMs,
      readTimeoutMs: options.readTimeoutMs,
      attempts: options.fetchAttempts,
    });
    const encoder = new ShardEncoder();
    this.#runs = new RunContexts({ load: (runId) => this.#openRun(runId) });
    const hosts = new HostLimiter({ perHost: options.perHostConcurrency });
    const dedup = new DedupCache({ maxBytes: options.dedupCacheMb * 1024 * 1024 });
    const budget = new ByteBudget({ limitBytes: options.memoryBudgetMb * 1024 * 1024 });
    this.#budget = budget;
    this.#stages = new ImageStages({ ...options, guard, hosts, dedup, budget, stats: this.stats });
    this.#tars = new TarShardRows(this.#stages, { ...options, guard, hosts, budget });
    this.#committer = new ChunkCommitter({
      encoder,
      mayWrite: (runId, chunkIndex, fence, failed) =>
        this.#runStore.mayWriteChunk(runId, chunkIndex, fence, failed),
      recordChunk: (runId, record, fence) => this.#runStore.commitChunk(runId, record, fence),
      finalize: (context) =>
        finalizeRun({
          runStore: this.#runStore,
          store: context.store,
          runId: context.spec.runId,
          owner: options.workerId,
        }),
      workerId: options.workerId,
      stats: this.stats,
    });
    this.#failed = new FailedChunks({
      runStore: this.#runStore,
      runs: this.#runs,
      committer: this.#committer,
      metrics: this.metrics,
      workerId: options.workerId,
      onEvent: options.onEvent,
      finalize: (context, result) => this.#finalize(context, result),
      warn: (message) => this.#warn(message),
    });
    this.#bull = new Worker<ChunkJobData, ChunkJobResult>(
      options.queueName,
      (job, token, signal) => this.#process(job, token ?? '', signal),
      {
        connection: options.connect(),
        prefix: options.prefix,
        concurrency: options.chunkConcurrency,
        lockDuration: options.lockDurationMs,
        // Stalled checks run often so a crashed worker's chunks are picked up within about a lock duration.
        stalledInterval: Math.max(5_000, Math.floor(options.lockDurationMs / 2)),
        // A chunk whose worker dies this often is likely what kills it; it then ends as error rows (see 'failed').
        maxStalledCount: 3,
        autorun: false,
      },
    );
    this.#bull.on('error', (error) => this.#warn(`queue error: ${error.message}`));
    // Failures that never reach the processor's own handling (a chunk that stalled too often because workers
    // running it kept dying) still have to end as rows, or the run could never finalise.
    this.#bull.on('failed', (job, error) => {
      if (job)
        void this.#failed
          .recordStalled(job, error)
          .catch((e: unknown) => this.#warn(`could not record failed chunk: ${(e as Error).message}`));
    });
    this.#lifecycle = new Lifecycle(
      {
        graceful: () => {
          this.#graceful = this.#bull.close();
          return this.#graceful;
        },
        // Chunks still running are handed back at once (see #fail), not after their locks lapse. BullMQ's close is
        // memoised, so close(true) here would only wait on the graceful close: cut the connections instead, which
        // also fails the Redis commands of chunks stuck on a server that does not answer.
        force: async (budgetMs) => {
          for (const abort of this.#active) abort.abort(new Error('worker shutting down'));
          await settleWithin(this.#graceful, budgetMs - 100);
          await this.#bull.disconnect();
        },
        release: [
          ['closing the model', () => this.#slot.close()],
          ['closing the input guard', () => guard.close()],
          ['stopping the shard encoder', () => encoder.close()],
          ['closing the metrics endpoint', async () => void (await this.#endpoint?.close())],
          ['closing the run store connection', async () => void (await this.#runStore.redis.quit())],
        ],
      },
      { onWarning: (message) => this.#warn(message) },
    );
  }

  static async create(options: VggWorkerOptions): Promise<VggWorker> {
    const worker = new VggWorker(resolveWorkerOptions(options));
    try {
      await readyUnlessRefused(worker.#bull);
      worker.#endpoint = await openWorkerEndpoint(worker.options, {
        metrics: worker.metrics,
        redis: worker.#runStore.redis,
        isStopping: () => worker.#lifecycle.state !== 'running',
        onWarning: (message) => worker.#warn(message),
      });
    } catch (error) {
      await worker.close();
      throw error;
    }
    void worker.#bull.run();
    return worker;
  }

  /** The metrics endpoint's port, or null without one (metricsPort 0, or the default port was taken). */
  get metricsPort(): number | null {
    return this.#endpoint?.port ?? null;
  }

  get state(): LifecycleState {
    return this.#lifecycle.state;
  }

  /** Whether the worker is taking jobs. */
  get isRunning(): boolean {
    return this.#lifecycle.state === 'running' && this.#bull.isRunning();
  }

  /**
   * Stops taking chunks and lets those in flight finish until the deadline; then hands the rest back to the queue
   * at once so another worker takes them up, and releases everything. Memoised; never rejects.
   */
  close(deadlineMs = this.options.shutdownTimeoutMs): Promise<void> {
    // Drop connections that steps given up on may hold to a silent server (no round trip, so this cannot hang).
    this.#closing ??= this.#lifecycle.close(deadlineMs).then(() => {
      this.#runStore.redis.disconnect();
      void this.#bull.disconnect().catch(() => undefined);
    });
    return this.#closing;
  }

  async #process(job: Job<ChunkJobData>, token: string, signal?: AbortSignal): Promise<ChunkJobResult> {
    const abort = new AbortController();
    // One signal fans out to every fetch of the chunk, each adding a listener: no leak, so no listener cap.
    setMaxListeners(0, abort.signal);
    signal?.addEventListener('abort', () => abort.abort(signal.reason), { once: true });
    this.#active.add(abort);
    this.metrics.chunkStarted();
    // Since it was enqueued (or its retry delay ended); a chunk handed back at shutdown keeps its enqueue time.
    this.metrics.observeStage('queue_wait', (Date.now() - job.timestamp - job.delay) / 1000);
    try {
      if ((await this.#runStore.getState(job.data.runId)) === 'cancelled') {
        return { rows: 0, ok: 0, error: 0, skipped: 'cancelled' };
      }
      return await this.#runs.use(job.data.runId, (context) =>
        this.#chunk(job, token, context, abort.signal),
      );
    } finally {
      this.#active.delete(abort);
      this.metrics.chunkEnded();
    }
  }

  async #chunk(
    job: Job<ChunkJobData>,
    token: string,
    context: RunContext,
    signal: AbortSignal,
  ): Promise<ChunkJobResult> {
    const { runId, chunkIndex } = job.data;
    const started = performance.now();
    const fence = lockFenceOf(job, token);
    let model: LoadedModel | null = null;
    try {
      // Already committed with these inputs (a duplicate delivery, or a retry after the manifest failed to write):
      // the outputs stand; only the finalisation may be left to do.
      const done = await this.#runStore.getChunkRecord(runId, chunkIndex);
      if (done && !done.failed && done.inputSha256 === chunkInputSha256(job.data, context.spec.input)) {
        const result = { rows: done.rows, ok: done.ok, error: done.error };
        await this.#finalize(context, result);
        return result;
      }
      const current = this.#slot.current;
      const choice = modelKeyOf(
        context.spec,
        current === null ? null : { choice: current.choice, leases: this.#slot.leases },
      );
      const lease = await this.#slot.acquire(choice.key, () => this.#loadModel(context.spec, choice, runId));
      let outcome: ChunkOutcome;
      try {
        model = lease.model;
        await lease.model.bindRun(runId, context.spec.output, this.#runStore);
        const scheduler = lease.model.scheduler(context.spec.output);
        const { pairs } = context.spec.output;
        outcome = pairs
          ? await rowsOfPairChunk(job.data, context.spec, this.#stages, {
              preprocess: pairs?.size === 'native' ? lease.model.nativePreprocess : lease.model.preprocess,
              score: (a, b, size) => lease.model.pairScheduler().score(a, b, size),
              signal,
            })
          : await rowsOfChunk(
              job.data,
              context.spec,
              { stages: this.#stages, tars: this.#tars },
              {
                preprocess: lease.model.preprocess,
                infer: (pixels) => scheduler.infer(pixels),
                signal,
                dedupScope: runId,
              },
            );
      } finally {
        lease.release();
      }
      const record = await this.#committer.commit(context, {
        chunkIndex,
        ...outcome,
        model,
        failed: false,
        fence,
      });
      this.metrics.rowsCommitted(record);
      this.metrics.chunkOutcome('done');
      const { rows: count, ok, error } = record;
      this.options.onEvent?.({
        type: 'chunk-done',
        runId,
        chunkIndex,
        rows: count,
        ok,
        error,
        ms: performance.now() - started,
      });
      const result = { rows: count, ok, error };
      await this.#finalize(context, result);
      return result;
    } catch (error) {
      return await this.#fail(job, token, context, model, error, signal);
    }
  }

  /** A chunk attempt failed: hand it back when closing, retry it, or (last attempt) record its rows as errors. */
  async #fail(
    job: Job<ChunkJobData>,
    token: string,
    context: RunContext,
    model: LoadedModel | null,
    error: unknown,
    signal: AbortSignal,
  ): Promise<ChunkJobResult> {
    const { runId, chunkIndex } = job.data;
    if (isWorkerError(error, 'CHUNK_FENCED')) return this.#failed.fenced(error);
    if (signal.aborted && this.#lifecycle.state !== 'running') {
      // Hand the chunk back now instead of waiting for its lock to lapse; this does not count as an attempt.
      await job.moveToWait(token);
      this.metrics.chunkOutcome('handed_back');
      throw new WaitingError();
    }
    const attempt = job.attemptsMade + 1;
    const final = error instanceof UnrecoverableError || attempt >= (job.opts.attempts ?? 1);
    const message = (error as Error).message;
    this.metrics.chunkOutcome('failed');
    this.options.onEvent?.({ type: 'chunk-failed', runId, chunkIndex, attempt, final, message });
    if (!final) throw error;
    // A committed chunk whose manifest could not be written: its outputs stand (never failure rows over them); a
    // later commit or `vgg-producer submit` of the run finalises it (status shows why).
    if (error instanceof FinalizeError) return error.result;
    // Poison chunk: its inputs still end as rows (errors), so the run can finalise and retry-failed can find them.
    const reason = isWorkerError(error, 'MODEL_MISMATCH') ? 'model_mismatch' : 'chunk_failed';
    return this.#failed.recordFinal(job, context, model, message, reason, lockFenceOf(job, token));
  }

  async #openRun(runId: string): Promise<RunContext> {
    const spec = await this.#runStore.getSpec(runId);
    if (!spec) throw new UnrecoverableError(`Run ${runId} has no spec in Redis; was it deleted?`);
    return { spec, store: openRunOutput(spec.output.out, runId, { s3: this.options.s3 }), layout: null };
  }

  async #loadModel(spec: RunSpec, choice: ModelChoice, runId: string): Promise<LoadedModel> {
    const started = performance.now();
    const onWarning = (message: string) => this.#warn(message);
    this.metrics.modelLoading();
    let model: LoadedModel;
    try {
      model = await loadModel(spec, choice, {
        ...this.options,
        modelFiles: this.#modelFiles,
        stats: this.stats,
        onWarning,
      });
    } catch (error) {
      this.metrics.modelLoadEnded(null);
      // One run's bad model must not stop other runs: its chunk fails (at once when retrying cannot help), and
      // `status` says why.
      const permanent = isPermanentLoadFailure(error);
      const message = (error as Error).message;
      const note = { message, permanent, workerId: this.options.workerId, at: new Date().toISOString() };
      await this.#runStore.noteModelError(runId, note).catch(() => undefined);
      throw permanent ? new ModelLoadError(runId, error) : error;
    }
    // The model is part of what input bytes share the budget with.
    this.#budget.measureBaseline();
    // Loaded (a retry after a transient failure, or retry-failed after the file was fixed): the note is stale.
    await this.#runStore.noteModelError(runId, null).catch(() => undefined);
    const { variant, untrained } = model.identity;
    const ms = performance.now() - started;
    this.metrics.modelLoadEnded({
      model: { ...model.identity, provider: model.provider },
      seconds: ms / 1000,
    });
    this.options.onEvent?.({ type: 'model-loaded', runId, variant, provider: model.provider, untrained, ms });
    return model;
  }

  /**
   * Writes the manifest when this was the run's last chunk. A failure to write it never touches chunk outputs: it
   * becomes a FinalizeError, which retries the job (the retry finds the chunk committed and only finalises).
   */
  async #finalize(context: RunContext, result?: ChunkJobResult): Promise<void> {
    let manifest: string | null;
    try {
      manifest = await this.#committer.finalize(context);
    } catch (error) {
      this.#warn(`could not write the manifest of run ${context.spec.runId}: ${(error as Error).message}`);
      throw new FinalizeError(error, result);
    }
    if (manifest) this.options.onEvent?.({ type: 'run-finalized', runId: context.spec.runId, manifest });
  }

  #warn(message: string): void {
    this.options.onEvent?.({ type: 'warning', message });
  }
}
