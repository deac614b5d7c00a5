#!/usr/bin/env node
// Decode + preprocess throughput of each pipeline ('torchvision': exact PIL parity; 'fast': libvips with
// shrink-on-load), on JPEG photos of about 0.3, 3 and 12 MP, with 1, 2 and all cores' decode threads (images in
// flight), and the cores one GPU needs to be fed at --gpu-rate images/s.
//
//   node bench/decode.mjs               # full run (a minute or two on 2 cores)
//   node bench/decode.mjs --quick       # fewer images
//   node bench/decode.mjs --json out.json [--gpu-rate 2000]
//
// sharp's work runs on libuv's thread pool (UV_THREADPOOL_SIZE, default 4), shared by every decode thread; the
// worker's launcher raises it to cores + 4. This script runs with whatever the environment says (printed).
//
// The photos are made once from the edge-case corpus's 2725x2225 photo into bench/.cache/decode/. Numbers are
// images per second of decodeImage() alone (no model), after one warm-up pass; take them on a quiet machine.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { decodeImage, imageDecodeThreads, resolvePreprocessOptions } from 'vgg-core';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    'gpu-rate': { type: 'string', default: '2000' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(
    `${readFileSync(new URL(import.meta.url), 'utf8')
      .split('\n')
      .slice(1, 13)
      .join('\n')}\n`,
  );
  process.exit(0);
}

const source = new URL(
  '../packages/vgg-core/test-fixtures/images/2569067123_aca715a2ee_o.jpg',
  import.meta.url,
);
const cache = new URL('.cache/decode/', import.meta.url);
mkdirSync(cache, { recursive: true });
const sizes = [
  { name: '0.3 MP', width: 640, count: 48 },
  { name: '3 MP', width: 1920, count: 16 },
  { name: '12 MP', width: 3840, count: 6 },
];
const photos = [];
for (const size of sizes) {
  const file = new URL(`photo-${size.width}.jpg`, cache);
  if (!existsSync(file)) {
    await sharp(readFileSync(source))
      .resize({ width: size.width })
      .jpeg({ quality: 90 })
      .toFile(file.pathname);
  }
  const bytes = new Uint8Array(readFileSync(file));
  const { width, height } = await sharp(bytes).metadata();
  photos.push({ ...size, bytes, megapixels: (width * height) / 1e6, dims: `${width}x${height}` });
}

async function rate(bytes, options, threads, count) {
  imageDecodeThreads(threads);
  let next = 0;
  const lane = async () => {
    while (next < count) {
      next += 1;
      await decodeImage(bytes, options);
    }
  };
  await Promise.all(Array.from({ length: threads }, lane)); // warm-up: threads started, caches filled
  next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: threads }, lane));
  return count / ((performance.now() - started) / 1000);
}

const cores = availableParallelism();
const threadCounts = [...new Set([1, 2, cores])];
const gpuRate = Number(values['gpu-rate']);
const results = [];
const lines = [
  `| photo | pipeline | ${threadCounts.map((t) => `${t} thread${t > 1 ? 's' : ''}${t === cores ? ' (all cores)' : ''}`).join(' | ')} | cores per GPU at ${gpuRate} img/s |`,
  `|---|---|${threadCounts.map(() => '---|').join('')}---|`,
];
for (const photo of photos) {
  const count = values.quick ? Math.max(2, Math.ceil(photo.count / 4)) : photo.count;
  for (const pipeline of ['torchvision', 'fast']) {
    const options = resolvePreprocessOptions({ pipeline });
    const rates = {};
    for (const t of threadCounts) rates[t] = await rate(photo.bytes, options, t, Math.max(count, 2 * t));
    // One core's rate: the 1-thread figure (decode scales per core when the pool and libuv's pool are wide enough).
    const coresPerGpu = gpuRate / rates[1];
    results.push({ photo: photo.dims, megapixels: photo.megapixels, pipeline, rates, coresPerGpu });
    lines.push(
      `| ${photo.name} (${photo.dims}) | ${pipeline} | ${threadCounts.map((t) => rates[t].toFixed(1)).join(' | ')} | ${coresPerGpu.toFixed(0)} |`,
    );
    process.stderr.write(`${lines.at(-1)}\n`);
  }
}
process.stdout.write(
  `cores ${cores}, UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? '(unset: 4)'}, img/s per pipeline and threads\n${lines.join('\n')}\n`,
);
if (values.json)
  writeFileSync(
    values.json,
    JSON.stringify(
      { cores, uvThreadpoolSize: process.env.UV_THREADPOOL_SIZE ?? null, gpuRate, results },
      null,
      1,
    ),
  );
