#!/usr/bin/env node
// AVIF inputs of the parity corpus that Pillow cannot write (more than 8 bits per sample) or that should come from
// another encoder than Pillow's: made with sharp's libheif + aom encoder. Run before scripts/parity_reference.py,
// which makes the other AVIF inputs with Pillow and the references of all of them.
//
//   node scripts/avif-fixtures.mjs              # writes the missing files only
//   node scripts/avif-fixtures.mjs --regenerate # rewrites them
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const fixtures = new URL('../packages/vgg-core/test-fixtures/', import.meta.url);
const photo = fileURLToPath(new URL('images/2569067123_aca715a2ee_o.jpg', fixtures));
const flowers = fileURLToPath(new URL('images/flowers.jpeg', fixtures));
const files = {
  // sharp's AVIF default is 4:4:4, so 4:2:0 is asked for.
  'photo-10bit-420.avif': () =>
    sharp(photo).resize(480).avif({ bitdepth: 10, quality: 60, chromaSubsampling: '4:2:0' }),
  'photo-12bit-420.avif': () =>
    sharp(photo).resize(480).avif({ bitdepth: 12, quality: 60, chromaSubsampling: '4:2:0' }),
  'flowers-10bit-444.avif': () =>
    sharp(flowers).resize(455).avif({ bitdepth: 10, quality: 80, chromaSubsampling: '4:4:4' }),
  'flowers-libheif-420.avif': () =>
    sharp(flowers).resize(300).avif({ quality: 80, chromaSubsampling: '4:2:0' }),
};
const regenerate = process.argv.includes('--regenerate');
for (const [name, make] of Object.entries(files)) {
  const path = fileURLToPath(new URL(`parity/files/generated/${name}`, fixtures));
  if (existsSync(path) && !regenerate) continue;
  await make().toFile(path);
  process.stdout.write(`${name}\n`);
}
