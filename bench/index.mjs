// `npm run bench:index` (or `node bench/index.mjs [--vectors 100000] [--dim 4096] [--queries 1000] [--real DIR]`):
// vgg-index on a synthetic run of fc7-like vectors (scale) and, with --real, on a real run's fc7 (recall).
// Measures build vectors/s per quantisation (against usearch alone on the same vectors in memory), recall@10
// against exact brute force, query p50/p99, bytes per vector and peak memory. Results: bench/index-results.json.
import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildIndex, IndexReader, openIndexedRun, openRun, usearchVersion, vectorsOfRows } from 'vgg-index';
import {
  buildManifest,
  encodeParquetShard,
  LocalObjectStore,
  MANIFEST_KEY,
  serializeManifest,
  shardKeyFor,
} from 'vgg-pipeline';
import { peakRssBytes } from './peak-rss.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const VECTORS = Number(arg('vectors', '100000'));
const DIM = Number(arg('dim', '4096'));
const QUERIES = Number(arg('queries', '1000'));
const THREADS = Number(arg('threads', String(availableParallelism())));
const REAL = arg('real', undefined);
const cache = path.join(here, '.cache', 'index');
const noS3 = {
  s3: () => {
    throw new Error('this benchmark uses local files only');
  },
};
const log = (...a) => console.error(new Date().toISOString().slice(11, 19), ...a);
const usearch = createRequire(import.meta.url)('usearch');

// ---- child: one build in its own process, so peak RSS belongs to it alone ----
if (process.argv[2] === '--child-build') {
  const options = JSON.parse(process.argv[3]);
  const started = performance.now();
  const { manifest } = await buildIndex({ ...options, threads: THREADS, overwrite: true }, noS3);
  const seconds = (performance.now() - started) / 1000;
  const bytes = manifest.parts.reduce((s, p) => s + p.indexBytes, 0);
  process.stdout.write(
    JSON.stringify({
      seconds,
      vectors: manifest.counts.vectors,
      bytes,
      maxRssBytes: peakRssBytes(),
    }),
  );
  process.exit(0);
}

function buildInChild(options) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        fileURLToPath(import.meta.url),
        '--child-build',
        JSON.stringify(options),
        '--threads',
        String(THREADS),
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`build exited with ${code}`)),
    );
  });
}

// ---- synthetic fc7-like vectors: post-ReLU Gaussian clusters ----
function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function fc7Like(n, dim, seed, centres) {
  const r = random(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
  const clusters = centres.length / dim;
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(r() * clusters) * dim;
    for (let j = 0; j < dim; j++) out[i * dim + j] = Math.max(0, centres[c + j] + 0.6 * gauss());
  }
  return out;
}

function centresFor(dim, clusters) {
  const r = random(7);
  return Float32Array.from(
    { length: clusters * dim },
    () => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r()),
  );
}

async function writeRun(dir, vectors, dim) {
  const store = new LocalObjectStore({ dir });
  const n = vectors.length / dim;
  const chunk = 1000;
  const shards = [];
  for (let start = 0, index = 0; start < n; start += chunk, index++) {
    const rows = Math.min(chunk, n - start);
    const uris = Array.from({ length: rows }, (_, i) => `s3://bench/img-${start + i}.jpg`);
    const key = shardKeyFor(index);
    await store.put(
      key,
      await encodeParquetShard({
        uri: uris,
        status: uris.map(() => 'ok'),
        error: uris.map(() => null),
        width: uris.map(() => 1),
        height: uris.map(() => 1),
        sha256: uris.map((u) => u),
        topK: { k: 1, classIds: new Int32Array(rows), probs: new Float32Array(rows), labels: ['synthetic'] },
        embeddings: [
          { tap: 'fc7', dim, dtype: 'float32', data: vectors.subarray(start * dim, (start + rows) * dim) },
        ],
        metadata: {},
      }),
    );
    shards.push({ key, chunkIndex: index, rows, ok: rows, error: 0, errorsByReason: {} });
  }
  const manifest = buildManifest({
    runId: path.basename(dir),
    createdAt: new Date(),
    model: {
      variant: 'synthetic',
      source: 'seeded',
      weightsSha256: '0'.repeat(64),
      untrained: true,
      seed: 0,
      providers: [],
    },
    preprocessing: {},
    taps: [{ name: 'fc7', dim, dtype: 'float32' }],
    topK: 1,
    inputs: n,
    shards,
  });
  await store.put(MANIFEST_KEY, serializeManifest(manifest));
}

/** Exact top-k ids for each query (usearch's brute-force scan in f32, multithreaded). */
function exactTopK(data, queries, dim, k, metric) {
  const result = usearch.exactSearch(data, queries, dim, k, metric, THREADS);
  const n = queries.length / dim;
  return Array.from({ length: n }, (_, q) => Array.from(result.keys.subarray(q * k, q * k + k), Number));
}

function recallAt(found, truth) {
  let hits = 0;
  let total = 0;
  found.forEach((list, q) => {
    const want = new Set(truth[q]);
    total += want.size;
    for (const n of list) if (want.has(n.id)) hits++;
  });
  return hits / total;
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Recall@10 at several ef values, and single-query latency (threads 1, k 10) at the default ef. */
async function measureQueries(indexDir, queries, truth, efs) {
  const out = { recallAt10: {}, latencyMs: null };
  for (const ef of efs) {
    const reader = await IndexReader.open(indexDir, { expansionSearch: ef, threads: THREADS }, noS3);
    const found = await reader.search(reader.prepareQueries(queries), 10);
    out.recallAt10[ef] = recallAt(found, truth);
    reader.close();
  }
  const reader = await IndexReader.open(indexDir, { threads: 1 }, noS3);
  const times = [];
  const dim = reader.dim;
  const n = queries.length / dim;
  for (let q = 0; q < n; q++) {
    const one = reader.prepareQueries(queries.subarray(q * dim, (q + 1) * dim));
    const t = performance.now();
    await reader.search(one, 10);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  out.latencyMs = {
    p50: percentile(times, 50),
    p99: percentile(times, 99),
    mean: times.reduce((a, b) => a + b, 0) / n,
  };
  reader.close();
  return out;
}

/** Raw usearch insertion of the same vectors from memory: the ceiling of a build (no shards, no sidecar). */
function usearchCeiling(vectors, dim, quantization) {
  const index = new usearch.Index({
    dimensions: dim,
    metric: 'cos',
    quantization,
    connectivity: 16,
    expansion_add: 128,
    expansion_search: 64,
    multi: false,
  });
  const n = vectors.length / dim;
  const keys = BigUint64Array.from({ length: n }, (_, i) => BigInt(i));
  const t = performance.now();
  for (let i = 0; i < n; i += 1024)
    index.add(keys.subarray(i, i + 1024), vectors.subarray(i * dim, Math.min(n, i + 1024) * dim), THREADS);
  return n / ((performance.now() - t) / 1000);
}

const results = {
  startedAt: new Date().toISOString(),
  machine: {
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  },
  loadAverageAtStart: loadavg(),
  threads: THREADS,
  usearch: usearchVersion(),
};

await mkdir(cache, { recursive: true });
// ---- synthetic: scale (--vectors 0 skips it) ----
if (VECTORS > 0) {
  const label = `synthetic-${VECTORS}x${DIM}`;
  const runDir = path.join(cache, label);
  log(`generating ${VECTORS} × ${DIM} fc7-like vectors`);
  const centres = centresFor(DIM, Math.max(10, Math.round(VECTORS / 100)));
  const vectors = fc7Like(VECTORS, DIM, 1, centres);
  const queries = fc7Like(QUERIES, DIM, 2, centres);
  const existing = await openRun(runDir, noS3).catch(() => null);
  if (existing?.manifest.totals.ok !== VECTORS) {
    await rm(runDir, { recursive: true, force: true });
    await writeRun(runDir, vectors, DIM);
  }
  log('exact ground truth');
  const truth = exactTopK(vectors, queries, DIM, 10, 'cos');
  const t = performance.now();
  exactTopK(vectors, queries.subarray(0, 100 * DIM), DIM, 10, 'cos');
  const bruteMsPerQuery = (performance.now() - t) / 100;
  results.synthetic = {
    vectors: VECTORS,
    dim: DIM,
    queries: QUERIES,
    bruteForceMsPerQuery: bruteMsPerQuery,
    builds: {},
  };
  for (const quantization of ['f16', 'f32', 'i8']) {
    const out = path.join(cache, `${label}-${quantization}`);
    log(`build ${quantization}`);
    const build = await buildInChild({ run: runDir, tap: 'fc7', out, quantization });
    log(`  ${build.vectors} vectors in ${build.seconds.toFixed(1)} s; measuring queries`);
    const queriesResult = await measureQueries(out, queries, truth, [16, 32, 64, 128]);
    results.synthetic.builds[quantization] = {
      seconds: build.seconds,
      vectorsPerSecond: build.vectors / build.seconds,
      bytesPerVector: build.bytes / build.vectors,
      peakRssMiB: build.maxRssBytes / 2 ** 20,
      ...queriesResult,
      latencyVsBruteForce: bruteMsPerQuery / queriesResult.latencyMs.p50,
    };
    log(`  ${JSON.stringify(results.synthetic.builds[quantization])}`);
  }
  log('usearch alone (f16, in memory)');
  results.synthetic.usearchAloneF16VectorsPerSecond = usearchCeiling(vectors, DIM, 'f16');
  results.synthetic.buildEfficiencyF16 =
    results.synthetic.builds.f16.vectorsPerSecond / results.synthetic.usearchAloneF16VectorsPerSecond;
}

// ---- a real run's fc7: recall ----
if (REAL) {
  const run = await openRun(REAL, noS3);
  const tap = run.manifest.taps.find((t) => t.name === 'fc7');
  if (!tap) throw new Error(`${REAL} has no fc7 tap`);
  log(`real run ${run.manifest.runId}: ${run.manifest.totals.ok} ok rows`);
  results.real = {
    runId: run.manifest.runId,
    untrained: run.manifest.model.untrained,
    model: run.manifest.model.variant,
    builds: {},
  };
  for (const quantization of ['f16', 'f32', 'i8']) {
    const out = path.join(cache, `real-${run.manifest.runId}-${quantization}`);
    const build = await buildInChild({ run: REAL, tap: 'fc7', out, quantization });
    // Every indexed vector is a query; the ground truth is the exact scan over the same vectors.
    const reader = await IndexReader.open(out, {}, noS3);
    const rows = [];
    for (const part of reader.manifest.parts) rows.push(...(await reader.partRows(part)));
    const vectors = await vectorsOfRows(await openIndexedRun(reader.manifest, noS3), reader.manifest, rows);
    reader.close();
    const truth = exactTopK(vectors, vectors, tap.dim, 10, 'cos');
    const measured = await measureQueries(out, vectors, truth, [16, 64]);
    results.real.builds[quantization] = {
      vectors: build.vectors,
      seconds: build.seconds,
      bytesPerVector: build.bytes / build.vectors,
      ...measured,
    };
    log(`  real ${quantization}: ${JSON.stringify(results.real.builds[quantization])}`);
  }
}

results.loadAverageAtEnd = loadavg();
results.finishedAt = new Date().toISOString();
await writeFile(path.join(here, 'index-results.json'), `${JSON.stringify(results, null, 2)}\n`);
console.log(JSON.stringify(results, null, 2));
