import { setMaxListeners } from 'node:events';
import { type Job, UnrecoverableError, Worker, WaitingError } from 'bullmq';
import pLimit, { type LimitFunction } from 'p-limit';
import {
  type InferenceEngine,
  ImageDecodeError,
  InferenceEngine as Engine,
  decodeImage,
  imagenetLabels,
  type PreparedModel,
  prepareModel,
} from 'vgg-core';
import {
  type ChunkJobData,
  type ChunkRecord,
  FetchError,
  fetchInput,
  finalizeRun,
  type ObjectStore,
  openRunOutput,
  RunStore,
  type RunModelBinding,
  type RunSpec,
  shardKeyFor,
} from 'vgg-pipeline';
import { BatchScheduler } from './batch-scheduler.js';
import { type ColumnLayout, errorRow, type RowResult, rowsToColumns } from './chunk-rows.js';
import { InputGuard } from 'vgg-pipeline';
import { ModelFiles } from './model-files.js';
import { ShardEncoder } from './shard-encoder.js';
import { type ResolvedWorkerOptions, resolveWorkerOptions, type VggWorkerOptions } from './worker-options.js';

type Stage = 'fetch' | 'decode' | 'wait' | 'inference' | 'write';

interface LoadedModel {
  key: string;
  prepared: PreparedModel;
  engine: InferenceEngine;
  users: number;
  /** Runs already checked against this model's hash; the binding never changes once made. */
  boundRuns: Set<string>;
}

interface RunContext {
  spec: RunSpec;
  store: ObjectStore;
  layout: ColumnLayout | null;
}

/** Outcome of one chunk job, stored by BullMQ as the job's return value. */
export interface ChunkJobResult {
  rows: number;
  ok: number;
  error: number;
  skipped?: 'cancelled' | 'missing-run';
}

/**
 * Pulls chunk jobs, runs their images through VGG in shared batches and commits one Parquet shard per chunk.
 * A chunk's job completes only after its shard is durably written and recorded.
 */
export class VggWorker {
  readonly options: ResolvedWorkerOptions;
  private readonly worker: Worker<ChunkJobData, ChunkJobResult>;
  private readonly runStore: RunStore;
  private readonly modelFiles: ModelFiles;
  private readonly guard: InputGuard;
  private readonly encoder = new ShardEncoder();
  private readonly fetchLimit: LimitFunction;
  private readonly decodeLimit: LimitFunction;
  private readonly queuedLimit: LimitFunction;
  private readonly runs = new Map<string, Promise<RunContext>>();
  private readonly schedulers = new Map<string, BatchScheduler>();
  private model: LoadedModel | null = null;
  private modelLoading: Promise<LoadedModel> | null = null;
  private readonly active = new Map<
    string,
    { job: Job<ChunkJobData>; token: string; abort: AbortController }
  >();
  private closing = false;
  readonly stageMs: Record<Stage, number> = { fetch: 0, decode: 0, wait: 0, inference: 0, write: 0 };
  readonly batches = { count: 0, images: 0 };

  private constructor(options: ResolvedWorkerOptions) {
    this.options = options;
    this.runStore = new RunStore({ redis: options.connect(), prefix: options.prefix });
    this.modelFiles = new ModelFiles({ cacheDir: options.cacheDir, s3: options.s3 });
    this.guard = new InputGuard(options);
    this.fetchLimit = pLimit(options.fetchConcurrency);
    this.decodeLimit = pLimit(options.decodeConcurrency);
    this.queuedLimit = pLimit(options.maxQueuedImages);
    this.worker = new Worker<ChunkJobData, ChunkJobResult>(
      options.queueName,
      (job, token, signal) => this.process(job, token ?? '', signal),
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
    this.worker.on('error', (error) => this.emitWarning(`queue error: ${error.message}`));
    // Failures that never reach the processor's own handling (a chunk that stalled too often because workers
    // running it kept dying) still have to end as rows, or the run could never finalise.
    this.worker.on('failed', (job, error) => {
      if (job)
        void this.recordFailedChunk(job, error).catch((e: unknown) =>
          this.emitWarning(`could not record failed chunk: ${(e as Error).message}`),
        );
    });
  }

  private async recordFailedChunk(job: Job<ChunkJobData>, error: Error): Promise<void> {
    if (!(await job.isFailed())) return;
    const { runId, chunkIndex, uris } = job.data;
    if (await this.runStore.hasChunk(runId, chunkIndex)) return;
    if ((await this.runStore.getState(runId)) === 'cancelled') return;
    const ctx = await this.runContext(runId);
    this.options.onEvent?.({
      type: 'chunk-failed',
      runId,
      chunkIndex,
      attempt: job.attemptsMade,
      final: true,
      message: error.message,
    });
    await this.commit(
      ctx,
      chunkIndex,
      uris.map((uri) => errorRow(uri, 'chunk_failed')),
      this.model,
      true,
    );
    await this.tryFinalize(ctx);
  }

  static async create(options: VggWorkerOptions): Promise<VggWorker> {
    const worker = new VggWorker(resolveWorkerOptions(options));
    await worker.worker.waitUntilReady();
    void worker.worker.run();
    return worker;
  }

  /** Whether the BullMQ worker is still taking jobs. */
  get isRunning(): boolean {
    return this.worker.isRunning();
  }

  /**
   * Stops taking new chunks and lets in-flight ones finish until the deadline; chunks still running then are
   * handed back to the queue at once (not after a lock timeout) so another worker takes them up.
   */
  async close(deadlineMs = this.options.shutdownTimeoutMs): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const graceful = this.worker.close();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), deadlineMs);
    });
    const outcome = await Promise.race([graceful.then(() => 'closed' as const), deadline]);
    clearTimeout(timer);
    if (outcome === 'deadline') {
      for (const entry of this.active.values()) entry.abort.abort(new Error('worker shutting down'));
      await Promise.race([graceful, new Promise((r) => setTimeout(r, 5_000))]);
      await this.worker.close(true);
    }
    const model = this.model;
    this.model = null;
    await model?.engine.close();
    await this.guard.close();
    await this.encoder.close();
    await this.runStore.redis.quit().catch(() => undefined);
  }

  private async process(
    job: Job<ChunkJobData>,
    token: string,
    signal?: AbortSignal,
  ): Promise<ChunkJobResult> {
    const { runId, chunkIndex, uris } = job.data;
    const abort = new AbortController();
    // One signal fans out to every fetch of the chunk, each adding a listener: no leak, so no listener cap.
    setMaxListeners(0, abort.signal);
    signal?.addEventListener('abort', () => abort.abort(signal.reason), { once: true });
    const jobKey = `${runId}/${chunkIndex}`;
    this.active.set(jobKey, { job, token, abort });
    try {
      const state = await this.runStore.getState(runId);
      if (state === 'cancelled') return { rows: 0, ok: 0, error: 0, skipped: 'cancelled' };
      const ctx = await this.runContext(runId);
      const started = performance.now();
      try {
        const model = await this.acquireModel(ctx.spec, runId);
        let rows: RowResult[];
        try {
          rows = await this.runImages(ctx, model, uris, abort.signal);
        } finally {
          model.users -= 1;
        }
        const record = await this.commit(ctx, chunkIndex, rows, model, false);
        this.options.onEvent?.({
          type: 'chunk-done',
          runId,
          chunkIndex,
          rows: record.rows,
          ok: record.ok,
          error: record.error,
          ms: performance.now() - started,
        });
        await this.tryFinalize(ctx);
        return { rows: record.rows, ok: record.ok, error: record.error };
      } catch (error) {
        if (abort.signal.aborted && this.closing) {
          // Hand the chunk back now instead of waiting for its lock to lapse; this does not count as an attempt.
          await job.moveToWait(token);
          throw new WaitingError();
        }
        const attempts = job.opts.attempts ?? 1;
        const final = error instanceof UnrecoverableError || job.attemptsMade + 1 >= attempts;
        this.options.onEvent?.({
          type: 'chunk-failed',
          runId,
          chunkIndex,
          attempt: job.attemptsMade + 1,
          final,
          message: (error as Error).message,
        });
        if (!final) throw error;
        // Poison chunk: its inputs still end as rows (errors), so the run can finalise and retry-failed can find them.
        const reason = error instanceof ModelMismatchError ? 'model_mismatch' : 'chunk_failed';
        const rows = uris.map((uri) => errorRow(uri, reason));
        const record = await this.commit(ctx, chunkIndex, rows, this.model, true);
        await this.tryFinalize(ctx);
        return { rows: record.rows, ok: 0, error: record.error };
      }
    } finally {
      this.active.delete(jobKey);
    }
  }

  private runContext(runId: string): Promise<RunContext> {
    let ctx = this.runs.get(runId);
    if (!ctx) {
      ctx = (async () => {
        const spec = await this.runStore.getSpec(runId);
        if (!spec) throw new UnrecoverableError(`Run ${runId} has no spec in Redis; was it deleted?`);
        return {
          spec,
          store: openRunOutput(spec.output.out, runId, { s3: this.options.s3 }),
          layout: null,
        };
      })();
      ctx.catch(() => this.runs.delete(runId));
      this.runs.set(runId, ctx);
    }
    return ctx;
  }

  private async acquireModel(spec: RunSpec, runId: string): Promise<LoadedModel> {
    // Loops because the loaded model may change while this caller waits for a load or for other users.
    // The engine carries the run's preprocessing (pipeline, normalisation), so runs that differ in it do not share one.
    const key = JSON.stringify([spec.model, spec.preprocess]);
    for (;;) {
      const current = this.model;
      if (current && current.key === key) {
        current.users += 1;
        await this.checkModelHash(runId, current, spec);
        return current;
      }
      if (this.modelLoading) {
        await this.modelLoading.catch(() => undefined);
        continue;
      }
      if (current && current.users > 0) {
        // Another run's chunks still use the loaded model; wait for them rather than holding two VGGs in memory.
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      this.modelLoading = this.loadModel(spec, key, runId).finally(() => {
        this.modelLoading = null;
      });
      const previous = this.model;
      this.model = null;
      await previous?.engine.close();
      this.model = await this.modelLoading;
    }
  }

  private async loadModel(spec: RunSpec, key: string, runId: string): Promise<LoadedModel> {
    const started = performance.now();
    const m = spec.model;
    // A user ONNX file defines its own architecture: only the file (and size checks) are passed on.
    const prepared = await prepareModel(
      m.onnx
        ? {
            onnxPath: await this.modelFiles.localPath(m.onnx),
            cacheDir: this.options.cacheDir,
            ...(m.numClasses !== undefined ? { numClasses: m.numClasses } : {}),
            ...(m.inputSize !== undefined ? { inputSize: m.inputSize } : {}),
          }
        : {
            model: m.model,
            seed: m.seed,
            cacheDir: this.options.cacheDir,
            ...(m.weights ? { weightsPath: await this.modelFiles.localPath(m.weights) } : {}),
            ...(m.classifierWidth !== undefined ? { classifierWidth: m.classifierWidth } : {}),
            ...(m.numClasses !== undefined ? { numClasses: m.numClasses } : {}),
            ...(m.inputSize !== undefined ? { inputSize: m.inputSize } : {}),
            ...(m.batchNorm !== undefined ? { batchNorm: m.batchNorm } : {}),
            ...(m.poolSize !== undefined ? { poolSize: m.poolSize } : {}),
          },
    );
    const engine = await Engine.create({
      model: prepared,
      provider: this.options.provider,
      intraOpNumThreads: this.options.intraOpNumThreads,
      preprocess: spec.preprocess,
      onWarning: (message) => this.emitWarning(message),
    });
    const provider = engine.provider.name === 'cuda' ? `cuda:${engine.provider.deviceId ?? 0}` : 'cpu';
    this.options.onEvent?.({
      type: 'model-loaded',
      runId,
      variant: prepared.identity.variant,
      provider,
      untrained: prepared.identity.untrained,
      ms: performance.now() - started,
    });
    return { key, prepared, engine, users: 0, boundRuns: new Set() };
  }

  private async checkModelHash(runId: string, model: LoadedModel, spec: RunSpec): Promise<void> {
    if (model.boundRuns.has(runId)) return;
    const identity = model.prepared.identity;
    const binding: RunModelBinding = {
      identity,
      taps: spec.output.taps.map((name) => ({
        name,
        dim: model.prepared.outputs.taps[name]?.dim ?? 0,
        dtype: spec.output.dtype,
      })),
      preprocessing: model.engine.preprocess,
    };
    const bound = await this.runStore.bindModel(runId, binding);
    const preprocessing = JSON.stringify(binding.preprocessing);
    if (bound.weightsSha256 !== identity.weightsSha256) {
      model.users -= 1;
      throw new ModelMismatchError(runId, bound.weightsSha256, identity.weightsSha256);
    }
    if (bound.preprocessing !== preprocessing) {
      model.users -= 1;
      throw new ModelMismatchError(runId, bound.preprocessing, preprocessing, 'preprocessing');
    }
    model.boundRuns.add(runId);
  }

  private scheduler(ctx: RunContext, model: LoadedModel): BatchScheduler {
    const key = `${ctx.spec.runId}|${model.key}`;
    let scheduler = this.schedulers.get(key);
    if (!scheduler) {
      scheduler = new BatchScheduler({
        engine: model.engine,
        batchSize: this.options.batchSize,
        padBatches: model.engine.provider.name === 'cuda',
        request: {
          topK: Math.min(ctx.spec.output.topK, model.prepared.identity.numClasses),
          taps: ctx.spec.output.taps,
          l2Normalize: ctx.spec.output.l2Normalize,
          dtype: ctx.spec.output.dtype,
        },
        onBatch: ({ size, inferenceMs }) => {
          this.batches.count += 1;
          this.batches.images += size;
          this.stageMs.inference += inferenceMs;
        },
      });
      this.schedulers.set(key, scheduler);
    }
    return scheduler;
  }

  private async runImages(
    ctx: RunContext,
    model: LoadedModel,
    uris: readonly string[],
    signal: AbortSignal,
  ): Promise<RowResult[]> {
    const scheduler = this.scheduler(ctx, model);
    const fetchOptions = {
      s3: this.options.s3,
      maxBytes: this.options.maxInputBytes,
      connectTimeoutMs: this.options.connectTimeoutMs,
      readTimeoutMs: this.options.readTimeoutMs,
      dispatcher: this.guard.dispatcher,
      signal,
    };
    const rows = uris.map((uri) =>
      this.queuedLimit(async (): Promise<RowResult> => {
        signal.throwIfAborted();
        let t = performance.now();
        let fetched: { bytes: Uint8Array; sha256: string };
        try {
          await this.guard.checkLocal(uri);
          fetched = await this.fetchLimit(() =>
            fetchWithRetry(uri, fetchOptions, this.options.fetchAttempts),
          );
        } catch (error) {
          if (error instanceof FetchError) return errorRow(uri, error.reason);
          throw error;
        } finally {
          this.stageMs.fetch += performance.now() - t;
        }
        t = performance.now();
        let decoded: Awaited<ReturnType<typeof decodeImage>>;
        try {
          decoded = await this.decodeLimit(() => decodeImage(fetched.bytes, model.engine.preprocess));
        } catch (error) {
          if (error instanceof ImageDecodeError) return errorRow(uri, error.reason, fetched.sha256);
          throw error;
        } finally {
          this.stageMs.decode += performance.now() - t;
        }
        t = performance.now();
        const inference = await scheduler.infer(decoded.pixels);
        this.stageMs.wait += performance.now() - t;
        return {
          uri,
          status: 'ok',
          error: null,
          width: decoded.width,
          height: decoded.height,
          sha256: fetched.sha256,
          classIds: inference.classIds,
          probs: inference.probs,
          embeddings: inference.embeddings,
        };
      }),
    );
    return Promise.all(rows);
  }

  private layout(ctx: RunContext, model: LoadedModel | null): ColumnLayout {
    if (ctx.layout) return ctx.layout;
    const spec = ctx.spec;
    if (!model) {
      // A chunk that failed before any model loaded still needs a schema; taps have their requested names.
      return {
        topK: spec.output.topK,
        labels: imagenetLabels(),
        taps: [],
        metadata: { 'vgg.run_id': spec.runId, 'vgg.model': JSON.stringify({ requested: spec.model }) },
      };
    }
    const identity = model.prepared.identity;
    const labels =
      identity.numClasses === 1000
        ? imagenetLabels()
        : Array.from({ length: identity.numClasses }, (_, i) => `class_${i}`);
    ctx.layout = {
      topK: Math.min(spec.output.topK, identity.numClasses),
      labels,
      taps: spec.output.taps.map((tap) => {
        const info = model.prepared.outputs.taps[tap];
        if (!info) throw new UnrecoverableError(`Tap ${tap} is not available for ${identity.variant}`);
        return { tap, dim: info.dim, dtype: spec.output.dtype };
      }),
      metadata: {
        'vgg.run_id': spec.runId,
        'vgg.model': JSON.stringify({ ...identity, provider: providerName(model) }),
        'vgg.preprocess': JSON.stringify(model.engine.preprocess),
        'vgg.untrained': String(identity.untrained),
      },
    };
    return ctx.layout;
  }

  private async commit(
    ctx: RunContext,
    chunkIndex: number,
    rows: RowResult[],
    model: LoadedModel | null,
    failed: boolean,
  ): Promise<ChunkRecord> {
    const t = performance.now();
    const layout = this.layout(ctx, model);
    const shardKey = shardKeyFor(chunkIndex);
    await ctx.store.put(shardKey, await this.encoder.parquet(rowsToColumns(rows, layout)), {
      contentType: 'application/vnd.apache.parquet',
    });
    const npyKeys = ctx.spec.output.npy ? await this.writeNpy(ctx, chunkIndex, rows, layout) : [];
    const errorsByReason: Record<string, number> = {};
    const top1Histogram: Record<string, number> = {};
    let ok = 0;
    for (const row of rows) {
      if (row.status === 'ok') {
        ok += 1;
        const label = layout.labels[row.classIds?.[0] ?? -1] ?? 'unknown';
        top1Histogram[label] = (top1Histogram[label] ?? 0) + 1;
      } else {
        const reason = row.error ?? 'unknown';
        errorsByReason[reason] = (errorsByReason[reason] ?? 0) + 1;
      }
    }
    this.stageMs.write += performance.now() - t;
    const record: ChunkRecord = {
      chunkIndex,
      shardKey,
      rows: rows.length,
      ok,
      error: rows.length - ok,
      errorsByReason,
      top1Histogram,
      provider: model ? providerName(model) : 'none',
      workerId: this.options.workerId,
      ...(failed ? { failed: true } : {}),
      ...(npyKeys.length ? { npyKeys } : {}),
      committedAt: new Date().toISOString(),
    };
    await this.runStore.recordChunk(ctx.spec.runId, record);
    return record;
  }

  /** clip-retrieval layout per tap: `embeddings/<tap>/img_emb/img_emb_N.npy` + `metadata/metadata_N.parquet`. */
  private async writeNpy(
    ctx: RunContext,
    chunkIndex: number,
    rows: RowResult[],
    layout: ColumnLayout,
  ): Promise<string[]> {
    const okRows = rows.filter((r) => r.status === 'ok');
    const name = String(chunkIndex).padStart(6, '0');
    const keys: string[] = [];
    const metadata = await this.encoder.parquet(rowsToColumns(okRows, { ...layout, taps: [] }));
    for (const { tap, dim, dtype } of layout.taps) {
      const data =
        dtype === 'float16' ? new Uint16Array(okRows.length * dim) : new Float32Array(okRows.length * dim);
      okRows.forEach((row, i) => {
        data.set(row.embeddings?.[tap] as Float32Array & Uint16Array, i * dim);
      });
      const embKey = `embeddings/${tap}/img_emb/img_emb_${name}.npy`;
      const metaKey = `embeddings/${tap}/metadata/metadata_${name}.parquet`;
      await ctx.store.put(embKey, await this.encoder.npy(data, [okRows.length, dim], dtype));
      await ctx.store.put(metaKey, metadata);
      keys.push(embKey, metaKey);
    }
    return keys;
  }

  private async tryFinalize(ctx: RunContext): Promise<void> {
    const manifest = await finalizeRun({
      runStore: this.runStore,
      store: ctx.store,
      runId: ctx.spec.runId,
      owner: this.options.workerId,
    });
    if (manifest) this.options.onEvent?.({ type: 'run-finalized', runId: ctx.spec.runId, manifest });
  }

  private emitWarning(message: string): void {
    this.options.onEvent?.({ type: 'warning', message });
  }
}

export class ModelMismatchError extends UnrecoverableError {
  readonly code = 'MODEL_MISMATCH';
  constructor(
    runId: string,
    expected: string,
    actual: string,
    what: 'weights' | 'preprocessing' = 'weights',
  ) {
    super(
      what === 'weights'
        ? `Run ${runId} is bound to model sha256 ${expected.slice(0, 12)}…, but this worker loaded ${actual.slice(0, 12)}…; ` +
            'the weights changed since the run started. Start a new run for new weights.'
        : `Run ${runId} is bound to preprocessing ${expected}, but this worker would decode with ${actual}; ` +
            'workers of different versions are serving the run. Run one version of vgg-worker per run.',
    );
    this.name = 'ModelMismatchError';
  }
}

function providerName(model: LoadedModel): string {
  const p = model.engine.provider;
  return p.name === 'cuda' ? `cuda:${p.deviceId ?? 0}` : 'cpu';
}

async function fetchWithRetry(
  uri: string,
  options: Parameters<typeof fetchInput>[1],
  attempts: number,
): Promise<{ bytes: Uint8Array; sha256: string }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetchInput(uri, options);
    } catch (error) {
      if (!(error instanceof FetchError) || !error.transient || attempt >= attempts) throw error;
      // Exponential backoff with full jitter, so many workers hitting one slow host spread out.
      const delayMs = Math.random() * Math.min(5_000, 250 * 2 ** attempt);
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}
