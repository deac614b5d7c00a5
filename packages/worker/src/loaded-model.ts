import {
  describeProvider,
  type ExecutionProviderSetting,
  InferenceEngine,
  type ModelIdentity,
  modelOutputsFor,
  type PreparedModel,
  prepareModel,
  type ResolvedPreprocessOptions,
} from 'vgg-core';
import {
  modelOptionsForRun,
  redactUri,
  type RunModelBinding,
  type RunSpec,
  type RunStore,
} from 'vgg-pipeline';
import { BatchScheduler } from './batch-scheduler.js';
import { PairScheduler } from './pair-scheduler.js';
import type { CommitModel } from './chunk-commit.js';
import { ModelMismatchError } from './errors.js';
import type { ModelFiles } from './model-files.js';
import { addBatch, type WorkerStats } from './stats.js';

/** What the model slot loads for a run: the key it is known by, and the outputs its graph declares. */
export interface ModelChoice {
  /** The model and preprocessing, without the outputs. */
  readonly base: string;
  readonly key: string;
  /** Graph outputs, sorted. */
  readonly outputs: readonly string[];
}

/**
 * The model slot's key for a run: its model, its preprocessing (the engine normalises crops with the preprocessing
 * it was created with) and the outputs of the graph. vgg-core builds a graph with only the outputs a run reads,
 * since each extra tap costs a pass over an activation. A loaded graph that already declares what the run reads is
 * shared. One that lacks some and is in use by other runs is replaced by a graph declaring both sets, so runs with
 * different taps do not take turns reloading; an idle one is replaced by exactly what the run reads.
 */
export function modelKeyOf(
  spec: RunSpec,
  loaded: { choice: ModelChoice; leases: number } | null = null,
): ModelChoice {
  // A pair run's graph has the pair head and no taps: it never shares a graph with image runs.
  const pairs = spec.output.pairs;
  const base = JSON.stringify({
    model: spec.model,
    preprocess: spec.preprocess,
    ...(pairs && { pairs: { contentLayer: pairs.contentLayer, lpipsWeights: pairs.lpipsWeights ?? null } }),
  });
  const needed = modelOutputsFor({ topK: spec.output.topK, taps: spec.output.taps });
  const choice = (outputs: Iterable<string>): ModelChoice => {
    const sorted = [...new Set(outputs)].sort();
    return { base, key: JSON.stringify({ base, outputs: sorted }), outputs: sorted };
  };
  if (loaded === null || loaded.choice.base !== base) return choice(needed);
  const current = loaded.choice.outputs;
  if (needed.every((name) => current.includes(name))) return loaded.choice;
  return choice(loaded.leases > 0 ? [...current, ...needed] : needed);
}

/**
 * A model loaded for inference: the engine, what commits record about it, the runs already checked against its
 * weights hash, and one batch scheduler per output request (runs asking for the same outputs share batches).
 * Its schedulers live and die with its engine.
 */
export class LoadedModel implements CommitModel {
  /** The slot key and graph outputs it was loaded for. */
  readonly choice: ModelChoice;
  readonly identity: ModelIdentity;
  readonly taps: Readonly<Record<string, { dim: number }>>;
  readonly preprocess: ResolvedPreprocessOptions;
  /** {@link preprocess} with geometry 'native': a `--pair-size native` run's images, decoded whole. */
  readonly nativePreprocess: ResolvedPreprocessOptions;
  readonly provider: string;
  /** Runs whose binding to these weights is checked (a binding never changes once made). */
  readonly #boundRuns = new Set<string>();
  readonly #engine: InferenceEngine;
  readonly #batchSize: number;
  readonly #stats: WorkerStats;
  readonly #schedulers = new Map<string, BatchScheduler>();
  #pairScheduler: PairScheduler | null = null;

  constructor(
    choice: ModelChoice,
    prepared: PreparedModel,
    engine: InferenceEngine,
    options: { batchSize: number; stats: WorkerStats },
  ) {
    this.choice = choice;
    this.identity = prepared.identity;
    this.taps = prepared.outputs.taps;
    this.preprocess = engine.preprocess;
    this.nativePreprocess = Object.freeze({ ...engine.preprocess, geometry: 'native' as const });
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
        onBatch: (batch) => addBatch(this.#stats, batch),
      });
      this.#schedulers.set(key, scheduler);
    }
    return scheduler;
  }

  /** The scheduler that batches pairs, for a model loaded for a pair run. */
  pairScheduler(): PairScheduler {
    this.#pairScheduler ??= new PairScheduler({
      engine: this.#engine,
      pairsPerBatch: Math.max(1, Math.floor(this.#batchSize / 2)),
      onBatch: (batch) => addBatch(this.#stats, batch),
    });
    return this.#pairScheduler;
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

/** Fetches a run's model files, prepares the graph with the chosen outputs and starts an engine on it. */
export async function loadModel(
  spec: RunSpec,
  choice: ModelChoice,
  options: LoadModelOptions,
): Promise<LoadedModel> {
  const { weights, onnx } = spec.model;
  const files = {
    ...(weights !== undefined ? { weightsPath: await options.modelFiles.localPath(weights) } : {}),
    ...(onnx !== undefined ? { onnxPath: await options.modelFiles.localPath(onnx) } : {}),
  };
  const pairs = spec.output.pairs;
  const prepared = await prepareModel({
    ...modelOptionsForRun(spec.model, files),
    ...(pairs === undefined
      ? { outputs: choice.outputs }
      : {
          pair: {
            contentLayer: pairs.contentLayer,
            ...(pairs.lpipsWeights !== undefined && {
              lpipsWeightsPath: await options.modelFiles.localPath(pairs.lpipsWeights),
            }),
          },
        }),
    cacheDir: options.cacheDir,
  }).catch((cause: unknown) => {
    // The message names the cached copy; say which of the run's files it is.
    const source = onnx ?? weights;
    if (source === undefined) throw cause;
    throw new Error(`Model file ${redactUri(source)} is not usable: ${(cause as Error).message}`, { cause });
  });
  const engine = await InferenceEngine.create({
    model: prepared,
    provider: options.provider,
    intraOpNumThreads: options.intraOpNumThreads,
    // On CUDA every batch has the one shape --batch-size (a partial batch is padded), so cuDNN plans once; a graph
    // with its own fixed batch axis keeps it. CPU runs take batches as they come.
    ...(options.provider.startsWith('cuda') && prepared.fixedBatchSize === null
      ? { fixedBatchSize: options.batchSize }
      : {}),
    preprocess: spec.preprocess,
    onWarning: options.onWarning,
  });
  return new LoadedModel(choice, prepared, engine, options);
}
