import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { float32ToBfloat16, float32ToFloat16 } from './half-float.js';
import { resolveVggConfig, type VggConfig, type VggConfigOverrides } from './model-config.js';
import {
  getModelTap,
  type ModelOptions,
  modelOutputsFor,
  type PreparedModel,
  prepareModel,
} from './prepare-model.js';
import {
  readSafetensors,
  readSafetensorsHeader,
  type SafetensorsDtype,
  type SafetensorsEntry,
  tensorToFloat32,
  writeSafetensors,
} from './safetensors.js';
import { stateDictSpec } from './state-dict.js';
import { listTaps } from './taps.js';
import { randomStateDict } from './testing/random-state-dict.js';
import { BATCH, maxAbsDiff, randomInput, runOrt } from './testing/model-run.js';
import { referenceForward } from './testing/reference-forward.js';

let dir: string;
let cacheDir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vgg-prepare-'));
  cacheDir = join(dir, 'cache');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeWeights(
  name: string,
  config: VggConfig,
  weights: Map<string, Float32Array>,
  dtype: SafetensorsDtype,
) {
  const entries: SafetensorsEntry[] = stateDictSpec(config).map((e) => {
    if (e.role === 'bn.num_batches_tracked')
      return { name: e.name, dtype: 'I64', shape: e.shape, data: BigInt64Array.from([7n]) };
    const values = weights.get(e.name)!;
    const data =
      dtype === 'F16' ? float32ToFloat16(values) : dtype === 'BF16' ? float32ToBfloat16(values) : values;
    return { name: e.name, dtype, shape: e.shape, data };
  });
  const path = join(dir, `${name}.safetensors`);
  await writeSafetensors(path, entries);
  return path;
}

/** The weights as float32, as stored (so F16/BF16 rounding is what the reference sees too). */
async function loadWeights(path: string): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, tensor] of await readSafetensors(path)) {
    if (!name.endsWith('num_batches_tracked')) out.set(name, tensorToFloat32(tensor));
  }
  return out;
}

async function expectMatchesReference(
  model: PreparedModel,
  weights: Map<string, Float32Array>,
  seed: number,
) {
  const config = model.config!;
  const input = randomInput(config.inputSize, seed);
  const actual = await runOrt(model, input);
  const expected = referenceForward(config, weights, input, BATCH);
  const taps = listTaps(config);
  expect(Object.keys(actual).sort()).toEqual(taps.map((t) => t.name).sort());
  for (const tap of taps) {
    expect(actual[tap.name]!.dims, tap.name).toEqual([BATCH, tap.dim]);
    const diff = maxAbsDiff(actual[tap.name]!.data, expected[tap.name]!);
    expect(diff, `${config.name} ${tap.name}`).toBeLessThanOrEqual(1e-4);
  }
  // Guard against a vacuous comparison: outputs must carry signal.
  expect(expected.fc7!.some((v) => v > 0)).toBe(true);
  return actual;
}

interface Case {
  label: string;
  spec: string;
  overrides: VggConfigOverrides;
}

const CASES: Case[] = [
  {
    label: 'batch norm with non-trivial statistics, uneven adaptive pool (5 -> 3)',
    spec: '[4,M,6,6,M,8]',
    overrides: { batchNorm: true, inputSize: 20, poolSize: 3, classifierWidth: 10, numClasses: 7 },
  },
  {
    label: 'no batch norm, even adaptive pool (6 -> 3, AveragePool)',
    spec: '[5,M,7,M]',
    overrides: { inputSize: 24, poolSize: 3, classifierWidth: 9, numClasses: 5 },
  },
  {
    label: 'leading max-pool, adaptive pool as identity (4 -> 4)',
    spec: 'M,4,M,6',
    overrides: { batchNorm: true, inputSize: 16, poolSize: 4, classifierWidth: 6, numClasses: 3 },
  },
  {
    label: 'adaptive pool upsampling with overlapping cells (2 -> 3), odd sizes floored by max-pool',
    spec: "[4,'M',3,'M',5,'M']",
    overrides: { inputSize: 19, poolSize: 3, classifierWidth: 8, numClasses: 4 },
  },
];

describe('prepareModel with safetensors weights', () => {
  for (const [index, c] of CASES.entries()) {
    it(`matches the reference forward pass on every tap: ${c.label}`, async () => {
      const config = resolveVggConfig(c.spec, c.overrides);
      const weights = randomStateDict(config, 10 + index);
      const path = await writeWeights(`case${index}`, config, weights, 'F32');
      const model = await prepareModel({ model: c.spec, ...c.overrides, weightsPath: path, cacheDir });
      expect(model.identity).toMatchObject({
        variant: config.name,
        source: 'safetensors',
        untrained: false,
        seed: null,
        numClasses: config.numClasses,
        inputSize: config.inputSize,
      });
      expect(model.identity.weightsSha256).toMatch(/^[0-9a-f]{64}$/);
      await expectMatchesReference(model, weights, index);
    });
  }

  it('converts F16 and BF16 weights to a float32 file in the cache and matches the reference', async () => {
    const c = CASES[0]!;
    const config = resolveVggConfig(c.spec, c.overrides);
    for (const dtype of ['F16', 'BF16'] as const) {
      const path = await writeWeights(`half-${dtype}`, config, randomStateDict(config, 3), dtype);
      const model = await prepareModel({ model: c.spec, ...c.overrides, weightsPath: path, cacheDir });
      const header = await readSafetensorsHeader(model.weightsPath!);
      expect(header.tensors.get('features.0.weight')?.dtype).toBe('F32');
      expect(header.tensors.get('features.1.num_batches_tracked')?.dtype).toBe('I64');
      await expectMatchesReference(model, await loadWeights(path), 5);
      // The identity hashes the user's file, not the converted one.
      expect(model.identity.weightsSha256).not.toBe(
        (await prepareModel({ model: c.spec, ...c.overrides, weightsPath: model.weightsPath!, cacheDir }))
          .identity.weightsSha256,
      );
    }
  });

  it('reuses the cache on repeat and hard-links float32 weights beside the graph', async () => {
    const c = CASES[1]!;
    const config = resolveVggConfig(c.spec, c.overrides);
    const path = await writeWeights('cached', config, randomStateDict(config, 4), 'F32');
    const options: ModelOptions = { model: c.spec, ...c.overrides, weightsPath: path, cacheDir };
    const first = await prepareModel(options);
    const graphStat = await stat(first.onnxPath);
    const second = await prepareModel(options);
    expect(second.onnxPath).toBe(first.onnxPath);
    expect((await stat(second.onnxPath)).mtimeMs).toBe(graphStat.mtimeMs);
    expect((await stat(first.weightsPath!)).ino).toBe((await stat(path)).ino);
    // A different input size of the same weights gets its own graph beside the same weights.
    const other = await prepareModel({ ...options, inputSize: 28 });
    expect(other.onnxPath).not.toBe(first.onnxPath);
    expect(other.weightsPath).toBe(first.weightsPath);
  });

  it('rejects weights that do not fit the configuration with VGG_WEIGHTS', async () => {
    const c = CASES[1]!;
    const config = resolveVggConfig(c.spec, c.overrides);
    const path = await writeWeights('mismatch', config, randomStateDict(config, 4), 'F32');
    await expect(
      prepareModel({ model: c.spec, ...c.overrides, classifierWidth: 10, weightsPath: path, cacheDir }),
    ).rejects.toMatchObject({
      code: 'VGG_WEIGHTS',
      tensor: 'classifier.0.weight',
      expectedShape: [10, 63],
      actualShape: [9, 63],
    });
    await expect(prepareModel({ model: 'vgg16', weightsPath: path, cacheDir })).rejects.toMatchObject({
      code: 'VGG_WEIGHTS',
    });
  });
});

describe('prepareModel with seeded weights', () => {
  it('runs a standard variant (vgg11 at 32x32, narrow classifier) identically to the reference', async () => {
    const options = { model: 'vgg11', inputSize: 32, classifierWidth: 16, numClasses: 10, seed: 3, cacheDir };
    const model = await prepareModel(options);
    expect(model.identity).toMatchObject({ variant: 'vgg11', source: 'seeded', untrained: true, seed: 3 });
    const weights = await loadWeights(model.weightsPath!);
    const out = await expectMatchesReference(model, weights, 1);
    // Untrained but alive: embeddings are not all zero and softmax is not one-hot.
    expect(out.fc7!.data.filter((v) => v > 0).length).toBeGreaterThan(2);
    expect(Math.max(...out.probs!.data)).toBeLessThan(0.9);

    const again = await prepareModel(options);
    expect(again.identity.weightsSha256).toBe(model.identity.weightsSha256);
    expect(again.onnxPath).toBe(model.onnxPath);
    const otherSeed = await prepareModel({ ...options, seed: 4 });
    expect(otherSeed.identity.weightsSha256).not.toBe(model.identity.weightsSha256);
  });

  it('exposes every tap and rejects unknown ones with the list', async () => {
    const model = await prepareModel({
      model: 'vgg11',
      inputSize: 32,
      classifierWidth: 16,
      numClasses: 10,
      cacheDir,
    });
    expect(getModelTap(model, 'relu5_2')).toEqual({ name: 'relu5_2', dim: 512 });
    expect(getModelTap(model, 'fc7')).toEqual({ name: 'fc7', dim: 16 });
    expect(model.outputs).toMatchObject({ logits: 'logits', probs: 'probs' });
    expect(() => getModelTap(model, 'relu3_3')).toThrow(
      expect.objectContaining({
        code: 'VGG_UNKNOWN_TAP',
        message: expect.stringMatching(/relu3_2, relu4_1/),
      }),
    );
  });
});

describe('prepareModel with requested outputs', () => {
  const options: ModelOptions = {
    model: '[4,M,8,M]',
    inputSize: 16,
    poolSize: 2,
    classifierWidth: 6,
    numClasses: 3,
  };

  it('builds and caches one graph per output set, declaring only those outputs', async () => {
    const all = await prepareModel({ ...options, cacheDir });
    const probs = await prepareModel({ ...options, cacheDir, outputs: ['probs'] });
    const mixed = await prepareModel({ ...options, cacheDir, outputs: ['fc7', 'probs', 'relu2_1'] });
    const sameSet = await prepareModel({ ...options, cacheDir, outputs: ['relu2_1', 'fc7', 'probs'] });
    expect(new Set([all.onnxPath, probs.onnxPath, mixed.onnxPath]).size).toBe(3);
    expect(sameSet.onnxPath).toBe(mixed.onnxPath);
    expect(probs.weightsPath).toBe(all.weightsPath);
    expect(probs.identity).toEqual(all.identity);
    expect(probs.outputs).toEqual({ probs: 'probs', taps: { probs: { name: 'probs', dim: 3 } } });
    expect(Object.keys(mixed.outputs.taps)).toEqual(['relu2_1', 'fc7', 'probs']);
    const session = await ort.InferenceSession.create(mixed.onnxPath);
    expect(session.outputNames).toEqual(['relu2_1', 'fc7', 'probs']);
    await session.release();

    // The pruned graph computes the same values as the full one.
    const input = randomInput(16, 3);
    const full = await runOrt(all, input, ['probs', 'fc7']);
    const pruned = await runOrt(mixed, input, ['probs', 'fc7']);
    expect(Array.from(pruned.probs!.data)).toEqual(Array.from(full.probs!.data));
    expect(Array.from(pruned.fc7!.data)).toEqual(Array.from(full.fc7!.data));
    expect(modelOutputsFor({ topK: 5, taps: ['fc7', 'probs', 'fc7'] })).toEqual(['probs', 'fc7']);
    expect(modelOutputsFor({ topK: 0, taps: ['pool5'] })).toEqual(['pool5']);
  });

  it('says when a tap exists but was not requested, and rejects bad output lists', async () => {
    const probs = await prepareModel({ ...options, cacheDir, outputs: ['probs'] });
    expect(() => getModelTap(probs, 'fc7')).toThrow(
      expect.objectContaining({
        code: 'VGG_UNKNOWN_TAP',
        message: expect.stringMatching(
          /"fc7" is not an output of this .* graph \(it declares probs\); include it/,
        ),
      }),
    );
    expect(() => getModelTap(probs, 'fc9')).toThrow(/Expected one of relu1_1, relu2_1, pool5/);
    await expect(prepareModel({ ...options, cacheDir, outputs: ['fc9'] })).rejects.toMatchObject({
      code: 'VGG_UNKNOWN_TAP',
    });
    await expect(prepareModel({ ...options, cacheDir, outputs: [] })).rejects.toThrow(
      /Expected non-empty array of tap names .* for outputs but received \[\]/,
    );
    await expect(prepareModel({ onnxPath: 'x.onnx', outputs: ['probs', 'fc7'] })).rejects.toMatchObject({
      code: 'VGG_UNKNOWN_TAP',
      message: expect.stringMatching(/"fc7" is not available for ONNX file x.onnx/),
    });
  });
});

describe('prepareModel with precision float16', () => {
  it('caches half-float weights beside the float32 ones and runs close to the float32 graph', async () => {
    const options: ModelOptions = {
      model: '[4,M,8,M]',
      inputSize: 16,
      poolSize: 4,
      classifierWidth: 6,
      numClasses: 3,
      cacheDir,
    };
    const single = await prepareModel({ ...options, outputs: ['probs', 'fc7'] });
    const half = await prepareModel({ ...options, outputs: ['probs', 'fc7'], precision: 'float16' });
    expect(half.precision).toBe('float16');
    expect(single.precision).toBe('float32');
    expect(half.onnxPath).not.toBe(single.onnxPath);
    expect(half.weightsPath).toBe(join(single.weightsPath!, '..', 'weights-f16.safetensors'));
    expect((await stat(half.weightsPath!)).size).toBeLessThan((await stat(single.weightsPath!)).size * 0.6);
    expect(half.identity).toEqual(single.identity);
    const input = randomInput(16, 11);
    const want = await runOrt(single, input, ['probs', 'fc7']);
    const got = await runOrt(half, input, ['probs', 'fc7']);
    expect(got.probs!.data).toBeInstanceOf(Float32Array);
    expect(maxAbsDiff(got.probs!.data, want.probs!.data)).toBeLessThan(5e-3);
    const scale = Math.max(...Array.from(want.fc7!.data, Math.abs));
    expect(maxAbsDiff(got.fc7!.data, want.fc7!.data)).toBeLessThan(scale * 1e-2);
    await expect(prepareModel({ onnxPath: 'x.onnx', precision: 'float16' })).rejects.toThrow(
      /Expected precision to be unset with onnxPath/,
    );
    await expect(prepareModel({ ...options, precision: 'int8' as 'float16' })).rejects.toThrow(
      /Expected one of 'float32', 'float16' for precision but received "int8"/,
    );
  });
});

describe('prepareModel options', () => {
  it('validates options at the boundary', async () => {
    await expect(prepareModel({ weightsPath: 'a', onnxPath: 'b' })).rejects.toThrow(
      /Expected at most one of weightsPath and onnxPath but received both/,
    );
    await expect(prepareModel({ onnxPath: 'b.onnx', model: 'vgg16' })).rejects.toThrow(
      /Expected model to be unset with onnxPath/,
    );
    await expect(prepareModel({ seed: -1 })).rejects.toThrow(
      /Expected non-negative safe integer for seed but received -1/,
    );
    await expect(prepareModel({ seed: 1.5 })).rejects.toMatchObject({ code: 'VGG_INVALID_OPTION' });
    await expect(prepareModel({ weightsPath: '' })).rejects.toThrow(
      /Expected non-empty string for weightsPath/,
    );
    await expect(prepareModel({ model: 'vgg99' })).rejects.toMatchObject({ code: 'VGG_INVALID_OPTION' });
    await expect(prepareModel({ onnxPath: 'x.onnx', numClasses: 0 })).rejects.toThrow(
      /Expected positive integer for numClasses/,
    );
  });

  it('serves any subset of outputs as fetches and records the seed beside seeded weights', async () => {
    const model = await prepareModel({
      model: '[4,M]',
      inputSize: 8,
      poolSize: 2,
      classifierWidth: 4,
      numClasses: 3,
      cacheDir,
    });
    const out = await runOrt(model, randomInput(8, 2), ['relu1_1', 'fc7']);
    expect(Object.keys(out).sort()).toEqual(['fc7', 'relu1_1']);
    expect(
      JSON.parse((await readFile(join(model.weightsPath!, '..', 'weights.json'), 'utf8')).toString()),
    ).toMatchObject({
      seed: 0,
    });
  });
});
