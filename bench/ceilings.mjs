// Upper bounds measured outside the pipeline: onnxruntime session.run alone, and sharp decode alone.
import { readFile } from 'node:fs/promises';
import ort from 'onnxruntime-node';
import { decodeImage, prepareModel, resolvePreprocessOptions, toInputTensor } from 'vgg-core';

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
 * session.run throughput with the worker's session options (same graph file from prepareModel, same thread
 * count, spinning off, full optimisation), over `count` images in batches of `batchSize`, after one warm-up batch.
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
}) {
  const prepared = await prepareModel({ ...model, cacheDir });
  const session = await ort.InferenceSession.create(prepared.onnxPath, {
    executionProviders: device.startsWith('cuda')
      ? [{ name: 'cuda', deviceId: Number(device.split(':')[1] ?? 0) }]
      : device === 'auto'
        ? [{ name: 'cuda', deviceId: 0 }, 'cpu']
        : ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  });
  const fetches = [prepared.outputs.logits, ...(prepared.outputs.probs ? [prepared.outputs.probs] : [])];
  const size = options.cropSize;
  const batchOf = (start) => {
    const images = [];
    for (let i = 0; i < batchSize; i++) images.push(crops[(start + i) % crops.length]);
    return new ort.Tensor('float32', toInputTensor(images, options), [batchSize, 3, size, size]);
  };
  await session.run({ [prepared.inputName]: batchOf(0) }, fetches);
  const batches = Math.max(1, Math.round(count / batchSize));
  let runMs = 0;
  for (let b = 0; b < batches; b++) {
    const input = batchOf(b * batchSize);
    const t = performance.now();
    await session.run({ [prepared.inputName]: input }, fetches);
    runMs += performance.now() - t;
  }
  await session.release();
  return {
    imagesPerSec: (batches * batchSize) / (runMs / 1000),
    images: batches * batchSize,
    threads,
    batchSize,
    prepared,
  };
}
