import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { float32ToFloat16 } from './half-float.js';
import { resolveVggConfig } from './model-config.js';
import { prepareModel } from './prepare-model.js';
import { type SafetensorsEntry, writeSafetensors } from './safetensors.js';
import { Xoshiro128 } from './seeded-init.js';
import { stateDictSpec } from './state-dict.js';
import { randomStateDict } from './testing/random-state-dict.js';

const SCRIPT = resolve(fileURLToPath(import.meta.url), '../../../../scripts/numpy_reference.py');
const probe = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' });
const pythonReady = probe.status === 0;
if (!pythonReady) {
  console.log(
    `numpy reference test skipped: python3 with numpy unavailable (${probe.error?.message ?? probe.stderr.trim()})`,
  );
}

interface NumpyResult {
  model: string;
  results: Array<{
    top: Array<{ index: number; prob: number; logit: number }>;
    taps: Record<string, number[]>;
  }>;
}

describe.skipIf(!pythonReady)('scripts/numpy_reference.py', () => {
  const spec = "[6,'M',8,8,'M',10]";
  const overrides = {
    batchNorm: true,
    inputSize: 22,
    poolSize: 3,
    classifierWidth: 12,
    numClasses: 9,
  } as const;
  const config = resolveVggConfig(spec, overrides);
  const size = config.inputSize;
  let dir: string;
  let weightsPath: string;
  let pixelsPath: string;
  let pixels: Uint8Array;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vgg-numpy-'));
    const weights = randomStateDict(config, 77);
    // F16 on disk: the script and prepareModel must both widen it the same way.
    const entries: SafetensorsEntry[] = stateDictSpec(config).map((e) =>
      e.role === 'bn.num_batches_tracked'
        ? { name: e.name, dtype: 'I64', shape: e.shape, data: new BigInt64Array(1) }
        : { name: e.name, dtype: 'F16', shape: e.shape, data: float32ToFloat16(weights.get(e.name)!) },
    );
    weightsPath = join(dir, 'w.safetensors');
    await writeSafetensors(weightsPath, entries);
    const rng = new Xoshiro128(5);
    pixels = Uint8Array.from({ length: size * size * 3 }, () => rng.nextUint32() & 0xff);
    pixelsPath = join(dir, 'img.rgb');
    await writeFile(pixelsPath, pixels);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('agrees with onnxruntime on top-k and taps to 1e-4 from raw RGB pixels', async () => {
    const run = spawnSync(
      'python3',
      [
        SCRIPT,
        '--model',
        spec,
        '--batch-norm',
        '--weights',
        weightsPath,
        '--pixels',
        pixelsPath,
        '--top',
        '5',
        '--taps',
        'fc7,pool5,relu2_2,probs',
        '--input-size',
        String(size),
        '--pool-size',
        '3',
        '--classifier-width',
        '12',
        '--num-classes',
        '9',
      ],
      { encoding: 'utf8' },
    );
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const numpy = JSON.parse(run.stdout) as NumpyResult;
    expect(numpy.model).toBe(config.name);

    // ImageNet normalisation in float32, HWC -> CHW, as the runtime's preprocessing does.
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    const input = new Float32Array(3 * size * size);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        for (let c = 0; c < 3; c++) {
          input[(c * size + y) * size + x] = (pixels[(y * size + x) * 3 + c]! / 255 - mean[c]!) / std[c]!;
        }
      }
    }
    const model = await prepareModel({
      model: spec,
      ...overrides,
      weightsPath,
      cacheDir: join(dir, 'cache'),
    });
    const session = await ort.InferenceSession.create(model.onnxPath, { intraOpNumThreads: 1 });
    const out = await session.run({ input: new ort.Tensor('float32', input, [1, 3, size, size]) });
    await session.release();

    const result = numpy.results[0]!;
    const probs = out.probs!.data as Float32Array;
    const order = [...probs.keys()].sort((a, b) => probs[b]! - probs[a]!).slice(0, 5);
    expect(result.top.map((t) => t.index)).toEqual(order);
    for (const t of result.top) expect(Math.abs(t.prob - probs[t.index]!)).toBeLessThanOrEqual(1e-4);
    for (const tap of ['fc7', 'pool5', 'relu2_2', 'probs']) {
      const ours = out[tap]!.data as Float32Array;
      const theirs = result.taps[tap]!;
      expect(theirs.length).toBe(ours.length);
      const diff = Math.max(...theirs.map((v, i) => Math.abs(v - ours[i]!)));
      expect(diff, tap).toBeLessThanOrEqual(1e-4);
    }
  });

  it('reports a wrong pixel file size clearly', () => {
    const run = spawnSync(
      'python3',
      [
        SCRIPT,
        '--model',
        spec,
        '--batch-norm',
        '--weights',
        weightsPath,
        '--pixels',
        pixelsPath,
        '--input-size',
        '224',
        '--classifier-width',
        '12',
      ],
      { encoding: 'utf8' },
    );
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('expected 224*224*3 = 150528 bytes in --pixels');
  });
});
