// Upper bounds measured outside the pipeline: onnxruntime session.run alone, and sharp decode alone.
import { readFile } from 'node:fs/promises';
import ort from 'onnxruntime-node';
import {
  decodeImage,
  modelOutputsFor,
  prepareModel,
  resolvePreprocessOptions,
  toInputTensor,
} from 'vgg-core';
import { ceilingSessionOptions, writePlainGraph } from './plain-graph.mjs';

/** Runs `fn(i)` for i in [0, n) with at most `concurrency` in flight. */
export async function pool(n, concurrency, fn) {
  let next = 0;
  const lanes = Array.from({ length: Math.min(n, concurrency) }, async () => {
    while (next < n) await fn(next++);
  });
  await Promise.all(lanes);
}

/** Decodes every file once into crops (HWC uint8), with `concurrency` sharp calls in flight; returns images/s. */
export async function decodeCeiling(files, concurrency, preprocess = {}) {
  const options = resolvePreprocessOptions(preprocess);
  const buffers = await Promise.all(files.map((f) => readFile(f)));
  const crops = new Array(files.length);
  const started = performance.now();
  await pool(files.length, concurrency, async (i) => {
    crops[i] = (await decodeImage(buffers[i], options)).pixels;
  });
  const seconds = (performance.now() - started) / 1000;
  return { imagesPerSec: files.length / seconds, seconds, crops, options };
}

/**
 * session.run throughput over `count` images of real crops in batches of `batchSize`, after one warm-up batch.
 * graph 'plain': the plain network (logits only, as torch.onnx.export gives it), the ceiling;
 * graph 'perRun': the graph the worker builds for a run that asks for top-k only (outputs: probs).
 * Both with the engine's session options and the same thread count.
 */
export async function inferenceCeiling({
  device = 'cpu',
  model,
  cacheDir,
  threads,
  batchSize,
  crops,
  options,
  count,
  graph = 'plain',
}) {
  const prepared = await prepareModel({
    ...model,
    cacheDir,
    outputs: modelOutputsFor({ topK: 5, taps: [] }),
  });
  const file =
    graph === 'plain' ? await writePlainGraph(prepared.config, prepared.weightsPath) : prepared.onnxPath;
  const session = await ort.InferenceSession.create(file, ceilingSessionOptions(threads, device));
  const inputName = graph === 'plain' ? 'input' : prepared.inputName;
  const fetches = graph === 'plain' ? ['logits'] : [prepared.outputs.probs];
  const size = options.cropSize;
  const batchOf = (start) => {
    const images = [];
    for (let i = 0; i < batchSize; i++) images.push(crops[(start + i) % crops.length]);
    return new ort.Tensor('float32', toInputTensor(images, options), [batchSize, 3, size, size]);
  };
  await session.run({ [inputName]: batchOf(0) }, fetches);
  const batches = Math.max(1, Math.round(count / batchSize));
  let runMs = 0;
  for (let b = 0; b < batches; b++) {
    const input = batchOf(b * batchSize);
    const t = performance.now();
    await session.run({ [inputName]: input }, fetches);
    runMs += performance.now() - t;
  }
  await session.release();
  return {
    imagesPerSec: (batches * batchSize) / (runMs / 1000),
    images: batches * batchSize,
    threads,
    batchSize,
    graph,
    prepared,
  };
}
