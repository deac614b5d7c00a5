// Pairs scored at the images' own size (decode geometry 'native': no Resize, no CenterCrop) against the float64 torch
// reference of scripts/pair_native_reference.py (fixtures in test-fixtures/pairs, 96×80 images, not the model's 64).
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InferenceEngine } from '../inference-engine.js';
import { prepareModel } from '../prepare-model.js';
import { decodeImage } from '../preprocess-decode.js';
import { resolvePreprocessOptions } from '../preprocess-options.js';
import { MIN_NATIVE_SIDE } from './pair-head.js';
import { maxRelativeError } from '../testing/relative-error.js';

const FIXTURES = resolve(fileURLToPath(import.meta.url), '../../../test-fixtures/pairs');
const TOLERANCE = 1e-4;

interface NativeReference {
  model: { model: string; classifierWidth: number; inputSize: number; seed: number; weightsSha256: string };
  sizes: Record<string, [number, number]>;
  pairs: { a: string; b: string; plain: Record<string, number>; learned: Record<string, number> }[];
}

const reference = JSON.parse(
  await readFile(join(FIXTURES, 'native-reference.json'), 'utf8'),
) as NativeReference;
const { weightsSha256: _sha, ...modelOptions } = reference.model;
const cropped = resolvePreprocessOptions({ cropSize: reference.model.inputSize });
const native = { ...cropped, geometry: 'native' as const };

describe("pairs at the images' own size (geometry 'native') against the torch reference", () => {
  const engines = new Map<'plain' | 'learned', InferenceEngine>();
  const images = new Map<string, { width: number; height: number; pixels: Uint8Array }>();

  beforeAll(async () => {
    for (const name of Object.keys(reference.sizes)) {
      const bytes = new Uint8Array(await readFile(join(FIXTURES, `${name}.png`)));
      images.set(name, await decodeImage(bytes, native));
    }
    for (const kind of ['plain', 'learned'] as const) {
      const model = await prepareModel({
        ...modelOptions,
        cacheDir: join(tmpdir(), 'vgg-core-cache'),
        pair: kind === 'learned' ? { lpipsWeightsPath: join(FIXTURES, 'lpips-lin.safetensors') } : {},
      });
      expect(model.identity.weightsSha256).toBe(reference.model.weightsSha256);
      engines.set(kind, await InferenceEngine.create({ model, intraOpNumThreads: 1 }));
    }
  }, 120_000);
  afterAll(async () => {
    await Promise.all([...engines.values()].map((engine) => engine.close()));
  });

  it('decodes the whole image, neither resized nor cropped', () => {
    for (const [name, [width, height]] of Object.entries(reference.sizes)) {
      const image = images.get(name)!;
      expect([image.width, image.height]).toEqual([width, height]);
      expect(image.pixels.length).toBe(width * height * 3);
    }
  });

  for (const kind of ['plain', 'learned'] as const) {
    it(`matches every ${kind} score of every pair at 96x80 to 1e-4 relative`, async () => {
      const { width, height } = images.get('a')!;
      const a = reference.pairs.map((p) => images.get(p.a)!.pixels.slice());
      const b = reference.pairs.map((p) => images.get(p.b)!.pixels.slice());
      const { columns, values } = await engines.get(kind)!.runPairs(a, b, { width, height });
      const actual: number[] = [];
      const expected: number[] = [];
      reference.pairs.forEach((pair, i) => {
        columns.forEach((column, j) => {
          actual.push(values[i * columns.length + j]!);
          expected.push(pair[kind][column]!);
        });
      });
      const error = maxRelativeError(actual, expected);
      console.log(`native pairs (${kind}): max relative error vs torch float64 ${error.toExponential(2)}`);
      expect(error).toBeLessThan(TOLERANCE);
      const same = reference.pairs.findIndex((p) => p.a === p.b);
      expect(Array.from(values.subarray(same * columns.length, (same + 1) * columns.length))).toEqual(
        columns.map(() => 0),
      );
    });
  }

  it(`scores images as small as ${MIN_NATIVE_SIDE}x${MIN_NATIVE_SIDE} and refuses smaller ones`, async () => {
    const engine = engines.get('plain')!;
    const side = MIN_NATIVE_SIDE;
    const a = Uint8Array.from({ length: side * side * 3 }, (_, i) => (i * 37) % 256);
    const b = Uint8Array.from({ length: side * side * 3 }, (_, i) => (i * 11) % 256);
    const result = await engine.runPairs([a], [b], { width: side, height: side });
    expect(result.values[0]).toBeGreaterThan(0);
    const small = new Uint8Array((side - 1) * side * 3);
    await expect(
      engine.runPairs([small], [small.slice()], { width: side - 1, height: side }),
    ).rejects.toThrow(`Expected integer of at least ${side} for size.width but received ${side - 1}`);
  });

  it('refuses the fast pipeline with native geometry', async () => {
    const bytes = new Uint8Array(await readFile(join(FIXTURES, 'a.png')));
    await expect(decodeImage(bytes, { ...native, pipeline: 'fast' })).rejects.toThrow(/for pipeline/);
  });
});
