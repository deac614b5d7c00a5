// vgg-core's pair head and Gram taps against references made independently by PIL, torchvision and torch in float64
// (scripts/pair_reference.py; fixtures in test-fixtures/pairs, so no Python is needed here).
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InferenceEngine } from '../inference-engine.js';
import { prepareModel } from '../prepare-model.js';
import { decodeImage } from '../preprocess-decode.js';
import { resolvePreprocessOptions } from '../preprocess-options.js';
import { gramMatrixFromUpper } from './gram.js';
import { maxRelativeError } from '../testing/relative-error.js';

const FIXTURES = resolve(fileURLToPath(import.meta.url), '../../../test-fixtures/pairs');
const TOLERANCE = 1e-4;

interface PairScores {
  perceptual_distance: number;
  feature_reconstruction_loss: number;
  [term: string]: number;
}
interface Reference {
  model: { model: string; classifierWidth: number; inputSize: number; seed: number; weightsSha256: string };
  preprocess: { resizeSize: number; cropSize: number };
  images: Record<string, string>;
  pairs: { a: string; b: string; plain: PairScores; learned: PairScores }[];
  grams: { image: string; tap: string; channels: number; offset: number; length: number }[];
}

const reference = JSON.parse(await readFile(join(FIXTURES, 'reference.json'), 'utf8')) as Reference;
const gramValues = new Float32Array((await readFile(join(FIXTURES, 'gram-reference.f32'))).buffer.slice(0));
const cacheDir = join(tmpdir(), 'vgg-core-cache');
const { weightsSha256: _sha, ...modelOptions } = reference.model;
const preprocess = resolvePreprocessOptions(reference.preprocess);

async function crops(): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const [name, file] of Object.entries(reference.images)) {
    const decoded = await decodeImage(new Uint8Array(await readFile(join(FIXTURES, file))), preprocess);
    out.set(name, decoded.pixels);
  }
  return out;
}

describe('pair head against the torch reference (scripts/pair_reference.py)', () => {
  let images: Map<string, Uint8Array>;
  const engines: InferenceEngine[] = [];
  const scores = new Map<string, { columns: string[]; values: Float32Array }>();

  beforeAll(async () => {
    images = await crops();
    for (const kind of ['plain', 'learned'] as const) {
      const model = await prepareModel({
        ...modelOptions,
        cacheDir,
        pair: kind === 'learned' ? { lpipsWeightsPath: join(FIXTURES, 'lpips-lin.safetensors') } : {},
      });
      expect(model.identity.weightsSha256).toBe(reference.model.weightsSha256);
      const engine = await InferenceEngine.create({
        model,
        preprocess: reference.preprocess,
        intraOpNumThreads: 1,
      });
      engines.push(engine);
      const a = reference.pairs.map((p) => images.get(p.a)!.slice());
      const b = reference.pairs.map((p) => images.get(p.b)!.slice());
      const result = await engine.runPairs(a, b);
      scores.set(kind, result);
    }
  }, 120_000);
  afterAll(async () => {
    await Promise.all(engines.map((engine) => engine.close()));
  });

  for (const kind of ['plain', 'learned'] as const) {
    it(`matches every ${kind} score of every pair to 1e-4 relative`, () => {
      const { columns, values } = scores.get(kind)!;
      expect(columns).toEqual([
        'perceptual_distance',
        'lpips_relu1_2',
        'lpips_relu2_2',
        'lpips_relu3_3',
        'lpips_relu4_3',
        'lpips_relu5_3',
        'feature_reconstruction_loss',
      ]);
      const actual: number[] = [];
      const expected: number[] = [];
      reference.pairs.forEach((pair, i) => {
        columns.forEach((column, j) => {
          actual.push(values[i * columns.length + j]!);
          expected.push(pair[kind][column]!);
        });
      });
      const error = maxRelativeError(actual, expected);
      console.log(`pair head (${kind}): max relative error vs torch float64 ${error.toExponential(2)}`);
      expect(error).toBeLessThan(TOLERANCE);
    });
  }

  it('scores identical images 0 and is symmetric', () => {
    const { columns, values } = scores.get('plain')!;
    const row = (a: string, b: string) => {
      const i = reference.pairs.findIndex((p) => p.a === a && p.b === b);
      return Array.from(values.subarray(i * columns.length, (i + 1) * columns.length));
    };
    expect(row('a', 'a')).toEqual(columns.map(() => 0));
    const ab = row('a', 'b');
    const ba = row('b', 'a');
    ab.forEach((value, j) => {
      expect(value).toBeGreaterThan(0);
      expect(Math.abs(value - ba[j]!) / value).toBeLessThan(1e-6);
    });
  });
});

describe('Gram taps against the torch reference', () => {
  let engine: InferenceEngine;
  let embeddings: Map<string, Record<string, Float32Array>>;
  const taps = [...new Set(reference.grams.map((g) => g.tap))];

  beforeAll(async () => {
    const model = await prepareModel({ ...modelOptions, cacheDir, outputs: taps });
    engine = await InferenceEngine.create({ model, preprocess: reference.preprocess, intraOpNumThreads: 1 });
    const images = await crops();
    const names = [...images.keys()];
    const result = await engine.run(
      names.map((name) => images.get(name)!),
      { topK: 0, taps, l2Normalize: false, dtype: 'float32' },
    );
    embeddings = new Map(
      names.map((name, i) => [
        name,
        Object.fromEntries(
          taps.map((tap) => {
            const { dim, data } = result.embeddings[tap]!;
            return [tap, (data as Float32Array).slice(i * dim, (i + 1) * dim)];
          }),
        ),
      ]),
    );
  }, 120_000);
  afterAll(async () => {
    await engine?.close();
  });

  it('matches the reference upper triangles to 1e-4 relative (normwise)', () => {
    let worst = 0;
    for (const gram of reference.grams) {
      const expected = gramValues.subarray(gram.offset, gram.offset + gram.length);
      const actual = embeddings.get(gram.image)![gram.tap]!;
      expect(actual.length).toBe(gram.length);
      let maxDiff = 0;
      let maxRef = 0;
      expected.forEach((r, i) => {
        maxDiff = Math.max(maxDiff, Math.abs(actual[i]! - r));
        maxRef = Math.max(maxRef, Math.abs(r));
      });
      worst = Math.max(worst, maxDiff / maxRef);
    }
    console.log(`Gram taps: max normwise relative error vs torch float64 ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(TOLERANCE);
  });

  it('gives symmetric, positive semi-definite matrices', () => {
    for (const gram of reference.grams) {
      const c = gram.channels;
      const full = gramMatrixFromUpper(embeddings.get(gram.image)![gram.tap]!, c);
      for (let i = 0; i < c; i++) for (let j = 0; j < c; j++) expect(full[i * c + j]).toBe(full[j * c + i]);
      // Cholesky of G + δI succeeds exactly when G + δI is positive definite; δ covers float32 rounding only.
      let trace = 0;
      for (let i = 0; i < c; i++) trace += full[i * c + i]!;
      const delta = (1e-6 * trace) / c;
      const l = new Float64Array(c * c);
      for (let i = 0; i < c; i++) {
        for (let j = 0; j <= i; j++) {
          let sum = full[i * c + j]! + (i === j ? delta : 0);
          for (let k = 0; k < j; k++) sum -= l[i * c + k]! * l[j * c + k]!;
          if (i === j) {
            expect(sum).toBeGreaterThan(0);
            l[i * c + i] = Math.sqrt(sum);
          } else {
            l[i * c + j] = sum / l[j * c + j]!;
          }
        }
      }
    }
  });
});
