// `npm run bench`: ceilings, peer, end-to-end, scaling, memory and enqueue rate in one run on this machine.
// Results: bench/results.json, bench/scaling.svg, and a table on stdout. BENCH_QUICK=1 shrinks every size and
// writes to bench/.cache/quick/ instead.
import { execFileSync, execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client, s3ClientOptionsFromEnv, submitRun } from 'vgg-pipeline';
import { decodeCeiling, inferenceCeiling, pool } from './ceilings.mjs';
import { openQueue, runEndToEnd } from './e2e.mjs';
import { measureLocalRun, phaseDurations } from './fixed-cost.mjs';
import { median } from './stats.mjs';
import { ensureImages } from './images.mjs';
import { exportPeerModel, peerThroughput } from './peer.mjs';
import { startRedis, startS3 } from './servers.mjs';
import { scalingSvg } from './chart.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const cache = path.join(here, '.cache');
const quick = process.env.BENCH_QUICK === '1';
const { values: flags } = parseArgs({
  options: {
    // `npm run bench -- --device cuda:0` measures a GPU host: the ceilings' sessions and the workers use that
    // provider (the transformers.js peer stays on CPU). This machine cannot load onnxruntime's CUDA provider.
    device: { type: 'string', default: 'cpu' },
    // Images for the steady-state comparison (peer and end to end). 1,000 is the default the issue asks for; use
    // --images 96 (or BENCH_QUICK=1) for a smoke run.
    images: { type: 'string', default: quick ? '48' : '1000' },
    models: { type: 'string', default: 'small,vgg16' },
    // VGG16's share of the steady-state comparison, when 1,000 images would take too long (default: --images).
    'vgg16-images': { type: 'string' },
    // Sections to leave out: peer, e2e, fixed, scaling, rss, enqueue, decode.
    skip: { type: 'string', default: '' },
  },
});
const device = flags.device;
if (!/^(cpu|auto|cuda(:\d+)?)$/.test(device)) {
  console.error(`Expected cpu, cuda, cuda:N or auto for --device but received ${JSON.stringify(device)}`);
  process.exit(2);
}
const steadyImages = Number(flags.images);
if (!Number.isInteger(steadyImages) || steadyImages < 16) {
  console.error(`Expected integer >= 16 for --images but received ${JSON.stringify(flags.images)}`);
  process.exit(2);
}
const skip = new Set(flags.skip.split(',').filter(Boolean));
const cores = availableParallelism();
// The worker default (VggWorkerOptions.intraOpNumThreads): every core, with ORT spinning off.
const workerThreads = cores;
const batchSize = 16;
const ALL_MODELS = {
  small: {
    label: 'small [16,M,32,M,64,M] fc256 @224',
    spec: { model: '[16,M,32,M,64,M]', seed: 1, classifierWidth: 256 },
    ceilingImages: steadyImages,
  },
  // session.run alone is steady after a batch or two; 160 images keep VGG16's ceilings under a minute.
  vgg16: {
    label: 'VGG16 @224 (seeded)',
    spec: { model: 'vgg16', seed: 0 },
    ceilingImages: Math.min(steadyImages, 160),
  },
};
const MODELS = Object.fromEntries(
  flags.models.split(',').map((k) => {
    if (!ALL_MODELS[k]) {
      console.error(`Expected small or vgg16 in --models but received ${JSON.stringify(k)}`);
      process.exit(2);
    }
    const images = k === 'vgg16' && flags['vgg16-images'] ? Number(flags['vgg16-images']) : steadyImages;
    if (!Number.isInteger(images) || images < 16 || images > steadyImages) {
      console.error(
        `Expected integer from 16 to --images for --vgg16-images but received ${JSON.stringify(flags['vgg16-images'])}`,
      );
      process.exit(2);
    }
    return [k, { ...ALL_MODELS[k], images, ceilingImages: Math.min(images, ALL_MODELS[k].ceilingImages) }];
  }),
);
// Scaling and memory keep the earlier fixed sizes (small model): they measure the queue, not steady-state speed.
const SCALING_IMAGES = quick ? 48 : 300;
const ENQUEUE_LINES = quick ? 20_000 : 200_000;
const results = {
  startedAt: new Date().toISOString(),
  quick,
  device,
  machine: machine(),
  loadAverage: { start: loadavg() },
  steadyImages,
  models: {},
  errors: [],
};
const log = (...a) => console.error(new Date().toISOString().slice(11, 19), ...a);

function machine() {
  const mem = readFileSync('/proc/meminfo', 'utf8').match(/MemTotal:\s+(\d+)/);
  return {
    nproc: cores,
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((Number(mem?.[1] ?? totalmem() / 1024) / 1024 / 1024) * 10) / 10,
    node: process.version,
    redis: (() => {
      try {
        return execSync('redis-server --version').toString().trim();
      } catch {
        return 'unknown';
      }
    })(),
  };
}

async function section(name, fn) {
  const t = performance.now();
  log(`${name}...`);
  try {
    const r = await fn();
    log(`${name} done in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    return r;
  } catch (error) {
    log(`${name} FAILED: ${error.stack ?? error}`);
    results.errors.push({ section: name, message: String(error.message ?? error) });
    return undefined;
  }
}

const { files: allFiles, bytes } = await ensureImages(
  path.join(cache, 'images'),
  Math.max(steadyImages, SCALING_IMAGES),
);
results.images = { count: allFiles.length, avgBytes: Math.round(bytes / allFiles.length) };
const modelsDir = path.join(cache, 'models');
const steadyFiles = allFiles.slice(0, steadyImages);

// Decode does not depend on the model (both take 224 crops): measured once, at the worker's default concurrency
// (one decode per core); its crops feed the inference ceilings, so those run on real preprocessed images.
const decode = await section(
  `decode ceiling (${steadyFiles.length} images, ${cores} in flight)`,
  async () => {
    const d = await decodeCeiling(steadyFiles, cores);
    results.decode = { imagesPerSec: d.imagesPerSec, concurrency: cores, images: steadyFiles.length };
    return d;
  },
);

for (const [key, m] of Object.entries(MODELS)) {
  const files = steadyFiles.slice(0, m.images);
  const r = { label: m.label, images: files.length };
  results.models[key] = r;
  if (!decode) continue;
  r.decodePerSec = decode.imagesPerSec;
  await section(`${key}: inference ceiling (plain network) and the worker's graph`, async () => {
    for (const graph of ['plain', 'perRun']) {
      const inf = await inferenceCeiling({
        device,
        model: m.spec,
        cacheDir: modelsDir,
        threads: workerThreads,
        batchSize,
        crops: decode.crops,
        options: decode.options,
        count: m.ceilingImages,
        graph,
      });
      r[graph === 'plain' ? 'inferencePerSec' : 'workerGraphPerSec'] = inf.imagesPerSec;
      r.ceilingImages = inf.images;
      r.prepared = inf.prepared;
    }
    r.workerGraphRatio = r.workerGraphPerSec / r.inferencePerSec;
    // On CPU, decode and inference share the cores; on a GPU host they do not, and the ceiling is the smaller.
    r.combinedCeiling =
      device === 'cpu'
        ? 1 / (1 / r.inferencePerSec + 1 / r.decodePerSec)
        : Math.min(r.inferencePerSec, r.decodePerSec);
  });
  if (!skip.has('peer'))
    await section(`${key}: transformers.js peer, ${files.length} images`, async () => {
      const dir = path.join(cache, 'peer', key);
      await exportPeerModel(r.prepared, dir);
      const peer = await peerThroughput({
        modelsDir: `${path.join(cache, 'peer')}/`,
        name: key,
        files,
        threads: workerThreads,
        batchSize,
      });
      r.peerPerSec = peer.imagesPerSec;
      r.peer = peer;
    });
  delete r.prepared;
}

const redis = await startRedis();
const s3server = await startS3();
const counts = {};
s3server.counter = {
  reset: () => {
    for (const k of Object.keys(counts)) delete counts[k];
  },
  snapshot: () => ({ ...counts }),
};
const env = {
  REDIS_URL: redis.url,
  AWS_ENDPOINT_URL_S3: s3server.endpoint,
  S3_FORCE_PATH_STYLE: 'true',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_EC2_METADATA_DISABLED: 'true',
};
Object.assign(process.env, env);
const s3 = createS3Client(s3ClientOptionsFromEnv(process.env));
try {
  await s3.send(new CreateBucketCommand({ Bucket: 'bench-in' }));
  await s3.send(new CreateBucketCommand({ Bucket: 'bench-out' }));
  await pool(allFiles.length, 8, async (i) => {
    const file = allFiles[i];
    await s3.send(
      new PutObjectCommand({
        Bucket: 'bench-in',
        Key: `img/${path.basename(file)}`,
        Body: await readFile(file),
      }),
    );
  });
  s3server.attach((method) => {
    counts[method] = (counts[method] ?? 0) + 1;
  });
  const uris = allFiles.map((f) => `s3://bench-in/img/${path.basename(f)}`);
  const manifests = path.join(cache, 'manifests');
  await mkdir(manifests, { recursive: true });
  const manifest = async (name, list) => {
    const file = path.join(manifests, `${name}.txt`);
    await writeFile(file, `${list.join('\n')}\n`);
    return file;
  };
  const warmManifest = await manifest('warm', uris.slice(0, batchSize));
  const base = {
    redisUrl: redis.url,
    s3,
    s3Counter: s3server.counter,
    env,
    warmManifest,
    outUri: 's3://bench-out/runs',
    workerOptions: { provider: device },
    timeoutMs: 600_000,
  };

  for (const [key, m] of Object.entries(MODELS)) {
    const r = results.models[key];
    if (skip.has('e2e')) continue;
    await section(`${key}: end-to-end, 1 worker, ${m.images} images`, async () => {
      const list = uris.slice(0, m.images);
      r.e2e = await runEndToEnd({
        ...base,
        tag: `${key}-w1`,
        model: m.spec,
        manifest: await manifest(`${key}-${list.length}`, list),
        images: list.length,
        workers: 1,
        // Enough commits for a steady-state slope (it needs four or more) on small runs too.
        chunkSize: list.length >= 256 ? 32 : 16,
      });
      r.e2ePerSec = r.e2e.imagesPerSec;
      r.steadyPerSec = r.e2e.steadyImagesPerSec;
      r.fixedSeconds = r.e2e.fixedSeconds;
      if (r.combinedCeiling && r.steadyPerSec) r.efficiency = r.steadyPerSec / r.combinedCeiling;
      if (r.inferencePerSec && r.steadyPerSec) r.vsNetwork = r.steadyPerSec / r.inferencePerSec;
      if (r.peerPerSec && r.steadyPerSec) r.vsPeer = r.steadyPerSec / r.peerPerSec;
    });
  }

  const smallSpec = ALL_MODELS.small.spec;
  const scalingList = uris.slice(0, SCALING_IMAGES);
  if (!skip.has('scaling')) {
    results.scaling = [];
    for (const workers of [1, 2, 4]) {
      await section(`small: scaling, ${workers} workers, ${scalingList.length} images`, async () => {
        const e = await runEndToEnd({
          ...base,
          tag: `small-scaling-w${workers}`,
          model: smallSpec,
          manifest: await manifest('small', scalingList),
          images: scalingList.length,
          workers,
          chunkSize: 32,
        });
        results.scaling.push({
          workers,
          imagesPerSec: e.imagesPerSec,
          steadyImagesPerSec: e.steadyImagesPerSec,
          perWorkerPeakRssBytes: e.perWorker.map((w) => w.peakRssBytes),
          ...(workers === 1 ? { run: e } : {}),
        });
      });
    }
  }

  if (!skip.has('rss'))
    await section('small: RSS at 1x and 10x images', async () => {
      const list10 = Array.from({ length: 10 }, () => scalingList).flat();
      const one =
        results.scaling?.find((x) => x.workers === 1)?.run ??
        (await runEndToEnd({
          ...base,
          tag: 'small-rss1',
          model: smallSpec,
          manifest: await manifest('small', scalingList),
          images: scalingList.length,
          workers: 1,
          chunkSize: 32,
        }));
      const ten = await runEndToEnd({
        ...base,
        tag: 'small-rss10',
        model: smallSpec,
        manifest: await manifest('small10', list10),
        images: list10.length,
        workers: 1,
        chunkSize: 32,
      });
      const rss1 = one.perWorker[0].peakRssBytes;
      const rss10 = ten.perWorker[0].peakRssBytes;
      results.rss = {
        images1x: scalingList.length,
        images10x: list10.length,
        peak1xBytes: rss1,
        peak10xBytes: rss10,
        growth: rss10 / rss1 - 1,
        imagesPerSec10x: ten.imagesPerSec,
        eventLoop10x: ten.perWorker[0].eventLoopDelayMs,
      };
    });
  for (const x of results.scaling ?? []) delete x.run;

  if (!skip.has('enqueue'))
    await section(`enqueue ${ENQUEUE_LINES} URIs (no workers)`, async () => {
      const lines = Array.from(
        { length: ENQUEUE_LINES },
        (_, i) => `s3://bench-in/many/img-${String(i).padStart(7, '0')}.jpg`,
      );
      const file = await manifest('enqueue', lines);
      const q = openQueue(redis.url, 'bench-enqueue', s3);
      try {
        const memory = async () => Number((await q.redis.info('memory')).match(/used_memory:(\d+)/)?.[1]);
        const before = await memory();
        const started = performance.now();
        const run = await submitRun(
          { sources: [file], out: 's3://bench-out/runs', runId: 'enqueue', ...ALL_MODELS.small.spec },
          { queue: q.queue, runStore: q.runStore, s3 },
        );
        const seconds = (performance.now() - started) / 1000;
        const after = await memory();
        results.enqueue = {
          uris: ENQUEUE_LINES,
          chunks: run.totalChunks,
          seconds,
          urisPerSec: ENQUEUE_LINES / seconds,
          redisBytes: after - before,
          redisBytesPerImage: (after - before) / ENQUEUE_LINES,
          redisBytesPer1000Images: ((after - before) / ENQUEUE_LINES) * 1000,
          redisBytesPerChunk: (after - before) / run.totalChunks,
        };
      } finally {
        await q.queue.obliterate({ force: true }).catch(() => undefined);
        await q.close();
      }
    });
} finally {
  s3.destroy();
  await s3server.stop();
  await redis.stop();
}

// Fixed cost of a whole small job as a user runs it: `vgg-local` (its own redis-server, a worker process, local
// files in, Parquet out) on 48 images of VGG16. Beyond model load and the 48 images at the steady-state rate
// measured above, the rest is fixed: process start-up, Redis, pipeline fill, finalisation, shutdown.
if (!skip.has('fixed'))
  for (const key of Object.keys(MODELS)) {
    await section(`${key}: vgg-local fixed cost, 48 images, median of 3`, async () => {
      const dir = path.join(cache, 'images-48');
      await ensureImages(dir, 48);
      const runs = [];
      for (let i = 0; i < 3; i++) {
        const { phases } = await measureLocalRun({ dir, model: key, extraArgs: ['--device', device] });
        runs.push(phaseDurations(phases));
      }
      const durations = Object.fromEntries(
        Object.keys(runs[0]).map((k) => [k, median(runs.map((r) => r[k]))]),
      );
      const steady = results.models[key]?.steadyPerSec;
      const atSteadyMs = steady ? (48 / steady) * 1000 : null;
      results.fixedCost ??= {};
      results.fixedCost[key] = {
        images: 48,
        ...durations,
        runs,
        steadyPerSec: steady ?? null,
        inferenceAtSteadyMs: atSteadyMs,
        fixedBeyondModelLoadMs: atSteadyMs === null ? null : durations.beyondModelLoadMs - atSteadyMs,
      };
    });
  }
// Decode alone, per pipeline and photo size, at 1, 2 and all cores (bench/decode.mjs, its quick sizes).
if (!skip.has('decode'))
  await section('decode by pipeline, photo size and threads', async () => {
    const file = path.join(cache, 'decode-results.json');
    execFileSync(process.execPath, [path.join(here, 'decode.mjs'), '--quick', '--json', file], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    results.decodeByPipeline = JSON.parse(await readFile(file, 'utf8'));
  });
results.loadAverage.end = loadavg();

results.finishedAt = new Date().toISOString();
// A quick smoke run must not overwrite the figures BENCHMARKS.md quotes.
const outDir = quick ? path.join(cache, 'quick') : here;
await mkdir(outDir, { recursive: true });
await writeFile(path.join(outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
if (results.scaling?.length)
  await writeFile(
    path.join(outDir, 'scaling.svg'),
    scalingSvg(results.scaling, results.models.small ?? { label: ALL_MODELS.small.label }),
  );
printTable(results);

function printTable(res) {
  const f = (x, d = 1) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : '—');
  const fs = (ms) => (typeof ms === 'number' ? f(ms / 1000) : '—');
  console.log(
    `device ${res.device}, ${res.machine.nproc} cores, load average ${res.loadAverage.start.map((x) => x.toFixed(1)).join(' ')} at start, ${res.loadAverage.end?.map((x) => x.toFixed(1)).join(' ') ?? '—'} at end`,
  );
  const rows = [
    [
      'model',
      'images',
      'network/s',
      'worker graph ×',
      'decode/s',
      'combined/s',
      'steady e2e/s',
      '÷ combined',
      '÷ network',
      'fixed s',
      'peer/s',
      'ours ÷ peer',
      'ELD p99/max ms',
      'control p99',
      'peak RSS MB',
    ],
  ];
  for (const r of Object.values(res.models)) {
    const w = r.e2e?.perWorker?.[0];
    rows.push([
      r.label,
      String(r.images),
      f(r.inferencePerSec),
      f(r.workerGraphRatio, 3),
      f(r.decodePerSec),
      f(r.combinedCeiling),
      f(r.steadyPerSec),
      f(r.efficiency, 2),
      f(r.vsNetwork, 2),
      f(r.fixedSeconds),
      f(r.peerPerSec),
      f(r.vsPeer, 2),
      w ? `${w.eventLoopDelayMs.p99}/${w.eventLoopDelayMs.max}` : '—',
      r.e2e?.eventLoopControlMs ? String(r.e2e.eventLoopControlMs.p99) : '—',
      w ? f(w.peakRssBytes / 2 ** 20, 0) : '—',
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join(' | '));
  for (const [key, c] of Object.entries(res.fixedCost ?? {}))
    console.log(
      `vgg-local, ${key}, 48 images (median of 3): ${fs(c.totalMs)} s in all; first chunk at ${fs(c.toFirstChunkMs)} s, model load ${fs(c.modelLoadMs)} s, finalised ${fs(c.lastChunkToFinalizedMs)} s after the last chunk, exit ${fs(c.lastChunkToExitMs)} s after it; fixed beyond model load and 48 images at the steady rate: ${fs(c.fixedBeyondModelLoadMs)} s`,
    );
  if (res.scaling)
    console.log(
      'scaling (small):',
      res.scaling.map((s) => `${s.workers}w ${f(s.imagesPerSec)}/s`).join(', '),
    );
  if (res.rss)
    console.log(
      `RSS: ${f(res.rss.peak1xBytes / 2 ** 20, 0)} MB at ${res.rss.images1x}, ${f(res.rss.peak10xBytes / 2 ** 20, 0)} MB at ${res.rss.images10x} (+${f(res.rss.growth * 100)}%)`,
    );
  if (res.enqueue)
    console.log(
      `enqueue: ${f(res.enqueue.urisPerSec, 0)} URIs/s, Redis ${f(res.enqueue.redisBytesPerImage)} B/image, ${f(res.enqueue.redisBytesPerChunk, 0)} B/chunk`,
    );
  if (res.errors.length) console.log('errors:', res.errors);
}
