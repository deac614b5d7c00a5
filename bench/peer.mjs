// The peer: transformers.js's image-classification pipeline over the same graph (input renamed pixel_values,
// logits only), the same images and the same onnxruntime thread count.
import { mkdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildVggOnnx, imagenetLabels, readSafetensors, tensorToFloat32 } from 'vgg-core';

/** Writes a transformers.js model folder (config, preprocessor config, onnx/model.onnx) for a prepared model. */
export async function exportPeerModel(prepared, dir) {
  const onnxFile = path.join(dir, 'onnx', 'model.onnx');
  const exists = await stat(onnxFile).then(
    () => true,
    () => false,
  );
  if (!exists) {
    const raw = await readSafetensors(prepared.weightsPath);
    const tensors = new Map();
    for (const [name, tensor] of raw) tensors.set(name, tensorToFloat32(tensor));
    const bytes = buildVggOnnx(prepared.config, {
      weights: { kind: 'inline', tensors },
      outputs: ['logits'],
      inputName: 'pixel_values',
    });
    await mkdir(path.dirname(onnxFile), { recursive: true });
    await writeFile(onnxFile, bytes);
  }
  const labels = imagenetLabels();
  const id2label = Object.fromEntries(labels.map((l, i) => [String(i), l]));
  const label2id = Object.fromEntries(labels.map((l, i) => [l, i]));
  await writeFile(
    path.join(dir, 'config.json'),
    JSON.stringify({
      model_type: 'resnet',
      architectures: ['ResNetForImageClassification'],
      num_labels: 1000,
      id2label,
      label2id,
    }),
  );
  const size = prepared.config.inputSize;
  await writeFile(
    path.join(dir, 'preprocessor_config.json'),
    JSON.stringify({
      image_processor_type: 'ViTImageProcessor',
      do_resize: true,
      size: { shortest_edge: Math.round((size * 256) / 224) },
      resample: 2,
      do_center_crop: true,
      crop_size: { height: size, width: size },
      do_rescale: true,
      rescale_factor: 1 / 255,
      do_normalize: true,
      image_mean: [0.485, 0.456, 0.406],
      image_std: [0.229, 0.224, 0.225],
    }),
  );
}

/** images/s of transformers.js classifying `files` one call per `batchSize` files, after one warm-up call. */
export async function peerThroughput({ modelsDir, name, files, threads, batchSize }) {
  const { env, pipeline } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = modelsDir;
  env.useBrowserCache = false;
  env.useFSCache = false;
  const classify = await pipeline('image-classification', name, {
    dtype: 'fp32',
    device: 'cpu',
    session_options: {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
    },
  });
  await classify(files.slice(0, batchSize), { top_k: 5 });
  const started = performance.now();
  for (let i = 0; i < files.length; i += batchSize)
    await classify(files.slice(i, i + batchSize), { top_k: 5 });
  const seconds = (performance.now() - started) / 1000;
  await classify.dispose?.();
  return { imagesPerSec: files.length / seconds, seconds, images: files.length };
}
