// `vgg-model predict`'s engine against the plain network, on the same real crops, in one process.
//
// The ceiling is a plain logits-only graph as torch.onnx.export gives it (Conv, Relu, MaxPool, Flatten, Gemm; no
// extra outputs), written here from the configuration independently of vgg-core's graph builder, with its weights
// pointing into the same safetensors file, run with raw session.run on pre-normalised input. Against it:
//   - engine, per-run graph: InferenceEngine on the graph `vgg-model predict --top 5` prepares (outputs: probs),
//     timed from run() to result, so the worker-thread hop, normalisation and top-k are included;
//   - predictFiles: the same engine behind `vgg-model predict`'s whole loop, reading and decoding the image files;
//   - engine, all-outputs graph: the same engine on the graph with every tap (what every run used before).
// Arms run interleaved (rotating order per trial), so slow phases of a shared machine hit all of them; the ratio is
// the median over trials of engine / ceiling within the trial. The process's CPU time per image (all its threads:
// onnxruntime's, the engine's worker, the main one) is reported beside it: on a machine others are using, it moves
// far less than wall time, since time spent waiting for a core is not counted.
//
//   node bench/predict-vs-plain.mjs [--model vgg16] [--weights file.safetensors] [--threads N] [--batch 8]
//        [--trials 7] [--batches 2] [--images dir] [--cache-dir dir] [--no-all-outputs] [--json]
//        [--plain-onnx file.onnx]
// --plain-onnx takes the ceiling from a real export instead (input "input", output "logits"), for example one from
// `python scripts/make_torch_onnx_fixture.py` with a VGG16 configuration; its weights may differ, its speed not.
import { readdir, readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import {
  decodeImage,
  InferenceEngine,
  modelOutputsFor,
  predictFiles,
  prepareModel,
  resolvePreprocessOptions,
  toInputTensor,
} from 'vgg-core';
import { writePlainGraph } from './plain-graph.mjs';
import { positiveFlag } from './flags.mjs';
import { median } from './stats.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: flags } = parseArgs({
  options: {
    model: { type: 'string', default: 'vgg16' },
    weights: { type: 'string' },
    threads: { type: 'string', default: String(availableParallelism()) },
    batch: { type: 'string', default: '8' },
    trials: { type: 'string', default: '7' },
    batches: { type: 'string', default: '2' },
    images: { type: 'string', default: path.join(here, '..', 'packages/vgg-core/test-fixtures/images') },
    'cache-dir': { type: 'string', default: path.join(here, '.cache', 'predict-vs-plain') },
    'no-all-outputs': { type: 'boolean', default: false },
    'plain-onnx': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const positive = (name) => positiveFlag(flags, name);
const threads = positive('threads');
const batchSize = positive('batch');
const trials = positive('trials');
const batchesPerTrial = positive('batches');
const log = (...a) => console.error(new Date().toISOString().slice(11, 19), ...a);

/** The JPEGs of `dir` that decode, and their crops. */
async function realCrops(dir, preprocess) {
  const names = (await readdir(dir)).filter((f) => /\.(jpe?g)$/i.test(f)).sort();
  const files = [];
  const crops = [];
  for (const name of names) {
    try {
      crops.push((await decodeImage(await readFile(path.join(dir, name)), preprocess)).pixels);
      files.push(path.join(dir, name));
    } catch {
      // A fixture that is meant to fail decoding; the others are enough.
    }
  }
  if (crops.length === 0) throw new Error(`No decodable JPEGs in ${dir}`);
  return { files, crops };
}

const modelOptions = {
  model: flags.model,
  cacheDir: flags['cache-dir'],
  ...(flags.weights ? { weightsPath: flags.weights } : {}),
};
const request = { topK: 5, taps: [], l2Normalize: false, dtype: 'float32' };
log(`preparing ${flags.model} graphs in ${flags['cache-dir']}`);
const perRun = await prepareModel({ ...modelOptions, outputs: modelOutputsFor(request) });
const allOutputs = flags['no-all-outputs'] ? null : await prepareModel(modelOptions);
const plainPath = flags['plain-onnx'] ?? (await writePlainGraph(perRun.config, perRun.weightsPath));
const preprocess = resolvePreprocessOptions({ cropSize: perRun.identity.inputSize });
const { files, crops } = await realCrops(flags.images, preprocess);
const batchOf = (b) => Array.from({ length: batchSize }, (_, i) => crops[(b * batchSize + i) % crops.length]);
log(`${crops.length} real crops from ${flags.images}; batch ${batchSize}, ${threads} threads`);

// The engine's session options, so the ratio measures graph and engine, not settings.
const session = await ort.InferenceSession.create(plainPath, {
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  executionMode: 'sequential',
  extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
});
const size = preprocess.cropSize;
const plainInputs = Array.from(
  { length: batchesPerTrial },
  (_, b) => new ort.Tensor('float32', toInputTensor(batchOf(b), preprocess), [batchSize, 3, size, size]),
);
const arms = [
  {
    name: 'ceiling: plain graph, raw session.run',
    key: 'plain',
    run: async (b) => {
      await session.run({ input: plainInputs[b] }, ['logits']);
    },
  },
];
const engines = [];
for (const [key, name, model] of [
  ['perRun', 'engine, per-run graph (vgg-model predict)', perRun],
  ['allOutputs', 'engine, all-outputs graph (before)', allOutputs],
]) {
  if (model === null) continue;
  const engine = await InferenceEngine.create({ model, intraOpNumThreads: threads });
  engines.push(engine);
  arms.push({
    name,
    key,
    // Fresh copies: run() takes the crop buffers over to its thread.
    run: async (b) => {
      await engine.run(
        batchOf(b).map((c) => c.slice()),
        request,
      );
    },
  });
  if (key === 'perRun') {
    // The whole of `vgg-model predict` past start-up: read and decode the files (the next batch while this one
    // runs), infer, top-k. Each trial starts with an empty pipeline, so one batch's decode is not overlapped.
    const list = Array.from({ length: batchesPerTrial * batchSize }, (_, i) => files[i % files.length]);
    arms.push({
      name: 'predictFiles: decode + engine (vgg-model predict)',
      key: 'predictFiles',
      runAll: async () => {
        for await (const prediction of predictFiles(engine, list, { topK: 5, batchSize })) {
          if (!prediction.ok) throw new Error(`${prediction.file}: ${prediction.message}`);
        }
      },
    });
  }
}

// Warm-up: first runs allocate.
for (const arm of arms) await (arm.runAll ? arm.runAll() : arm.run(0));
const rates = Object.fromEntries(arms.map((a) => [a.key, []]));
const cpuMsPerImage = Object.fromEntries(arms.map((a) => [a.key, []]));
const images = batchesPerTrial * batchSize;
for (let t = 0; t < trials; t++) {
  for (let i = 0; i < arms.length; i++) {
    const arm = arms[(t + i) % arms.length];
    const started = performance.now();
    const cpu = process.cpuUsage();
    if (arm.runAll) await arm.runAll();
    else for (let b = 0; b < batchesPerTrial; b++) await arm.run(b);
    const used = process.cpuUsage(cpu);
    rates[arm.key].push(images / ((performance.now() - started) / 1000));
    cpuMsPerImage[arm.key].push((used.user + used.system) / 1000 / images);
  }
  log(
    `trial ${t + 1}/${trials}: ${arms.map((a) => `${a.key} ${rates[a.key][t].toFixed(2)}`).join(', ')} img/s`,
  );
}
await Promise.all(engines.map((e) => e.close()));
await session.release();

const result = {
  model: perRun.identity.variant,
  ceilingGraph: flags['plain-onnx'] ?? 'written from the configuration (Conv/Relu/MaxPool/Flatten/Gemm)',
  threads,
  batchSize,
  trials,
  imagesPerArmAndTrial: images,
  crops: crops.length,
  arms: arms.map((a) => ({
    arm: a.name,
    medianImagesPerSec: Number(median(rates[a.key]).toFixed(2)),
    ratioToCeiling: Number(median(rates[a.key].map((r, t) => r / rates.plain[t])).toFixed(3)),
    medianCpuMsPerImage: Number(median(cpuMsPerImage[a.key]).toFixed(1)),
    cpuRatioToCeiling: Number(
      median(cpuMsPerImage[a.key].map((c, t) => cpuMsPerImage.plain[t] / c)).toFixed(3),
    ),
    trials: rates[a.key].map((r) => Number(r.toFixed(2))),
  })),
  note: 'Interleaved trials on a shared machine; retake in a quiet phase for final numbers.',
};
if (flags.json) {
  console.log(JSON.stringify(result));
} else {
  console.log(
    `${result.model}, batch ${batchSize}, ${threads} threads, ${trials} interleaved trials of ${images} images per arm` +
      ' (x: median ratio to the ceiling within a trial; CPU x: ceiling CPU time / arm CPU time)',
  );
  for (const arm of result.arms) {
    console.log(
      `${arm.arm.padEnd(52)} ${arm.medianImagesPerSec.toFixed(2).padStart(7)} img/s  x${arm.ratioToCeiling.toFixed(3)}` +
        `   CPU ${arm.medianCpuMsPerImage.toFixed(1).padStart(7)} ms/img  x${arm.cpuRatioToCeiling.toFixed(3)}`,
    );
  }
  console.log(result.note);
}
