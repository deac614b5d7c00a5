import {
  describeProvider,
  type ExecutionProviderSetting,
  InferenceEngine,
  type ModelIdentity,
  type PreparedModel,
  prepareModel,
  type ResolvedPreprocessOptions,
} from 'vgg-core';
import { modelOptionsForRun, type RunModelBinding, type RunSpec, type RunStore } from 'vgg-pipeline';
import { BatchScheduler } from './batch-scheduler.js';
import type { CommitModel } from './chunk-commit.js';
import { ModelMismatchError } from './errors.js';
import type { ModelFiles } from './model-files.js';
import type { WorkerStats } from './stats.js';

/**
 * The model slot's key for a run: its model and its preprocessing, since the engine normalises crops with the
 * preprocessing it was created with. Runs with equal keys share a loaded model.
 */
export function modelKeyOf(spec: RunSpec): string {
  return JSON.stringify({ model: spec.model, preprocess: spec.preprocess });
}

/**
 * A model loaded for inference: the engine, what commits record about it, the runs already checked against its
 * weights hash, and one batch scheduler per output request (runs asking for the same outputs share batches).
 * Its schedulers live and die with its engine.
 */
export class LoadedModel implements CommitModel {
  readonly identity: ModelIdentity;
  readonly taps: Readonly<Record<string, { dim: number }>>;
  readonly preprocess: ResolvedPreprocessOptions;
  readonly provider: string;
  /** Runs whose binding to these weights is checked (a binding never changes once made). */
  readonly #boundRuns = new Set<string>();
  readonly #engine: InferenceEngine;
  readonly #batchSize: number;
  readonly #stats: WorkerStats;
  readonly #schedulers = new Map<string, BatchScheduler>();

  constructor(
    prepared: PreparedModel,
    engine: InferenceEngine,
    options: { batchSize: number; stats: WorkerStats },
  ) {
    this.identity = prepared.identity;
    this.taps = prepared.outputs.taps;
    this.preprocess = engine.preprocess;
    this.provider = describeProvider(engine.provider);
    this.#engine = engine;
    this.#batchSize = options.batchSize;
    this.#stats = options.stats;
  }

  /** The scheduler that batches images for a run's outputs. */
  scheduler(output: RunSpec['output']): BatchScheduler {
    const request = {
      topK: Math.min(output.topK, this.identity.numClasses),
      taps: output.taps,
      l2Normalize: output.l2Normalize,
      dtype: output.dtype,
    };
    const key = JSON.stringify(request);
    let scheduler = this.#schedulers.get(key);
    if (scheduler === undefined) {
      scheduler = new BatchScheduler({
        engine: this.#engine,
        batchSize: this.#batchSize,
        // cuDNN searches kernels for every new input shape, so CUDA batches keep one shape.
        padBatches: this.#engine.provider.name === 'cuda',
        request,
        onBatch: ({ size, inferenceMs }) => {
          this.#stats.batches.count += 1;
          this.#stats.batches.images += size;
          this.#stats.stageMs.inference += inferenceMs;
        },
      });
      this.#schedulers.set(key, scheduler);
    }
    return scheduler;
  }

  /**
   * Binds a run to these weights and this preprocessing: the first worker to load a run's model records them (with
   * the taps, for the manifest); later ones must have loaded the same weights and resolve the same preprocessing
   * (workers of another version may not). Checked once per run.
   */
  async bindRun(
    runId: string,
    output: RunSpec['output'],
    runStore: Pick<RunStore, 'bindModel'>,
  ): Promise<void> {
    if (this.#boundRuns.has(runId)) return;
    const binding: RunModelBinding = {
      identity: this.identity,
      taps: output.taps.map((name) => ({ name, dim: this.taps[name]?.dim ?? 0, dtype: output.dtype })),
      preprocessing: this.preprocess,
    };
    const bound = await runStore.bindModel(runId, binding);
    if (bound.weightsSha256 !== this.identity.weightsSha256) {
      throw new ModelMismatchError(runId, bound.weightsSha256, this.identity.weightsSha256);
    }
    const preprocessing = JSON.stringify(binding.preprocessing);
    if (bound.preprocessing !== preprocessing) {
      throw new ModelMismatchError(runId, bound.preprocessing, preprocessing, 'preprocessing');
    }
    this.#boundRuns.add(runId);
  }

  close(): Promise<void> {
    return this.#engine.close();
  }
}

/** Options of {@link loadModel}. */
export interface LoadModelOptions {
  modelFiles: Pick<ModelFiles, 'localPath'>;
  cacheDir: string;
  provider: ExecutionProviderSetting;
  intraOpNumThreads: number;
  batchSize: number;
  stats: WorkerStats;
  onWarning: (message: string) => void;
}

/** Fetches a run's model files, prepares the graph and starts an engine on it. */
export async function loadModel(spec: RunSpec, options: LoadModelOptions): Promise<LoadedModel> {
  const { weights, onnx } = spec.model;
  const files = {
    ...(weights !== undefined ? { weightsPath: await options.modelFiles.localPath(weights) } : {}),
    ...(onnx !== undefined ? { onnxPath: await options.modelFiles.localPath(onnx) } : {}),
  };
  const prepared = await prepareModel({
    ...modelOptionsForRun(spec.model, files),
    cacheDir: options.cacheDir,
  });
  const engine = await InferenceEngine.create({
    model: prepared,
    provider: options.provider,
    intraOpNumThreads: options.intraOpNumThreads,
    preprocess: spec.preprocess,
    onWarning: options.onWarning,
  });
  return new LoadedModel(prepared, engine, options);
}
