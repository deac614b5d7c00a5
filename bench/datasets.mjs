// Datasets benchmark: the same images stored three ways on a loopback S3 server (fauxqs) and run through the real
// pipeline (producer -> Redis/BullMQ -> one worker process -> Parquet on S3):
//   1. individual S3 objects under a prefix (one GET per image);
//   2. WebDataset tar shards (one GET per shard), with .json and .txt siblings as img2dataset writes them;
//   3. a Parquet URL manifest (img2dataset-style, http URLs of the same objects, read by byte ranges).
// Measures images/s, S3 requests per image (every request the S3 server saw, and GETs alone) and the worker's
// peak RSS. Usage: node bench/datasets.mjs [--images 3000] [--shards 30] [--chunk-size 100]
// Results go to bench/datasets-results.json and print as a Markdown table for BENCHMARKS.md.
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import pLimit from 'p-limit';
import { Compression, Table as WasmTable, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm';
import sharp from 'sharp';
import { create as createTar } from 'tar';
import { createS3Client } from 'vgg-pipeline';
import { runEndToEnd } from './e2e.mjs';
import { startRedis, startS3 } from './servers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const IMAGES = arg('images', 3000);
const SHARDS = arg('shards', 30);
const CHUNK_SIZE = arg('chunk-size', 100);
const MODEL = { model: '[16,M,32,M,64,M]', seed: 1, classifierWidth: 256 };
const BUCKET = 'bench';

/** img2dataset's default output: 256x256 JPEGs. Gradients plus noise, so they are not trivially small. */
async function ensureImages(dir, count) {
  await mkdir(dir, { recursive: true });
  const have = new Set(await readdir(dir));
  const limit = pLimit(4);
  const names = Array.from({ length: count }, (_, i) => `${String(i).padStart(6, '0')}.jpg`);
  await Promise.all(
    names.map((name, i) =>
      limit(async () => {
        if (have.has(name)) return;
        const base = sharp({
          create: {
            width: 256,
            height: 256,
            channels: 3,
            background: { r: (i * 37) % 256, g: (i * 91) % 256, b: (i * 53) % 256 },
            noise: { type: 'gaussian', mean: 128, sigma: 20 + (i % 30) },
          },
        });
        await base.jpeg({ quality: 85 }).toFile(path.join(dir, name));
      }),
    ),
  );
  return names;
}

function machine() {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadavg: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

async function main() {
  const work = path.join(tmpdir(), 'vgg-bench-datasets');
  const imagesDir = path.join(work, 'images');
  const names = await ensureImages(imagesDir, IMAGES);
  const redis = await startRedis();
  const s3Server = await startS3();
  let counts = {};
  s3Server.attach((method) => {
    counts[method] = (counts[method] ?? 0) + 1;
  });
  const s3Counter = {
    reset: () => {
      counts = {};
    },
    snapshot: () => ({ ...counts }),
  };
  const env = {
    REDIS_URL: redis.url,
    AWS_ENDPOINT_URL_S3: s3Server.endpoint,
    S3_FORCE_PATH_STYLE: 'true',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
  };
  Object.assign(process.env, env);
  const s3 = createS3Client({
    endpoint: s3Server.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  });
  const results = {
    startedAt: new Date().toISOString(),
    machine: machine(),
    images: IMAGES,
    shards: SHARDS,
    chunkSize: CHUNK_SIZE,
    model: MODEL,
    layouts: {},
  };
  try {
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const limit = pLimit(16);
    // 1. Individual objects.
    await Promise.all(
      names.map((name) =>
        limit(async () =>
          s3.send(
            new PutObjectCommand({
              Bucket: BUCKET,
              Key: `objects/${name}`,
              Body: await readFile(path.join(imagesDir, name)),
            }),
          ),
        ),
      ),
    );
    // 2. Tar shards, each sample an image with .json and .txt siblings, made with node-tar.
    const perShard = Math.ceil(IMAGES / SHARDS);
    const sidecars = path.join(work, `sidecars-${IMAGES}`);
    await mkdir(sidecars, { recursive: true });
    let shardBytes = 0;
    for (let s = 0; s < SHARDS; s++) {
      const members = [];
      for (const name of names.slice(s * perShard, (s + 1) * perShard)) {
        const key = name.replace('.jpg', '');
        await writeFile(path.join(sidecars, `${key}.json`), JSON.stringify({ key, caption: `image ${key}` }));
        await writeFile(path.join(sidecars, `${key}.txt`), `image ${key}`);
        await copyFile(path.join(imagesDir, name), path.join(sidecars, name));
        members.push(name, `${key}.json`, `${key}.txt`);
      }
      const file = path.join(work, `${String(s).padStart(5, '0')}.tar`);
      await createTar({ file, cwd: sidecars, portable: true }, members);
      const body = await readFile(file);
      shardBytes += body.length;
      await s3.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: `shards/${path.basename(file)}`, Body: body }),
      );
    }
    // 3. A Parquet URL manifest of the objects' http URLs (fauxqs serves path-style GETs), written by parquet-wasm.
    const urls = names.map((name) => `${s3Server.endpoint}/${BUCKET}/objects/${name}`);
    const table = tableFromArrays({ url: urls, caption: names.map((n) => `image ${n}`) });
    const manifest = writeParquet(
      WasmTable.fromIPCStream(tableToIPC(table, 'stream')),
      new WriterPropertiesBuilder().setCompression(Compression.ZSTD).build(),
    );
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'manifests/urls.parquet', Body: manifest }));
    const warmList = path.join(work, 'warm.txt');
    await writeFile(
      warmList,
      names
        .slice(0, 16)
        .map((n) => path.join(imagesDir, n))
        .join('\n'),
    );

    const last = String(SHARDS - 1).padStart(5, '0');
    const layouts = {
      objects: { label: `${IMAGES} S3 objects`, source: `s3://${BUCKET}/objects/` },
      tar: {
        label: `${SHARDS} tar shards`,
        source: `s3://${BUCKET}/shards/{00000..${last}}.tar`,
        keepCols: ['caption', 'txt'],
      },
      parquet: {
        label: 'Parquet URL manifest (http)',
        source: `s3://${BUCKET}/manifests/urls.parquet`,
        keepCols: ['caption'],
      },
    };
    for (const [key, layout] of Object.entries(layouts)) {
      process.stderr.write(`${layout.label}...\n`);
      const loadBefore = loadavg()[0];
      const e = await runEndToEnd({
        redisUrl: redis.url,
        s3,
        s3Counter,
        env,
        model: { ...MODEL, ...(layout.keepCols ? { keepCols: layout.keepCols } : {}) },
        preprocess: {},
        manifest: layout.source,
        warmManifest: warmList,
        images: IMAGES,
        workers: 1,
        chunkSize: CHUNK_SIZE,
        outUri: `s3://${BUCKET}/out-${key}`,
        tag: `datasets-${key}`,
        workerOptions: { allowCidrs: ['127.0.0.1/32'] },
        timeoutMs: 1_800_000,
      });
      const requests = Object.values(e.s3RequestsPerChunk).reduce((n, v) => n + v, 0) * e.chunks;
      results.layouts[key] = {
        label: layout.label,
        imagesPerSec: e.imagesPerSec,
        seconds: e.seconds,
        ok: e.ok,
        error: e.error,
        chunks: e.chunks,
        s3Requests: Object.fromEntries(
          Object.entries(e.s3RequestsPerChunk).map(([m, v]) => [m, Math.round(v * e.chunks)]),
        ),
        s3RequestsPerImage: requests / IMAGES,
        s3GetsPerImage: ((e.s3RequestsPerChunk.GET ?? 0) * e.chunks) / IMAGES,
        workerPeakRssMiB: e.perWorker[0].peakRssBytes / 2 ** 20,
        loadavgBefore: loadBefore,
        loadavgAfter: loadavg()[0],
      };
    }
    results.tarShardBytes = shardBytes;
  } finally {
    await s3Server.stop();
    await redis.stop();
  }
  results.finishedAt = new Date().toISOString();
  await writeFile(path.join(here, 'datasets-results.json'), `${JSON.stringify(results, null, 2)}\n`);
  const rows = Object.values(results.layouts).map(
    (r) =>
      `| ${r.label} | ${r.imagesPerSec.toFixed(1)} | ${r.s3RequestsPerImage.toFixed(3)} | ${r.s3GetsPerImage.toFixed(3)} | ${r.workerPeakRssMiB.toFixed(0)} | ${r.ok}/${r.error} |`,
  );
  console.log(
    [
      '| layout | images/s | S3 requests / image (all) | S3 GETs / image | worker peak RSS (MiB) | ok/error |',
      '|---|---|---|---|---|---|',
      ...rows,
    ].join('\n'),
  );
}

await main();
