// Do decode and inference share the cores without loss? On a CPU worker both run at once: onnxruntime's intra-op
// threads and the decode threads. If sharing were free, the fraction of each one's solo rate it keeps while both
// run would add up to 1 (e.g. inference at 0.8 of its solo rate and decode at 0.2 of its own). Less than 1 is
// what contention costs: onnxruntime waits at the end of each parallel section for a thread that lost its core.
//
//   node bench/contention.mjs [--model vgg16] [--seconds 20]
import { readdir, readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  decodeImage,
  InferenceEngine,
  modelOutputsFor,
  prepareModel,
  resolvePreprocessOptions,
} from 'vgg-core';
import { ensureImages } from './images.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: flags } = parseArgs({
  options: {
    model: { type: 'string', default: 'vgg16' },
    seconds: { type: 'string', default: '20' },
    threads: { type: 'string' },
    'decode-threads': { type: 'string' },
  },
});
const cores = availableParallelism();
const threads = Number(flags.threads ?? cores);
const decodeThreads = Number(flags['decode-threads'] ?? cores);
const windowMs = Number(flags.seconds) * 1000;
const dir = path.join(here, '.cache', 'images');
await ensureImages(dir, 300);
const files = (await readdir(dir)).filter((f) => f.endsWith('.jpg')).slice(0, 64);
const buffers = await Promise.all(files.map((f) => readFile(path.join(dir, f))));
const preprocess = resolvePreprocessOptions({});
const model = await prepareModel({
  model: flags.model,
  seed: 0,
  outputs: modelOutputsFor({ topK: 5, taps: [] }),
});
const engine = await InferenceEngine.create({
  model,
  preprocess,
  provider: 'cpu',
  intraOpNumThreads: threads,
});
const crops = await Promise.all(
  buffers.slice(0, 16).map(async (b) => (await decodeImage(b, preprocess)).pixels),
);
const REQUEST = { topK: 5, taps: [], l2Normalize: false, dtype: 'float32' };
const batch = () => crops.map((c) => new Uint8Array(c));
await engine.run(batch(), REQUEST);

/** Images inferred per second over the window (whole batches of 16). */
async function inferFor(ms) {
  let images = 0;
  const started = performance.now();
  while (performance.now() - started < ms) {
    await engine.run(batch(), REQUEST);
    images += 16;
  }
  return (images * 1000) / (performance.now() - started);
}

/** Images decoded per second while `running()` holds, `decodeThreads` in flight. */
async function decodeWhile(running) {
  let images = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: decodeThreads }, async () => {
      while (running()) {
        await decodeImage(buffers[next++ % buffers.length], preprocess);
        images += 1;
      }
    }),
  );
  return (images * 1000) / (performance.now() - started);
}

const inferSolo = await inferFor(windowMs);
const decodeSolo = await (async () => {
  const end = performance.now() + windowMs;
  return decodeWhile(() => performance.now() < end);
})();
let inferring = true;
const [inferShared, decodeShared] = await Promise.all([
  inferFor(windowMs).finally(() => {
    inferring = false;
  }),
  decodeWhile(() => inferring),
]);
await engine.close();
const kept = { inference: inferShared / inferSolo, decode: decodeShared / decodeSolo };
console.log(
  JSON.stringify({
    model: flags.model,
    cores,
    threads,
    decodeThreads,
    inferSolo,
    decodeSolo,
    inferShared,
    decodeShared,
    kept,
    sum: kept.inference + kept.decode,
  }),
);
