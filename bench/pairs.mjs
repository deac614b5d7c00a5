// Pair throughput against single-image throughput, on the same machine, model, crops and batch size, in one process.
//
//   - single: InferenceEngine.run on the graph an image run with --top 5 prepares (outputs: probs), `batch` crops
//     per call: images per second;
//   - pairs: InferenceEngine.runPairs on the pair graph (LPIPS-formula distance over relu1_2..relu5_3, its terms,
//     the feature reconstruction loss at relu2_2), `batch / 2` pairs per call, so both arms put the same number of
//     crops through onnxruntime per call: pairs per second.
// The bar is pairs/s >= 0.45 x images/s (a pair is two images, so 0.5 is the ideal; the pair graph skips the
// classifier and adds the head). Arms run interleaved, alternating which goes first, so slow phases of a shared
// machine hit both; the ratio is the median over trials of the ratio within a trial. Load average is recorded.
//
//   node bench/pairs.mjs [--model vgg16] [--weights file.safetensors] [--threads N] [--batch 8] [--trials 5]
//        [--batches 2] [--images dir] [--json] [--out bench/pairs-results.json]
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { decodeImage, InferenceEngine, prepareModel, resolvePreprocessOptions } from 'vgg-core';
import { positiveFlag } from './flags.mjs';
import { median } from './stats.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: flags } = parseArgs({
  options: {
    model: { type: 'string', default: 'vgg16' },
    weights: { type: 'string' },
    threads: { type: 'string', default: String(availableParallelism()) },
    batch: { type: 'string', default: '8' },
    trials: { type: 'string', default: '5' },
    batches: { type: 'string', default: '2' },
    images: { type: 'string', default: path.join(here, '..', 'packages/vgg-core/test-fixtures/images') },
    'cache-dir': { type: 'string', default: path.join(here, '.cache', 'pairs') },
    out: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const positive = (name) => positiveFlag(flags, name);
const threads = positive('threads');
const batch = positive('batch');
const trials = positive('trials');
const batches = positive('batches');
if (batch % 2 !== 0) {
  console.error(`Expected an even --batch (pairs take two crops each) but received ${batch}`);
  process.exit(2);
}

const preprocess = resolvePreprocessOptions({});
const modelOptions = {
  model: flags.model,
  cacheDir: flags['cache-dir'],
  ...(flags.weights ? { weightsPath: flags.weights } : {}),
};
const log = (line) => {
  if (!flags.json) console.error(line);
};

// Real crops, decoded once: whatever decodes among the fixture images, cycled to fill the batches.
const crops = [];
for (const name of (await readdir(flags.images)).sort()) {
  try {
    const decoded = await decodeImage(
      new Uint8Array(await readFile(path.join(flags.images, name))),
      preprocess,
    );
    crops.push(decoded.pixels);
  } catch {
    // broken fixtures are part of the corpus; skip them
  }
}
if (crops.length === 0) throw new Error(`no decodable images in ${flags.images}`);
const crop = (i) => crops[i % crops.length].slice();

log(`preparing ${flags.model} graphs (single: probs; pairs: pair head) ...`);
const single = await InferenceEngine.create({
  model: await prepareModel({ ...modelOptions, outputs: ['probs'] }),
  intraOpNumThreads: threads,
});
const pairs = await InferenceEngine.create({
  model: await prepareModel({ ...modelOptions, pair: {} }),
  intraOpNumThreads: threads,
});
const request = { topK: 5, taps: [], l2Normalize: false, dtype: 'float32' };

async function timeSingle() {
  const started = performance.now();
  for (let b = 0; b < batches; b++) {
    await single.run(
      Array.from({ length: batch }, (_, i) => crop(b * batch + i)),
      request,
    );
  }
  return (batches * batch) / ((performance.now() - started) / 1000);
}
async function timePairs() {
  const n = batch / 2;
  const started = performance.now();
  for (let b = 0; b < batches; b++) {
    await pairs.runPairs(
      Array.from({ length: n }, (_, i) => crop(b * batch + i)),
      Array.from({ length: n }, (_, i) => crop(b * batch + n + i)),
    );
  }
  return (batches * n) / ((performance.now() - started) / 1000);
}

// Warm-up: the first runs pay for allocations and kernel choices.
await timeSingle();
await timePairs();
const rows = [];
for (let t = 0; t < trials; t++) {
  const load = loadavg()[0];
  const first = t % 2 === 0 ? 'single' : 'pairs';
  let imagesPerSecond;
  let pairsPerSecond;
  if (first === 'single') {
    imagesPerSecond = await timeSingle();
    pairsPerSecond = await timePairs();
  } else {
    pairsPerSecond = await timePairs();
    imagesPerSecond = await timeSingle();
  }
  const row = {
    trial: t,
    first,
    imagesPerSecond,
    pairsPerSecond,
    ratio: pairsPerSecond / imagesPerSecond,
    load1: load,
  };
  rows.push(row);
  log(
    `trial ${t}: ${imagesPerSecond.toFixed(2)} images/s, ${pairsPerSecond.toFixed(2)} pairs/s, ratio ${row.ratio.toFixed(3)} (load ${load.toFixed(2)})`,
  );
}
await Promise.all([single.close(), pairs.close()]);

const result = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version },
  model: flags.model,
  weights: flags.weights ?? 'seeded',
  threads,
  batchImages: batch,
  batchesPerTrial: batches,
  trials: rows,
  median: {
    imagesPerSecond: median(rows.map((r) => r.imagesPerSecond)),
    pairsPerSecond: median(rows.map((r) => r.pairsPerSecond)),
    ratio: median(rows.map((r) => r.ratio)),
    load1: median(rows.map((r) => r.load1)),
  },
  bar: 0.45,
};
result.pass = result.median.ratio >= result.bar;
if (flags.out) await writeFile(flags.out, `${JSON.stringify(result, null, 2)}\n`);
if (flags.json) console.log(JSON.stringify(result, null, 2));
else {
  const m = result.median;
  console.log(
    `${flags.model}, ${threads} threads, ${batch} crops per call: ${m.imagesPerSecond.toFixed(2)} images/s, ` +
      `${m.pairsPerSecond.toFixed(2)} pairs/s; pairs/single = ${m.ratio.toFixed(3)} (bar 0.45: ${result.pass ? 'met' : 'NOT met'}), ` +
      `median load ${m.load1.toFixed(2)} on ${result.machine.cpus} CPUs`,
  );
}
