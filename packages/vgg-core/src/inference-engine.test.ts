import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { float16ToFloat32 } from './half-float.js';
import { InferenceEngine } from './inference-engine.js';
import type { InferenceRequest } from './inference-protocol.js';
import { decodeOnnxModel, encodeOnnxModel, TensorProto_DataType, valueInfo } from './onnx/onnx-codec.js';
import { type PreparedModel, prepareModel } from './prepare-model.js';
import { decodeImage } from './preprocess-decode.js';

const fixtures = new URL('../test-fixtures/images/', import.meta.url);
const SIZE = 32;
let cacheDir: string;
let model: PreparedModel;
const crops: Uint8Array[] = [];

beforeAll(async () => {
  cacheDir = mkdtempSync(join(tmpdir(), 'vgg-engine-test-'));
  model = await prepareModel({
    model: "[8,'M',16,'M']",
    classifierWidth: 24,
    numClasses: 10,
    inputSize: SIZE,
    seed: 7,
    cacheDir,
  });
  const engine = await InferenceEngine.create({ model, intraOpNumThreads: 1 });
  for (const name of ['flowers.jpeg', 'Landscape_1.jpg', 'concert.jpg', '4.webp']) {
    crops.push((await decodeImage(readFileSync(new URL(name, fixtures)), engine.preprocess)).pixels);
  }
  await engine.close();
});

afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

const copies = () => crops.map((crop) => crop.slice());
const classify: InferenceRequest = { topK: 3, taps: [], l2Normalize: false, dtype: 'float32' };

async function withEngine<T>(run: (engine: InferenceEngine) => Promise<T>, prepared = model): Promise<T> {
  const engine = await InferenceEngine.create({ model: prepared, intraOpNumThreads: 1 });
  try {
    return await run(engine);
  } finally {
    await engine.close();
  }
}

function softmax(row: Float32Array): number[] {
  const max = Math.max(...row);
  const exps = Array.from(row, (v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((v) => v / sum);
}

describe('InferenceEngine', () => {
  it('runs on the CPU and takes its crop size from the model', async () => {
    await withEngine(async (engine) => {
      expect(engine.provider).toEqual({ name: 'cpu', deviceId: null });
      expect(engine.preprocess.cropSize).toBe(SIZE);
    });
  });

  it('returns the top-k classes as the softmax of the logits tap, best first', async () => {
    await withEngine(async (engine) => {
      const result = await engine.run(copies(), { ...classify, topK: 10, taps: ['logits', 'probs'] });
      expect(result.count).toBe(4);
      expect(result.inferenceMs).toBeGreaterThan(0);
      const { k, classIds, probs } = result.topK;
      expect(k).toBe(10);
      const logits = result.embeddings.logits!.data as Float32Array;
      const probsTap = result.embeddings.probs!.data as Float32Array;
      for (let n = 0; n < 4; n += 1) {
        const expected = softmax(logits.subarray(n * 10, n * 10 + 10));
        for (let i = 0; i < 10; i += 1) {
          const id = classIds[n * 10 + i]!;
          expect(probs[n * 10 + i]).toBeCloseTo(expected[id]!, 5);
          expect(probsTap[n * 10 + id]).toBeCloseTo(expected[id]!, 5);
          if (i > 0) expect(probs[n * 10 + i]!).toBeLessThanOrEqual(probs[n * 10 + i - 1]!);
        }
      }
      // Different pictures give different outputs even from seeded weights.
      expect(Array.from(logits.subarray(0, 10))).not.toEqual(Array.from(logits.subarray(10, 20)));
    });
  });

  it('gives each image the same answer whatever batch it is in', async () => {
    await withEngine(async (engine) => {
      const request: InferenceRequest = { ...classify, taps: ['fc7'] };
      const batch = await engine.run(copies(), request);
      const alone = await engine.run([crops[2]!.slice()], request);
      const fc7 = batch.embeddings.fc7!;
      expect(fc7.dim).toBe(24);
      const row = (fc7.data as Float32Array).subarray(2 * 24, 3 * 24);
      Array.from(alone.embeddings.fc7!.data).forEach((v, i) => {
        expect(v).toBeCloseTo(row[i]!, 5);
      });
      expect(Array.from(alone.topK.classIds)).toEqual(Array.from(batch.topK.classIds.subarray(6, 9)));
    });
  });

  it('L2-normalises embeddings and converts them to float16 on request', async () => {
    await withEngine(async (engine) => {
      const raw = await engine.run(copies(), { ...classify, taps: ['pool5', 'fc6'] });
      const unit = await engine.run(copies(), {
        topK: 0,
        taps: ['pool5', 'fc6'],
        l2Normalize: true,
        dtype: 'float32',
      });
      const half = await engine.run(copies(), {
        topK: 0,
        taps: ['pool5'],
        l2Normalize: true,
        dtype: 'float16',
      });
      expect(unit.topK).toEqual({ k: 0, classIds: new Int32Array(0), probs: new Float32Array(0) });
      const dim = unit.embeddings.pool5!.dim;
      expect(dim).toBe(16);
      const pool5 = unit.embeddings.pool5!.data as Float32Array;
      const rawPool5 = raw.embeddings.pool5!.data as Float32Array;
      for (let n = 0; n < 4; n += 1) {
        const row = pool5.subarray(n * dim, (n + 1) * dim);
        expect(Math.hypot(...row)).toBeCloseTo(1, 5);
        const norm = Math.hypot(...rawPool5.subarray(n * dim, (n + 1) * dim));
        row.forEach((v, i) => {
          expect(v).toBeCloseTo(rawPool5[n * dim + i]! / norm, 5);
        });
      }
      const f16 = half.embeddings.pool5!;
      expect(f16.dtype).toBe('float16');
      expect(f16.data).toBeInstanceOf(Uint16Array);
      float16ToFloat32(f16.data as Uint16Array).forEach((v, i) => {
        expect(v).toBeCloseTo(pool5[i]!, 2);
      });
    });
  });

  it('transfers whole-buffer crops to the worker and copies views of larger buffers', async () => {
    await withEngine(async (engine) => {
      const owned = crops[0]!.slice();
      const pool = new Uint8Array(owned.length * 2);
      pool.set(crops[1]!, owned.length);
      const view = pool.subarray(owned.length);
      const result = await engine.run([owned, view], classify);
      expect(owned.byteLength).toBe(0);
      expect(view.byteLength).toBe(crops[1]!.length);
      expect(Array.from(view.subarray(0, 6))).toEqual(Array.from(crops[1]!.subarray(0, 6)));
      expect(result.count).toBe(2);
    });
  });

  it('answers queued runs in submission order', async () => {
    await withEngine(async (engine) => {
      const order: number[] = [];
      const runs = crops.map((crop, index) =>
        engine.run([crop.slice()], { ...classify, taps: ['logits'] }).then((result) => {
          order.push(index);
          return result;
        }),
      );
      const separate = await Promise.all(runs);
      expect(order).toEqual([0, 1, 2, 3]);
      const together = await engine.run(copies(), { ...classify, taps: ['logits'] });
      const logits = together.embeddings.logits!.data as Float32Array;
      separate.forEach((result, n) => {
        Array.from(result.embeddings.logits!.data).forEach((v, i) => {
          expect(v).toBeCloseTo(logits[n * 10 + i]!, 5);
        });
      });
    });
  });

  it('returns an empty result for an empty batch without running the model', async () => {
    await withEngine(async (engine) => {
      const result = await engine.run([], { ...classify, taps: ['fc7'] });
      expect(result.count).toBe(0);
      expect(result.embeddings.fc7).toEqual({ dim: 24, dtype: 'float32', data: new Float32Array(0) });
    });
  });

  it('rejects unknown taps with the available ones, and malformed requests', async () => {
    await withEngine(async (engine) => {
      await expect(engine.run(copies(), { ...classify, taps: ['fc8'] })).rejects.toMatchObject({
        code: 'VGG_UNKNOWN_TAP',
        message: expect.stringContaining(
          'Expected one of relu1_1, relu2_1, pool5, fc6, fc7, logits, probs for tap',
        ),
      });
      await expect(engine.run([new Uint8Array(10)], classify)).rejects.toThrow(
        `Expected Uint8Array of ${SIZE * SIZE * 3} bytes (a decoded crop) for images[0] but received 10 bytes`,
      );
      await expect(engine.run(copies(), { ...classify, topK: 0 })).rejects.toThrow(/for topK/);
      await expect(engine.run(copies(), { ...classify, topK: -1 })).rejects.toThrow(
        'Expected non-negative integer for topK but received -1',
      );
      await expect(engine.run(copies(), { ...classify, dtype: 'int8' as 'float16' })).rejects.toThrow(
        /for dtype/,
      );
      // A refused request does not disturb the engine.
      expect((await engine.run(copies(), classify)).count).toBe(4);
    });
  });

  it('serves a graph prepared with only some outputs, and says what it lacks', async () => {
    const options = {
      model: "[8,'M',16,'M']",
      classifierWidth: 24,
      numClasses: 10,
      inputSize: SIZE,
      seed: 7,
      cacheDir,
    };
    const features = await prepareModel({ ...options, outputs: ['pool5'] });
    const full = await withEngine((engine) =>
      engine.run(copies(), { ...classify, topK: 0, taps: ['pool5'] }),
    );
    await withEngine(async (engine) => {
      const pooled = await engine.run(copies(), { ...classify, topK: 0, taps: ['pool5'] });
      expect(Array.from(pooled.embeddings.pool5!.data)).toEqual(Array.from(full.embeddings.pool5!.data));
      await expect(engine.run(copies(), classify)).rejects.toMatchObject({
        code: 'VGG_INVALID_OPTION',
        message: expect.stringMatching(
          /Expected topK 0 for a graph without probs or logits \(it declares pool5\)/,
        ),
      });
      await expect(engine.run(copies(), { ...classify, taps: ['fc7'] })).rejects.toMatchObject({
        code: 'VGG_UNKNOWN_TAP',
      });
    }, features);
    const probs = await prepareModel({ ...options, outputs: ['probs'] });
    const expected = await withEngine((engine) => engine.run(copies(), classify));
    const actual = await withEngine((engine) => engine.run(copies(), classify), probs);
    expect(Array.from(actual.topK.classIds)).toEqual(Array.from(expected.topK.classIds));
    expect(Array.from(actual.topK.probs)).toEqual(Array.from(expected.topK.probs));
  });

  it('feeds fixed-size batches when asked: splits and pads, with the same answers', async () => {
    const expected = await withEngine((engine) => engine.run(copies(), { ...classify, taps: ['fc7'] }));
    const engine = await InferenceEngine.create({ model, intraOpNumThreads: 1, fixedBatchSize: 3 });
    try {
      const actual = await engine.run(copies(), { ...classify, taps: ['fc7'] });
      expect(actual.count).toBe(4);
      expect(Array.from(actual.topK.classIds)).toEqual(Array.from(expected.topK.classIds));
      const want = expected.embeddings.fc7!.data as Float32Array;
      Array.from(actual.embeddings.fc7!.data).forEach((v, i) => {
        expect(v).toBeCloseTo(want[i]!, 5);
      });
    } finally {
      await engine.close();
    }
    await expect(InferenceEngine.create({ model, fixedBatchSize: 0 })).rejects.toThrow(
      'Expected positive integer for fixedBatchSize but received 0',
    );
  });

  it('warns that a float16 graph on the CPU is slower, and answers like the float32 one', async () => {
    const half = await prepareModel({
      model: "[8,'M',16,'M']",
      classifierWidth: 24,
      numClasses: 10,
      inputSize: SIZE,
      seed: 7,
      cacheDir,
      outputs: ['probs'],
      precision: 'float16',
    });
    const warnings: string[] = [];
    const engine = await InferenceEngine.create({
      model: half,
      intraOpNumThreads: 1,
      onWarning: (m) => warnings.push(m),
    });
    try {
      expect(warnings).toEqual([expect.stringMatching(/float16 graph runs on the CPU through casts/)]);
      const expected = await withEngine((e) => e.run(copies(), classify));
      const actual = await engine.run(copies(), classify);
      Array.from(actual.topK.probs).forEach((p, i) => {
        expect(p).toBeCloseTo(expected.topK.probs[i]!, 2);
      });
    } finally {
      await engine.close();
    }
  });

  it('refuses a crop size other than the model input size', async () => {
    await expect(InferenceEngine.create({ model, preprocess: { cropSize: 224 } })).rejects.toThrow(
      `Expected ${SIZE} (the model's input size) for preprocess.cropSize but received 224`,
    );
  });

  it('throws VGG_PROVIDER with install hints when CUDA cannot load', async () => {
    await expect(InferenceEngine.create({ model, provider: 'cuda' })).rejects.toMatchObject({
      code: 'VGG_PROVIDER',
      message: expect.stringMatching(/cuda:0.*ONNXRUNTIME_NODE_INSTALL=cuda12.*LD_LIBRARY_PATH/s),
    });
    await expect(InferenceEngine.create({ model, provider: 'cuda:x' as 'cuda' })).rejects.toMatchObject({
      code: 'VGG_INVALID_OPTION',
      message: `Expected one of 'cpu', 'cuda', 'cuda:N' (N a device index), 'auto' for provider but received "cuda:x"`,
    });
  });

  it("falls back from 'auto' to the CPU with a warning when CUDA cannot load", async () => {
    const warnings: string[] = [];
    const engine = await InferenceEngine.create({
      model,
      provider: 'auto',
      onWarning: (m) => warnings.push(m),
    });
    try {
      expect(engine.provider).toEqual({ name: 'cpu', deviceId: null });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/^cuda:0 is unavailable .*running on cpu/);
      expect((await engine.run(copies(), classify)).count).toBe(4);
    } finally {
      await engine.close();
    }
  });

  it('rejects pending and later runs when the worker thread dies, instead of hanging', async () => {
    const engine = await InferenceEngine.create({ model, intraOpNumThreads: 1 });
    const pending = engine.run(copies(), classify);
    await (engine as unknown as { worker: Worker }).worker.terminate();
    await expect(pending).rejects.toMatchObject({ code: 'VGG_INFERENCE', message: /worker thread exited/ });
    await expect(engine.run(copies(), classify)).rejects.toMatchObject({ code: 'VGG_INFERENCE' });
    await engine.close();
  });

  it('finishes submitted runs on close and refuses runs after it', async () => {
    const engine = await InferenceEngine.create({ model, intraOpNumThreads: 1 });
    const submitted = engine.run(copies(), classify);
    const closed = engine.close();
    await expect(engine.run(copies(), classify)).rejects.toThrow('The inference engine is closed');
    expect((await submitted).count).toBe(4);
    await closed;
    await engine.close();
  });

  it('splits and pads batches for an ONNX graph with a fixed batch size', async () => {
    // A user ONNX file like a plain torch.onnx.export with batch 2: logits first, batch axis fixed.
    const graph = decodeOnnxModel(readFileSync(model.onnxPath));
    const { FLOAT } = TensorProto_DataType;
    graph.graph!.input = graph.graph!.input.map((input) => valueInfo(input.name, FLOAT, [2, 3, SIZE, SIZE]));
    graph.graph!.output = [valueInfo(model.outputs.logits!, FLOAT, [2, 10])];
    const fixed = encodeOnnxModel(graph);
    // Beside the generated graph, so its external weights still resolve.
    const onnxPath = join(dirname(model.onnxPath), 'fixed-batch-2.onnx');
    writeFileSync(onnxPath, fixed);
    const fixedModel = await prepareModel({ onnxPath, cacheDir });
    expect(fixedModel.fixedBatchSize).toBe(2);
    await expect(InferenceEngine.create({ model: fixedModel, fixedBatchSize: 3 })).rejects.toThrow(
      /Expected 2 \(the batch axis of .*fixed-batch-2.onnx\) or unset for fixedBatchSize but received 3/,
    );
    const request: InferenceRequest = { ...classify, taps: ['logits'] };
    const expected = await withEngine((engine) => engine.run(copies().slice(0, 3), request));
    const actual = await withEngine((engine) => engine.run(copies().slice(0, 3), request), fixedModel);
    expect(actual.count).toBe(3);
    const want = expected.embeddings.logits!.data as Float32Array;
    Array.from(actual.embeddings.logits!.data).forEach((v, i) => {
      expect(v).toBeCloseTo(want[i]!, 5);
    });
    expect(Array.from(actual.topK.classIds)).toEqual(Array.from(expected.topK.classIds));
  });
});
