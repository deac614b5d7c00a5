import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveVggConfig } from './model-config.js';
import { readSafetensors, tensorToFloat32 } from './safetensors.js';
import {
  deterministicSqrt,
  seededBound,
  seededTensor,
  writeSeededWeights,
  Xoshiro128,
} from './seeded-init.js';
import { stateDictSpec } from './state-dict.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vgg-seeded-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const config = resolveVggConfig('[8,M,16,M]', {
  batchNorm: true,
  inputSize: 16,
  poolSize: 2,
  classifierWidth: 32,
  numClasses: 10,
});

describe('Xoshiro128', () => {
  it('produces a fixed sequence for a fixed seed and stream', () => {
    const a = new Xoshiro128(123, 7);
    const b = new Xoshiro128(123, 7);
    const first = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(first);
    expect(first.every((v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32)).toBe(true);
    expect(new Xoshiro128(124, 7).nextUint32()).not.toBe(first[0]);
    expect(new Xoshiro128(123, 8).nextUint32()).not.toBe(first[0]);
    // Seeds beyond 32 bits are distinct too.
    expect(new Xoshiro128(2 ** 40 + 123, 7).nextUint32()).not.toBe(first[0]);
  });

  it('fills uniform values inside the bound with mean near zero', () => {
    const out = new Float32Array(100_000);
    new Xoshiro128(1).fillUniform(out, 0.5);
    let sum = 0;
    let sq = 0;
    let min = Infinity;
    let max = -Infinity;
    for (const v of out) {
      min = Math.min(min, v);
      max = Math.max(max, v);
      sum += v;
      sq += v * v;
    }
    expect(min).toBeGreaterThanOrEqual(-0.5);
    expect(max).toBeLessThan(0.5);
    expect(Math.abs(sum / out.length)).toBeLessThan(0.01);
    // Variance of U(-b, b) is b^2 / 3.
    expect(sq / out.length).toBeCloseTo(0.25 / 3, 2);
  });
});

describe('deterministicSqrt', () => {
  it('agrees with Math.sqrt to the last bit or so', () => {
    for (const x of [6 / 27, 6 / 576, 2 / 3, 3 / 4096, 6 / 25088, 1, 2, 1e-9, 12345.678]) {
      expect(Math.abs(deterministicSqrt(x) - Math.sqrt(x))).toBeLessThanOrEqual(Math.sqrt(x) * 2 ** -52);
    }
  });
});

describe('writeSeededWeights', () => {
  it('writes bit-identical files for the same seed and different ones for another seed', async () => {
    const a = await writeSeededWeights(join(dir, 'a.safetensors'), config, 42);
    const b = await writeSeededWeights(join(dir, 'b.safetensors'), config, 42);
    const c = await writeSeededWeights(join(dir, 'c.safetensors'), config, 43);
    expect(a.sha256).toBe(b.sha256);
    expect(
      Buffer.compare(await readFile(join(dir, 'a.safetensors')), await readFile(join(dir, 'b.safetensors'))),
    ).toBe(0);
    expect(c.sha256).not.toBe(a.sha256);
  });

  it('matches a pinned digest, so every machine and future version must generate the same bits', async () => {
    // If this changes on purpose, bump SEEDED_INIT_VERSION so caches keyed by it are not reused.
    const { sha256 } = await writeSeededWeights(join(dir, 'pinned.safetensors'), config, 0);
    expect(sha256).toBe(PINNED_SHA256);
  });

  it('uses Kaiming-uniform weights, small biases and identity batch norm', async () => {
    const path = join(dir, 'stats.safetensors');
    await writeSeededWeights(path, config, 5);
    const tensors = await readSafetensors(path);
    for (const entry of stateDictSpec(config)) {
      const tensor = tensors.get(entry.name)!;
      if (entry.role === 'bn.num_batches_tracked') {
        expect(tensor.dtype).toBe('I64');
        continue;
      }
      const values = tensorToFloat32(tensor);
      expect(values).toEqual(seededTensor(entry, 5));
      const max = values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      switch (entry.role) {
        case 'bn.weight':
        case 'bn.running_var':
          expect(new Set(values)).toEqual(new Set([1]));
          break;
        case 'bn.bias':
        case 'bn.running_mean':
          expect(new Set(values)).toEqual(new Set([0]));
          break;
        default: {
          const bound = seededBound(entry);
          expect(max).toBeLessThanOrEqual(bound);
          if (values.length > 100) expect(max).toBeGreaterThan(bound * 0.9);
        }
      }
    }
    const fc8 = stateDictSpec(config).find((e) => e.name === 'classifier.6.weight')!;
    expect(seededBound(fc8)).toBeCloseTo(Math.sqrt(3 / 32), 12);
    const conv = stateDictSpec(config).find((e) => e.name === 'features.0.weight')!;
    expect(seededBound(conv)).toBeCloseTo(Math.sqrt(6 / 27), 12);
  });
});

const PINNED_SHA256 = 'fa31e4315289f827e70bceb11ed6a204da1c5da1e35fab8c21fcd51187612160';
