// `npm run bench`: ceilings, peer, end-to-end, scaling, memory and enqueue rate in one run on this machine.
// Results: bench/results.json, bench/scaling.svg, and a table on stdout. BENCH_QUICK=1 shrinks every size and
// writes to bench/.cache/quick/ instead.
import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client, s3ClientOptionsFromEnv, submitRun } from 'vgg-pipeline';
import { decodeCeiling, inferenceCeiling, pool } from './ceilings.mjs';
import { openQueue, runEndToEnd } from './e2e.mjs';
import { ensureImages } from './images.mjs';
import { exportPeerModel, peerThroughput } from './peer.mjs';
import { startRedis, startS3 } from './servers.mjs';
import { scalingSvg } from './chart.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const cache = path.join(here, '.cache');
const quick = process.env.BENCH_QUICK === '1';
// `npm run bench -- --device cuda:0` measures a GPU host: the ceiling's session and the workers use that provider
// (the transformers.js peer stays on CPU). This machine cannot load onnxruntime's CUDA provider.
const deviceArg = process.argv.indexOf('--device');
const device = deviceArg >= 0 ? process.argv[deviceArg + 1] : 'cpu';
if (!device || !/^(cpu|auto|cuda(:\d+)?)$/.test(device)) {
  console.error(`Expected cpu, cuda, cuda:N or auto for --device but received ${JSON.stringify(device)}`);
  process.exit(2);
}
const cores = availableParallelism();
// The worker default (VggWorkerOptions.intraOpNumThreads): every core, with ORT spinning off.
const workerThreads = cores;
const batchSize = 16;
const MODELS = {
  small: {
    label: 'small [16,M,32,M,64,M] fc256 @224',
    spec: { model: '[16,M,32,M,64,M]', seed: 1, classifierWidth: 256 },
    images: quick ? 48 : 300,
  },
  vgg16: { label: 'VGG16 @224 (seeded)', spec: { model: 'vgg16', seed: 0 }, images: quick ? 16 : 64 },
};
const ENQUEUE_LINES = quick ? 20_000 : 200_000;
const results = {
  startedAt: new Date().toISOString(),
  quick,
  device,
  machine: machine(),
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

const { files: allFiles, bytes } = await ensureImages(path.join(cache, 'images'), MODELS.small.images);
results.images = { count: allFiles.length, avgBytes: Math.round(bytes / allFiles.length) };
const modelsDir = path.join(cache, 'models');

for (const [key, m] of Object.entries(MODELS)) {
  const files = allFiles.slice(0, m.images);
  const r = { label: m.label, images: files.length };
  results.models[key] = r;
  const decode = await section(`${key}: decode ceiling`, async () => {
    const runs = {};
    let best;
    for (const c of [...new Set([cores, 4])]) {
      const d = await decodeCeiling(files, c);
      runs[c] = d.imagesPerSec;
      if (!best || d.imagesPerSec > best.imagesPerSec) best = d;
    }
    r.decodePerSec = best.imagesPerSec;
    r.decodeByConcurrency = runs;
    return best;
  });
  if (!decode) continue;
  await section(`${key}: inference ceiling`, async () => {
    r.inferenceByThreads = {};
    for (const threads of [...new Set([workerThreads, 2])]) {
      const inf = await inferenceCeiling({
        device,
        model: m.spec,
        cacheDir: modelsDir,
        threads,
        batchSize,
        crops: decode.crops,
        options: decode.options,
        count: files.length,
      });
      r.inferenceByThreads[threads] = inf.imagesPerSec;
      r.prepared = inf.prepared;
    }
    r.inferencePerSec = r.inferenceByThreads[workerThreads];
    r.combinedCeiling = 1 / (1 / r.inferencePerSec + 1 / r.decodePerSec);
  });
  await section(`${key}: transformers.js peer`, async () => {
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
    await section(`${key}: end-to-end, 1 worker`, async () => {
      const list = uris.slice(0, m.images);
      r.e2e = await runEndToEnd({
        ...base,
        tag: `${key}-w1`,
        model: m.spec,
        manifest: await manifest(key, list),
        images: list.length,
        workers: 1,
        chunkSize: 32,
      });
      r.e2ePerSec = r.e2e.imagesPerSec;
      if (r.combinedCeiling) r.efficiency = r.e2ePerSec / r.combinedCeiling;
      if (r.peerPerSec) r.vsPeer = r.e2ePerSec / r.peerPerSec;
    });
  }

  const small = MODELS.small;
  results.scaling = [];
  if (results.models.small.e2e)
    results.scaling.push({ workers: 1, imagesPerSec: results.models.small.e2e.imagesPerSec });
  for (const workers of [2, 4]) {
    await section(`small: scaling, ${workers} workers`, async () => {
      const list = uris.slice(0, small.images);
      const e = await runEndToEnd({
        ...base,
        tag: `small-w${workers}`,
        model: small.spec,
        manifest: await manifest('small', list),
        images: list.length,
        workers,
        chunkSize: 32,
      });
      results.scaling.push({
        workers,
        imagesPerSec: e.imagesPerSec,
        perWorkerPeakRssBytes: e.perWorker.map((w) => w.peakRssBytes),
      });
    });
  }

  await section('small: RSS at 1x and 10x images', async () => {
    const list1 = uris.slice(0, small.images);
    const list10 = Array.from({ length: 10 }, () => list1).flat();
    const one =
      results.models.small.e2e ??
      (await runEndToEnd({
        ...base,
        tag: 'small-rss1',
        model: small.spec,
        manifest: await manifest('small', list1),
        images: list1.length,
        workers: 1,
        chunkSize: 32,
      }));
    const ten = await runEndToEnd({
      ...base,
      tag: 'small-rss10',
      model: small.spec,
      manifest: await manifest('small10', list10),
      images: list10.length,
      workers: 1,
      chunkSize: 32,
    });
    const rss1 = one.perWorker[0].peakRssBytes;
    const rss10 = ten.perWorker[0].peakRssBytes;
    results.rss = {
      images1x: list1.length,
      images10x: list10.length,
      peak1xBytes: rss1,
      peak10xBytes: rss10,
      growth: rss10 / rss1 - 1,
      imagesPerSec10x: ten.imagesPerSec,
      eventLoop10x: ten.perWorker[0].eventLoopDelayMs,
    };
  });

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
        { sources: [file], out: 's3://bench-out/runs', runId: 'enqueue', ...small.spec },
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

results.finishedAt = new Date().toISOString();
// A quick smoke run must not overwrite the figures BENCHMARKS.md quotes.
const outDir = quick ? path.join(cache, 'quick') : here;
await mkdir(outDir, { recursive: true });
await writeFile(path.join(outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
if (results.scaling?.length)
  await writeFile(path.join(outDir, 'scaling.svg'), scalingSvg(results.scaling, results.models.small));
printTable(results);

function printTable(res) {
  const f = (x, d = 1) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : '—');
  const rows = [
    [
      'model',
      'images',
      'infer/s (1t)',
      'infer/s (2t)',
      'decode/s',
      'ceiling/s',
      'e2e/s',
      'efficiency',
      'peer/s',
      'vs peer',
      'ELD p99/max ms',
      'peak RSS MB',
    ],
  ];
  for (const r of Object.values(res.models)) {
    const w = r.e2e?.perWorker?.[0];
    rows.push([
      r.label,
      String(r.images),
      f(r.inferenceByThreads?.[1]),
      f(r.inferenceByThreads?.[2]),
      f(r.decodePerSec),
      f(r.combinedCeiling),
      f(r.e2ePerSec),
      f(r.efficiency, 2),
      f(r.peerPerSec),
      f(r.vsPeer, 2),
      w ? `${w.eventLoopDelayMs.p99}/${w.eventLoopDelayMs.max}` : '—',
      w ? f(w.peakRssBytes / 2 ** 20, 0) : '—',
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join(' | '));
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
