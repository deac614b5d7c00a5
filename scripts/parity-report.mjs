#!/usr/bin/env node
// How far each preprocessing pipeline is from torchvision's, on the parity corpus
// (packages/vgg-core/test-fixtures/parity, references made by scripts/parity_reference.py).
//
//   node scripts/parity-report.mjs                # distribution table (markdown), both pipelines, fc7 error
//   node scripts/parity-report.mjs --per-file     # plus one line per file
//   node scripts/parity-report.mjs --json out.json
//   node scripts/parity-report.mjs --no-fc7       # pixels only (no model)
//
// Pixel deviation: mean and max absolute difference of the 224x224x3 crop from the reference, in 0..255 levels.
// fc7 relative error: ||fc7(fast) - fc7(torchvision)|| / ||fc7(torchvision)|| on VGG16. No pretrained weights can be
// downloaded here, so the network is the seeded (untrained) VGG16 unless --weights names a torchvision state_dict
// (safetensors); the report says which.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { decodeImage, InferenceEngine, prepareModel, resolvePreprocessOptions } from 'vgg-core';

const { values } = parseArgs({
  options: {
    'per-file': { type: 'boolean', default: false },
    json: { type: 'string' },
    fc7: { type: 'boolean', default: true },
    'no-fc7': { type: 'boolean', default: false },
    weights: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(
    readFileSync(new URL(import.meta.url), 'utf8')
      .split('\n')
      .slice(1, 14)
      .join('\n') + '\n',
  );
  process.exit(0);
}

const fixtures = new URL('../packages/vgg-core/test-fixtures/', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('parity/manifest.json', fixtures), 'utf8'));
const entries = manifest.entries.filter((e) => e.ref !== undefined && e.expectError === undefined);
const pipelines = {
  torchvision: resolvePreprocessOptions(),
  fast: resolvePreprocessOptions({ pipeline: 'fast' }),
};

function diff(a, b) {
  let sum = 0;
  let max = 0;
  for (let i = 0; i < a.length; i += 1) {
    const d = Math.abs(a[i] - b[i]);
    sum += d;
    if (d > max) max = d;
  }
  return { mean: sum / a.length, max };
}

const rows = [];
for (const entry of entries) {
  const bytes = new Uint8Array(readFileSync(new URL(entry.file, fixtures)));
  const ref = await sharp(readFileSync(new URL(entry.ref, fixtures)), { ignoreIcc: true })
    .raw()
    .toBuffer();
  const row = { file: entry.file, kind: entry.kind, crops: {} };
  for (const [name, options] of Object.entries(pipelines)) {
    const { pixels } = await decodeImage(bytes, options);
    row.crops[name] = pixels;
    row[name] = diff(pixels, ref);
  }
  rows.push(row);
}

let model = null;
if (values.fc7 && !values['no-fc7']) {
  const prepared = await prepareModel(
    values.weights ? { model: 'vgg16', weightsPath: values.weights } : { model: 'vgg16' },
  );
  model = prepared.identity;
  const engine = await InferenceEngine.create({ model: prepared });
  try {
    const request = { topK: 0, taps: ['fc7'], l2Normalize: false, dtype: 'float32' };
    for (let i = 0; i < rows.length; i += 8) {
      const batch = rows.slice(i, i + 8);
      const fc7 = {};
      for (const name of Object.keys(pipelines)) {
        // The engine takes the buffers; give it copies.
        const result = await engine.run(
          batch.map((r) => r.crops[name].slice()),
          request,
        );
        fc7[name] = result.embeddings.fc7;
      }
      batch.forEach((row, k) => {
        const { dim } = fc7.torchvision;
        const a = fc7.torchvision.data.subarray(k * dim, (k + 1) * dim);
        const b = fc7.fast.data.subarray(k * dim, (k + 1) * dim);
        let num = 0;
        let den = 0;
        for (let j = 0; j < dim; j += 1) {
          num += (b[j] - a[j]) ** 2;
          den += a[j] ** 2;
        }
        row.fc7RelativeError = den === 0 ? (num === 0 ? 0 : Number.POSITIVE_INFINITY) : Math.sqrt(num / den);
      });
    }
  } finally {
    await engine.close();
  }
}

const quantiles = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))];
  return { min: s[0], median: q(0.5), p90: q(0.9), max: s[s.length - 1] };
};
const fmt = (v, digits = 3) => (Number.isInteger(v) ? String(v) : v.toFixed(digits));
const out = [];
out.push(
  `Parity corpus: ${rows.length} files with references (${manifest.entries.length} in the manifest), ` +
    `references by Pillow ${manifest.versions.pillow} + torchvision ${manifest.versions.torchvision}.`,
);
out.push('');
out.push(
  '| pipeline | per-file mean abs diff: min / median / p90 / max | per-file max abs diff: min / median / p90 / max | files exact | files within 1 |',
);
out.push('|---|---|---|---|---|');
for (const name of Object.keys(pipelines)) {
  const means = quantiles(rows.map((r) => r[name].mean));
  const maxes = quantiles(rows.map((r) => r[name].max));
  const exact = rows.filter((r) => r[name].max === 0).length;
  const within1 = rows.filter((r) => r[name].max <= 1).length;
  out.push(
    `| ${name} | ${[means.min, means.median, means.p90, means.max].map((v) => fmt(v)).join(' / ')} | ` +
      `${[maxes.min, maxes.median, maxes.p90, maxes.max].join(' / ')} | ${exact} of ${rows.length} | ${within1} of ${rows.length} |`,
  );
}
if (model !== null) {
  const errors = quantiles(rows.map((r) => r.fc7RelativeError));
  out.push('');
  out.push(
    `fc7 relative error of fast vs torchvision (${model.variant}, ${model.untrained ? `seeded untrained weights, seed ${model.seed}` : 'weights ' + model.weightsSha256.slice(0, 12)}): ` +
      `min ${fmt(errors.min, 4)}, median ${fmt(errors.median, 4)}, p90 ${fmt(errors.p90, 4)}, max ${fmt(errors.max, 4)}.`,
  );
}
const notExact = rows.filter((r) => r.torchvision.max > 0);
if (notExact.length > 0) {
  out.push('');
  out.push(
    `torchvision pipeline, files not bit-identical: ${notExact.map((r) => `${r.file} (mean ${fmt(r.torchvision.mean)}, max ${r.torchvision.max})`).join('; ')}.`,
  );
}
if (values['per-file']) {
  out.push('');
  out.push('| file | kind | torchvision mean / max | fast mean / max | fc7 rel. error |');
  out.push('|---|---|---|---|---|');
  for (const r of rows) {
    out.push(
      `| ${r.file} | ${r.kind} | ${fmt(r.torchvision.mean)} / ${r.torchvision.max} | ${fmt(r.fast.mean)} / ${r.fast.max} | ${r.fc7RelativeError === undefined ? '' : fmt(r.fc7RelativeError, 4)} |`,
    );
  }
}
process.stdout.write(out.join('\n') + '\n');
if (values.json) {
  const json = rows.map(({ crops, ...rest }) => rest);
  writeFileSync(values.json, JSON.stringify({ model, versions: manifest.versions, rows: json }, null, 1));
}
