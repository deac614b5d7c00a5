import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { invalidOption, VggError } from './errors.js';
import { MIN_NATIVE_SIDE } from './features/pair-head.js';
import {
  type ExecutionProvider,
  type ExecutionProviderSetting,
  parseExecutionProvider,
  providerCandidates,
} from './execution-provider.js';
import type {
  FromWorker,
  InferenceRequest,
  InferenceResult,
  PairInferenceResult,
  SerializedError,
  ToWorker,
  WorkerInit,
} from './inference-protocol.js';
import { getModelTap, type PreparedModel } from './prepare-model.js';
import {
  type PreprocessOptions,
  type ResolvedPreprocessOptions,
  resolvePreprocessOptions,
} from './preprocess-options.js';
import type { ImageSize } from './preprocess-tensor.js';
import { workerScript } from './worker-script.js';

export interface InferenceEngineOptions {
  /** The model to run, from prepareModel(). */
  model: PreparedModel;
  /**
   * Where to run. 'cuda' or 'cuda:N' that cannot load throws VggError('VGG_PROVIDER'); 'auto' tries cuda:0 and
   * falls back to cpu, reporting it through onWarning. Default: 'cpu'.
   */
  provider?: ExecutionProviderSetting | undefined;
  /**
   * onnxruntime intra-op threads. Default: availableParallelism(). Spinning is off, so image decoding still gets
   * the cores when it needs them: for VGG16 it costs ~15 ms of CPU per image against ~280 ms of inference, and
   * keeping a core back for it would leave half of a 2-core machine idle.
   */
  intraOpNumThreads?: number | undefined;
  /** onnxruntime inter-op threads. Default: 1. */
  interOpNumThreads?: number | undefined;
  /**
   * Give onnxruntime batches of exactly this many images: larger runs are split, smaller ones padded with blank
   * crops (whose results are dropped). On CUDA every new input shape costs a cuDNN algorithm search, so a fixed
   * shape keeps the first batch's search for good; on the CPU padding only costs time. A user ONNX graph with a
   * fixed batch axis sets this itself, and a different value is refused. Default: none (each run as it comes).
   */
  fixedBatchSize?: number | undefined;
  /**
   * Normalisation of the crops passed to run(). cropSize must equal the model's input size and defaults to it;
   * decode images with `engine.preprocess` so both sides agree. Default: torchvision ImageNet preprocessing.
   */
  preprocess?: PreprocessOptions | undefined;
  /** Receives non-fatal problems, such as the fallback from cuda to cpu. Default: process.emitWarning. */
  onWarning?: ((message: string) => void) | undefined;
}

interface Pending {
  resolve: (result: never) => void;
  reject: (error: VggError) => void;
}

/**
 * Runs a prepared model on onnxruntime-node in a worker thread, so the caller's event loop stays responsive
 * while a batch runs. Runs are queued first in, first out and execute one at a time.
 */
export class InferenceEngine {
  /** The provider the session actually runs on (after any 'auto' fallback). */
  readonly provider: ExecutionProvider;
  /** The preprocessing the engine expects its input crops to have been decoded with. */
  readonly preprocess: ResolvedPreprocessOptions;
  readonly model: PreparedModel;
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  /** Why runs are refused: set once the engine is closing or its thread died. */
  private stopped: VggError | null = null;
  private closing: Promise<void> | null = null;

  private constructor(
    model: PreparedModel,
    preprocess: ResolvedPreprocessOptions,
    worker: Worker,
    provider: ExecutionProvider,
  ) {
    this.model = model;
    this.preprocess = preprocess;
    this.worker = worker;
    this.provider = provider;
    worker.on('message', (message: FromWorker) => this.onMessage(message));
    worker.on('error', (error) => this.fail(`the inference worker thread crashed: ${error.message}`, error));
    worker.on('exit', (code) => this.fail(`the inference worker thread exited with code ${code}`));
  }

  static async create(options: InferenceEngineOptions): Promise<InferenceEngine> {
    const { model } = options;
    const setting = parseExecutionProvider(options.provider ?? 'cpu');
    const intraOpNumThreads = options.intraOpNumThreads ?? availableParallelism();
    if (!Number.isSafeInteger(intraOpNumThreads) || intraOpNumThreads < 1) {
      throw invalidOption('intraOpNumThreads', 'positive integer', intraOpNumThreads);
    }
    const interOpNumThreads = options.interOpNumThreads ?? 1;
    if (!Number.isSafeInteger(interOpNumThreads) || interOpNumThreads < 1) {
      throw invalidOption('interOpNumThreads', 'positive integer', interOpNumThreads);
    }
    const inputSize = model.identity.inputSize;
    const preprocess = resolvePreprocessOptions({ cropSize: inputSize, ...options.preprocess });
    if (preprocess.cropSize !== inputSize) {
      throw invalidOption(
        'preprocess.cropSize',
        `${inputSize} (the model's input size)`,
        preprocess.cropSize,
      );
    }
    const onWarning = options.onWarning ?? ((message: string) => process.emitWarning(message, 'VggWarning'));
    const fixedBatchSize = options.fixedBatchSize ?? model.fixedBatchSize;
    if (fixedBatchSize !== null && (!Number.isSafeInteger(fixedBatchSize) || fixedBatchSize < 1)) {
      throw invalidOption('fixedBatchSize', 'positive integer', fixedBatchSize);
    }
    if (model.fixedBatchSize !== null && fixedBatchSize !== model.fixedBatchSize) {
      throw invalidOption(
        'fixedBatchSize',
        `${model.fixedBatchSize} (the batch axis of ${model.onnxPath}) or unset`,
        fixedBatchSize,
      );
    }

    const init: WorkerInit = {
      onnxPath: model.onnxPath,
      inputName: model.inputName,
      numClasses: model.identity.numClasses,
      logits: model.outputs.logits ?? null,
      probs: model.outputs.probs ?? null,
      taps: model.outputs.taps,
      pair: model.outputs.pair
        ? { name: model.outputs.pair.name, columns: model.outputs.pair.columns }
        : null,
      fixedBatchSize,
      candidates: providerCandidates(setting),
      intraOpNumThreads,
      interOpNumThreads,
      preprocess,
    };
    const worker = new Worker(workerScript('./inference-worker.js', import.meta.url), { workerData: init });
    const ready = await new Promise<Extract<FromWorker, { type: 'ready' }>>((resolve, reject) => {
      // Only these listeners may be removed: Worker keeps internal ones that ref its message port.
      const cleanup = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      const onMessage = (message: FromWorker) => {
        cleanup();
        if (message.type === 'ready') resolve(message);
        else if (message.type === 'init-failed') reject(deserialize(message.error));
        else
          reject(new VggError('VGG_INFERENCE', `Unexpected ${message.type} message from a starting worker`));
      };
      const onError = (error: Error) => {
        cleanup();
        const message = `The inference worker thread failed to start: ${error.message}`;
        reject(new VggError('VGG_INFERENCE', message, { cause: error }));
      };
      const onExit = (code: number) => {
        cleanup();
        reject(
          new VggError(
            'VGG_INFERENCE',
            `The inference worker thread exited with code ${code} while starting`,
          ),
        );
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    }).catch(async (error: unknown) => {
      await worker.terminate();
      throw error;
    });
    for (const warning of ready.warnings) onWarning(warning);
    if (model.precision === 'float16' && ready.provider.name === 'cpu') {
      onWarning(
        'A float16 graph runs on the CPU through casts to float32 and is slower than a float32 one; ' +
          'prepare the model with precision float32 for the CPU',
      );
    }
    return new InferenceEngine(model, preprocess, worker, ready.provider);
  }

  /**
   * Classifies and embeds a batch of crops (HWC uint8 RGB from decodeImage with `engine.preprocess`).
   * Their buffers are transferred to the worker thread, not copied: the caller gives them up. A crop that is a
   * view of a larger buffer is copied instead, so the rest of that buffer stays usable.
   */
  run(images: Uint8Array[], request: InferenceRequest): Promise<InferenceResult> {
    if (this.stopped) return Promise.reject(this.stopped);
    try {
      this.checkRequest(images, request);
    } catch (error) {
      return Promise.reject(error);
    }
    const k = Math.min(request.topK, this.model.identity.numClasses);
    if (images.length === 0) {
      const embeddings: InferenceResult['embeddings'] = {};
      for (const tap of request.taps) {
        const { dim } = this.model.outputs.taps[tap]!;
        const data = request.dtype === 'float16' ? new Uint16Array(0) : new Float32Array(0);
        embeddings[tap] = { dim, dtype: request.dtype, data };
      }
      return Promise.resolve({
        count: 0,
        topK: { k, classIds: new Int32Array(0), probs: new Float32Array(0) },
        embeddings,
        inferenceMs: 0,
      });
    }
    const owned = images.map((image) =>
      image.byteOffset === 0 &&
      image.buffer instanceof ArrayBuffer &&
      image.byteLength === image.buffer.byteLength
        ? image
        : image.slice(),
    );
    const id = this.nextId++;
    const message: ToWorker = {
      type: 'run',
      id,
      images: owned,
      request: {
        topK: request.topK,
        taps: [...new Set(request.taps)],
        l2Normalize: request.l2Normalize,
        dtype: request.dtype,
      },
    };
    return new Promise<InferenceResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage(message, [...new Set(owned.map((image) => image.buffer as ArrayBuffer))]);
    });
  }

  /**
   * Scores pairs of crops (decoded with `engine.preprocess`) with the model's pair head (prepareModel's `pair`):
   * a[i] against b[i], both in one onnxruntime batch; only the scores come back. Buffers are transferred as in
   * {@link run}. With `size`, the images are whole images of that width and height (decoded with geometry
   * 'native': no resize, no crop) instead of crops; every image of the call must have it, and each side must be at
   * least {@link MIN_NATIVE_SIDE} pixels.
   */
  runPairs(a: Uint8Array[], b: Uint8Array[], size?: ImageSize): Promise<PairInferenceResult> {
    if (this.stopped) return Promise.reject(this.stopped);
    const pair = this.model.outputs.pair;
    try {
      if (pair === undefined) {
        throw new VggError(
          'VGG_INVALID_OPTION',
          'Expected a model prepared with `pair` for runPairs but received one without a pair head',
        );
      }
      if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) {
        throw invalidOption('b.length', `${Array.isArray(a) ? a.length : 0} (one b per a)`, b?.length);
      }
      if (size !== undefined) {
        for (const side of ['width', 'height'] as const) {
          if (!Number.isSafeInteger(size[side]) || size[side] < MIN_NATIVE_SIDE) {
            throw invalidOption(`size.${side}`, `integer of at least ${MIN_NATIVE_SIDE}`, size[side]);
          }
        }
      }
      this.checkRequest(
        [...a, ...b],
        { topK: 0, taps: [], l2Normalize: false, dtype: 'float32' },
        true,
        size,
      );
    } catch (error) {
      return Promise.reject(error);
    }
    if (a.length === 0) {
      return Promise.resolve({
        count: 0,
        columns: [...pair.columns],
        values: new Float32Array(0),
        inferenceMs: 0,
      });
    }
    const owned = [...a, ...b].map((image) =>
      image.byteOffset === 0 &&
      image.buffer instanceof ArrayBuffer &&
      image.byteLength === image.buffer.byteLength
        ? image
        : image.slice(),
    );
    const id = this.nextId++;
    const message: ToWorker = {
      type: 'pairs',
      id,
      images: owned,
      size: size === undefined ? null : { width: size.width, height: size.height },
    };
    return new Promise<PairInferenceResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage(message, [...new Set(owned.map((image) => image.buffer as ArrayBuffer))]);
    });
  }

  /**
   * Lets runs already submitted finish, then releases the onnxruntime session and ends the thread. Runs submitted
   * after close() reject with VGG_INFERENCE. Safe to call more than once.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    const alive = this.stopped === null;
    this.stopped = new VggError('VGG_INFERENCE', 'The inference engine is closed');
    this.closing = (async () => {
      if (alive) {
        const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
        this.worker.postMessage({ type: 'close' } satisfies ToWorker);
        await exited;
      }
      await this.worker.terminate();
    })();
    return this.closing;
  }

  private checkRequest(
    images: Uint8Array[],
    request: InferenceRequest,
    pixelsOnly = false,
    size?: ImageSize,
  ): void {
    if (!Array.isArray(images)) throw invalidOption('images', 'array of Uint8Array', images);
    const length =
      size === undefined
        ? this.preprocess.cropSize * this.preprocess.cropSize * 3
        : size.width * size.height * 3;
    images.forEach((image, index) => {
      if (!(image instanceof Uint8Array)) throw invalidOption(`images[${index}]`, 'Uint8Array', image);
      if (image.length !== length) {
        throw new VggError(
          'VGG_INVALID_OPTION',
          `Expected Uint8Array of ${length} bytes (${size === undefined ? 'a decoded crop' : `a ${size.width}x${size.height} image`}) for images[${index}] but received ${image.length} bytes`,
        );
      }
    });
    if (pixelsOnly) return;
    if (!Number.isSafeInteger(request.topK) || request.topK < 0) {
      throw invalidOption('topK', 'non-negative integer', request.topK);
    }
    if (!Array.isArray(request.taps)) throw invalidOption('taps', 'array of tap names', request.taps);
    for (const tap of request.taps) getModelTap(this.model, tap);
    if (request.topK === 0 && request.taps.length === 0) {
      throw invalidOption('topK', 'positive integer when no taps are requested', request.topK);
    }
    const { logits, probs, taps } = this.model.outputs;
    if (request.topK > 0 && logits === undefined && probs === undefined) {
      throw new VggError(
        'VGG_INVALID_OPTION',
        `Expected topK 0 for a graph without probs or logits (it declares ${Object.keys(taps).join(', ')}) ` +
          `but received ${request.topK}; include 'probs' in the outputs passed to prepareModel`,
      );
    }
    if (typeof request.l2Normalize !== 'boolean')
      throw invalidOption('l2Normalize', 'boolean', request.l2Normalize);
    if (request.dtype !== 'float32' && request.dtype !== 'float16') {
      throw invalidOption('dtype', "one of 'float32', 'float16'", request.dtype);
    }
  }

  private onMessage(message: FromWorker): void {
    if (message.type !== 'result' && message.type !== 'pair-result' && message.type !== 'failed') return;
    const pending = this.pending.get(message.id);
    if (pending === undefined) return;
    this.pending.delete(message.id);
    if (message.type !== 'failed') (pending.resolve as (result: unknown) => void)(message.result);
    else pending.reject(deserialize(message.error));
  }

  /** The thread is gone: nothing pending will ever be answered, so reject it all rather than hang. */
  private fail(reason: string, cause?: Error): void {
    const error = new VggError('VGG_INFERENCE', `Inference failed: ${reason}`, cause ? { cause } : undefined);
    this.stopped ??= error;
    for (const { reject } of this.pending.values()) reject(error);
    this.pending.clear();
  }
}

function deserialize(error: SerializedError): VggError {
  return new VggError(
    error.code,
    error.message,
    error.cause === null ? undefined : { cause: new Error(error.cause) },
  );
}
