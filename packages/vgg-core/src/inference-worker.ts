// Entry point of the inference engine's worker thread. onnxruntime-node's create() and run() block the thread
// they are called on for hundreds of ms, so they live here, away from the caller's event loop.
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { VggError } from './errors.js';
import {
  type ExecutionProvider,
  ortExecutionProviders,
  providerFallbackWarning,
  providerLoadError,
} from './execution-provider.js';
import { embeddingRows, topKClasses } from './inference-outputs.js';
import type {
  FromWorker,
  InferenceRequest,
  InferenceResult,
  PairInferenceResult,
  SerializedError,
  ToWorker,
  WorkerInit,
} from './inference-protocol.js';
import { toInputTensor } from './preprocess-tensor.js';

if (parentPort === null)
  throw new Error('inference-worker.js runs only as a worker thread of InferenceEngine');
const port = parentPort;
const init = workerData as WorkerInit;
const post = (message: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

let session: ort.InferenceSession;
let batchBuffer = new Float32Array(0);
// Messages are handled strictly one after another: run() yields to the event loop, and a second run must not
// start meanwhile (it would share batchBuffer and the session's threads).
let queue: Promise<void> = Promise.resolve();

try {
  const { session: created, provider, warnings } = await createSession(init);
  session = created;
  checkModel(session, init);
  port.on('message', (message: ToWorker) => {
    queue = queue.then(() => handle(message));
  });
  post({ type: 'ready', provider, warnings });
} catch (error) {
  post({ type: 'init-failed', error: serialize(error) });
}

async function createSession(
  options: WorkerInit,
): Promise<{ session: ort.InferenceSession; provider: ExecutionProvider; warnings: string[] }> {
  const warnings: string[] = [];
  for (const [index, provider] of options.candidates.entries()) {
    try {
      const created = await ort.InferenceSession.create(options.onnxPath, {
        executionProviders: ortExecutionProviders(provider),
        intraOpNumThreads: options.intraOpNumThreads,
        interOpNumThreads: options.interOpNumThreads,
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
        // Spinning intra-op threads keep cores busy between runs, which starves image decoding on small machines.
        extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
      });
      return { session: created, provider, warnings };
    } catch (error) {
      const next = options.candidates[index + 1];
      if (next === undefined) throw providerLoadError(provider, error);
      warnings.push(providerFallbackWarning(provider, next, error));
    }
  }
  throw new VggError('VGG_PROVIDER', 'No execution provider to try');
}

function checkModel(created: ort.InferenceSession, options: WorkerInit): void {
  const problems: string[] = [];
  if (!created.inputNames.includes(options.inputName)) problems.push(`no input named ${options.inputName}`);
  const outputs = [options.logits, options.probs].filter((name) => name !== null);
  for (const tap of Object.values(options.taps)) outputs.push(tap.name);
  if (options.pair !== null) outputs.push(options.pair.name);
  for (const name of outputs) {
    if (!created.outputNames.includes(name)) problems.push(`no output named ${name}`);
  }
  if (problems.length > 0) {
    throw new VggError(
      'VGG_MODEL_FORMAT',
      `ONNX model ${options.onnxPath} does not match its description: ${problems.join(', ')} ` +
        `(inputs: ${created.inputNames.join(', ')}; outputs: ${created.outputNames.join(', ')})`,
    );
  }
}

async function handle(message: ToWorker): Promise<void> {
  if (message.type === 'close') {
    await session.release();
    post({ type: 'closed' });
    port.close();
    return;
  }
  if (message.type === 'pairs') {
    try {
      const result = await inferPairs(message.images, message.size);
      post({ type: 'pair-result', id: message.id, result }, [result.values.buffer as ArrayBuffer]);
    } catch (error) {
      post({ type: 'failed', id: message.id, error: serialize(error) });
    }
    return;
  }
  try {
    const result = await infer(message.images, message.request);
    const transfer = new Set([
      result.topK.classIds.buffer as ArrayBuffer,
      result.topK.probs.buffer as ArrayBuffer,
    ]);
    for (const embedding of Object.values(result.embeddings))
      transfer.add(embedding.data.buffer as ArrayBuffer);
    post({ type: 'result', id: message.id, result }, [...transfer]);
  } catch (error) {
    post({ type: 'failed', id: message.id, error: serialize(error) });
  }
}

async function infer(images: Uint8Array[], request: InferenceRequest): Promise<InferenceResult> {
  const count = images.length;
  const k = Math.min(request.topK, init.numClasses);
  // The engine refuses topK > 0 for a graph with neither output.
  const scoresName = k === 0 ? null : (init.probs ?? init.logits);
  const dims = new Map<string, number>();
  if (scoresName !== null) dims.set(scoresName, init.numClasses);
  for (const tap of request.taps) dims.set(init.taps[tap]!.name, init.taps[tap]!.dim);

  // With a fixed batch size the images go in slices of that size, the last one padded with blank crops.
  const step = init.fixedBatchSize ?? count;
  const rowsByName = new Map<string, Float32Array>();
  let inferenceMs = 0;
  for (let first = 0; first < count; first += step) {
    const slice = images.slice(first, first + step);
    while (slice.length < step) slice.push(blankCrop(images[0]!.length));
    const started = performance.now();
    const outputs = await session.run({ [init.inputName]: inputTensor(slice) }, [...dims.keys()]);
    inferenceMs += performance.now() - started;
    for (const [name, dim] of dims) {
      const data = outputRows(outputs[name], name, step, dim);
      if (step === count) {
        rowsByName.set(name, data);
        continue;
      }
      let rows = rowsByName.get(name);
      if (rows === undefined) {
        rows = new Float32Array(count * dim);
        rowsByName.set(name, rows);
      }
      rows.set(data.subarray(0, Math.min(step, count - first) * dim), first * dim);
    }
  }

  const topK =
    scoresName === null
      ? { k: 0, classIds: new Int32Array(0), probs: new Float32Array(0) }
      : {
          k,
          ...topKClasses(rowsByName.get(scoresName)!, count, init.numClasses, k, scoresName !== init.probs),
        };
  const embeddings: InferenceResult['embeddings'] = {};
  for (const tap of request.taps) {
    const { name, dim } = init.taps[tap]!;
    const data = embeddingRows(rowsByName.get(name)!, count, dim, request.l2Normalize, request.dtype);
    embeddings[tap] = { dim, dtype: request.dtype, data };
  }
  return { count, topK, embeddings, inferenceMs };
}

/**
 * Scores pairs: `images` holds N a crops then N b crops, fed as one batch [a…, b…] to a graph whose pair head
 * splits it in halves. With a fixed batch size, pairs go in slices of half of it, padded with blank pairs.
 */
async function inferPairs(
  images: Uint8Array[],
  size: { width: number; height: number } | null,
): Promise<PairInferenceResult> {
  const pair = init.pair;
  if (pair === null) throw new VggError('VGG_INVALID_OPTION', 'This graph has no pair head');
  const count = images.length / 2;
  const dim = pair.columns.length;
  const step = init.fixedBatchSize === null ? count : Math.max(1, Math.floor(init.fixedBatchSize / 2));
  const values = new Float32Array(count * dim);
  let inferenceMs = 0;
  for (let first = 0; first < count; first += step) {
    const a = images.slice(first, Math.min(first + step, count));
    const b = images.slice(count + first, count + Math.min(first + step, count));
    const used = a.length;
    while (a.length < step) {
      a.push(blankCrop(images[0]!.length));
      b.push(blankCrop(images[0]!.length));
    }
    const started = performance.now();
    const outputs = await session.run({ [init.inputName]: inputTensor([...a, ...b], size) }, [pair.name]);
    inferenceMs += performance.now() - started;
    const rows = outputRows(outputs[pair.name], pair.name, step, dim);
    values.set(rows.subarray(0, used * dim), first * dim);
  }
  return { count, columns: [...pair.columns], values, inferenceMs };
}

let blank = new Uint8Array(0);
/** A crop of zeros for padding, allocated once (padding only reads it). */
function blankCrop(length: number): Uint8Array {
  if (blank.length !== length) blank = new Uint8Array(length);
  return blank;
}

/** Normalised NCHW input for a batch, in a buffer reused across runs (runs never overlap). */
function inputTensor(
  images: Uint8Array[],
  size: { width: number; height: number } | null = null,
): ort.Tensor {
  const { width, height } = size ?? { width: init.preprocess.cropSize, height: init.preprocess.cropSize };
  const needed = images.length * 3 * width * height;
  if (batchBuffer.length < needed) batchBuffer = new Float32Array(needed);
  return new ort.Tensor('float32', toInputTensor(images, init.preprocess, batchBuffer, { width, height }), [
    images.length,
    3,
    height,
    width,
  ]);
}

function outputRows(tensor: ort.Tensor | undefined, name: string, count: number, dim: number): Float32Array {
  if (tensor === undefined || tensor.type !== 'float32' || tensor.size !== count * dim) {
    const actual = tensor ? `${tensor.type} [${tensor.dims.join(', ')}]` : 'missing';
    throw new VggError(
      'VGG_MODEL_FORMAT',
      `Output ${name} should be float32 [${count}, ${dim}] but is ${actual}`,
    );
  }
  return tensor.data as Float32Array;
}

function serialize(error: unknown): SerializedError {
  if (error instanceof VggError) {
    const cause =
      error.cause instanceof Error
        ? error.cause.message
        : error.cause === undefined
          ? null
          : String(error.cause);
    return { code: error.code, message: error.message, cause };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'VGG_INFERENCE', message: `Inference failed: ${message}`, cause: message };
}
