// Deterministic synthetic photos: smooth gradients and waves plus per-pixel noise, so JPEGs land between ~100 KB
// and ~2 MB like real photos instead of compressing to a few KB.
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';

function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

async function makeImage(file, index) {
  const r = rng(index * 7919 + 13);
  const width = 800 + Math.floor(r() * 1200);
  const height = Math.round(width * (0.6 + r() * 0.5));
  const noise = 12 + r() * 44;
  const fx = 2 + r() * 10;
  const fy = 2 + r() * 10;
  const base = [r() * 255, r() * 255, r() * 255];
  const raw = Buffer.alloc(width * height * 3);
  let o = 0;
  for (let y = 0; y < height; y++) {
    const v = y / height;
    for (let x = 0; x < width; x++) {
      const u = x / width;
      const wave = 60 * Math.sin(u * fx * Math.PI + v * 3) * Math.cos(v * fy * Math.PI);
      for (let c = 0; c < 3; c++) {
        const g = (base[c] ?? 0) * (1 - u) + 255 * v * (c === 1 ? 0.5 : 1) * u;
        raw[o++] = Math.max(0, Math.min(255, g + wave * (c === 2 ? -1 : 1) + (r() - 0.5) * noise));
      }
    }
  }
  await sharp(raw, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 80 + Math.floor(r() * 12) })
    .toFile(file);
}

/** Photos generated for real; beyond this, files are byte-distinct copies of them (see ensureImages). */
export const DISTINCT_PHOTOS = 300;

/**
 * A copy of a JPEG with a comment segment (COM) after SOI naming `index`: the same pixels and the same decode cost,
 * but other bytes, so the worker's sha256 dedup cache infers it again as it would a new photo.
 */
function distinctCopy(jpeg, index) {
  const text = Buffer.from(`vgg bench copy ${index}`);
  const segment = Buffer.alloc(4 + text.length);
  segment.writeUInt16BE(0xfffe, 0);
  segment.writeUInt16BE(2 + text.length, 2);
  text.copy(segment, 4);
  return Buffer.concat([jpeg.subarray(0, 2), segment, jpeg.subarray(2)]);
}

/**
 * Ensures `count` images exist in `dir` (made once, then reused); returns their paths and total bytes. The first
 * DISTINCT_PHOTOS are generated (slow: seconds each on a busy machine); the rest are distinct copies of them.
 */
export async function ensureImages(dir, count) {
  await mkdir(dir, { recursive: true });
  const have = new Set(await readdir(dir));
  const files = [];
  for (let i = 0; i < count; i++) {
    const name = `img-${String(i).padStart(5, '0')}.jpg`;
    const file = path.join(dir, name);
    if (!have.has(name)) {
      if (i < DISTINCT_PHOTOS) await makeImage(file, i);
      else await writeFile(file, distinctCopy(await readFile(files[i % DISTINCT_PHOTOS]), i));
    }
    files.push(file);
  }
  let bytes = 0;
  for (const f of files) bytes += (await stat(f)).size;
  return { files, bytes };
}
