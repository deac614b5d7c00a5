import { copyFile, mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';

export interface SampleImagesOptions {
  /** Directory to write into; existing samples are reused. */
  dir: string;
  /** Generated JPEGs. Default 96. */
  count?: number;
  /** Extra files (for example a corpus of awkward real images) copied in beside the generated ones. Default none. */
  extraDir?: string;
}

/**
 * Makes a deterministic set of photo-like JPEGs (smooth gradients, shapes and grain at assorted sizes and aspect
 * ratios), so the quickstart needs no dataset download.
 */
export async function ensureSampleImages(
  options: SampleImagesOptions,
): Promise<{ dir: string; files: number }> {
  const count = options.count ?? 96;
  const generated = path.join(options.dir, 'generated');
  await mkdir(generated, { recursive: true });
  const existing = new Set(await readdir(generated));
  for (let i = 0; i < count; i++) {
    const name = `sample-${String(i).padStart(4, '0')}.jpg`;
    if (existing.has(name)) continue;
    await writeSample(path.join(generated, name), i);
  }
  if (options.extraDir && (await stat(options.extraDir).catch(() => null))?.isDirectory()) {
    const corpus = path.join(options.dir, 'corpus');
    await mkdir(corpus, { recursive: true });
    for (const entry of await readdir(options.extraDir, { withFileTypes: true })) {
      if (entry.isFile() && !/\.(md|json)$/i.test(entry.name)) {
        await copyFile(path.join(options.extraDir, entry.name), path.join(corpus, entry.name));
      }
    }
  }
  return { dir: options.dir, files: count };
}

async function writeSample(file: string, index: number): Promise<void> {
  let seed = (index + 1) * 2654435761;
  const rand = () => {
    seed = (Math.imul(seed ^ (seed >>> 15), 2246822507) + 0x6d2b79f5) >>> 0;
    return seed / 2 ** 32;
  };
  const sizes: [number, number][] = [
    [640, 480],
    [480, 640],
    [800, 600],
    [512, 512],
    [1024, 683],
    [300, 400],
  ];
  const [width, height] = sizes[index % sizes.length]!;
  const hue = () => Math.floor(rand() * 255);
  const shapes = Array.from({ length: 6 }, () => {
    const cx = Math.floor(rand() * width);
    const cy = Math.floor(rand() * height);
    const r = Math.floor(20 + rand() * Math.min(width, height) * 0.3);
    return rand() < 0.5
      ? `<circle cx="${cx}" cy="${cy}" r="${r}" fill="rgb(${hue()},${hue()},${hue()})" fill-opacity="0.8"/>`
      : `<rect x="${cx - r}" y="${cy - r}" width="${r * 2}" height="${Math.floor(r * 1.3)}" fill="rgb(${hue()},${hue()},${hue()})" fill-opacity="0.8" transform="rotate(${Math.floor(rand() * 90)} ${cx} ${cy})"/>`;
  }).join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
      <stop offset="0" stop-color="rgb(${hue()},${hue()},${hue()})"/><stop offset="1" stop-color="rgb(${hue()},${hue()},${hue()})"/>
    </linearGradient></defs>
    <rect width="100%" height="100%" fill="url(#g)"/>${shapes}</svg>`;
  await sharp(Buffer.from(svg)).jpeg({ quality: 88 }).toFile(file);
}
