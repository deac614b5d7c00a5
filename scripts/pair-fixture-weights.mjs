#!/usr/bin/env node
// Writes the seeded weights the pair/Gram reference fixtures were made with (vgg16, classifier width 16, seed 0;
// only the features matter), for scripts/pair_reference.py. Usage: node scripts/pair-fixture-weights.mjs OUT.safetensors
import { copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareModel } from 'vgg-core';

const out = process.argv[2];
if (!out) {
  console.error('usage: node scripts/pair-fixture-weights.mjs OUT.safetensors');
  process.exit(2);
}
const model = await prepareModel({
  model: 'vgg16',
  classifierWidth: 16,
  inputSize: 64,
  outputs: ['relu1_2'],
  cacheDir: join(tmpdir(), 'vgg-core-cache'),
});
await copyFile(model.weightsPath, out);
console.log(`${out}: sha256 ${model.identity.weightsSha256}`);
