import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InferenceEngine } from './inference-engine.js';
import { type Prediction, predictFiles } from './predict.js';
import { prepareModel } from './prepare-model.js';
import { decodeImage } from './preprocess-decode.js';

const fixture = (name: string) => fileURLToPath(new URL(`../test-fixtures/images/${name}`, import.meta.url));
let dir: string;
let engine: InferenceEngine;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vgg-predict-test-'));
  const model = await prepareModel({
    model: "[8,'M',16,'M']",
    classifierWidth: 16,
    numClasses: 1000,
    inputSize: 32,
    cacheDir: join(dir, 'cache'),
  });
  engine = await InferenceEngine.create({ model, intraOpNumThreads: 1 });
});

afterAll(async () => {
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});

async function collect(files: string[], options: Parameters<typeof predictFiles>[2]): Promise<Prediction[]> {
  const predictions: Prediction[] = [];
  for await (const prediction of predictFiles(engine, files, options)) predictions.push(prediction);
  return predictions;
}

describe('predictFiles', () => {
  it('yields one prediction per file in order, errors in place, across batches', async () => {
    const files = [
      fixture('flowers.jpeg'),
      fixture('truncated.jpg'),
      join(dir, 'missing.jpg'),
      fixture('Landscape_1.jpg'),
      fixture('relax.jp2'),
      fixture('concert.jpg'),
    ];
    const predictions = await collect(files, { batchSize: 2, topK: 3, taps: ['fc7'] });
    expect(predictions.map((p) => p.file)).toEqual(files);
    expect(predictions.map((p) => (p.ok ? 'ok' : p.error))).toEqual([
      'ok',
      'truncated',
      'unreadable',
      'ok',
      'unsupported_format',
      'ok',
    ]);
    const first = predictions[0]!;
    if (!first.ok) throw new Error('expected flowers.jpeg to be classified');
    expect(first).toMatchObject({ width: 1920, height: 1080 });
    expect(first.top).toHaveLength(3);
    expect(first.top[0]!.label).toBe((await import('./labels.js')).imagenetLabels()[first.top[0]!.classId]);
    expect(first.embeddings.fc7).toHaveLength(16);
  });

  it('gives the same answers whatever the batch size', async () => {
    const files = ['flowers.jpeg', 'Landscape_1.jpg', 'concert.jpg'].map(fixture);
    const one = await collect(files, { batchSize: 1, topK: 5 });
    const all = await collect(files, { batchSize: 8, topK: 5 });
    expect(one.map((p) => (p.ok ? p.top.map((c) => c.classId) : null))).toEqual(
      all.map((p) => (p.ok ? p.top.map((c) => c.classId) : null)),
    );
  });

  it('dumps each decoded crop as <basename>.rgb', async () => {
    const out = join(dir, 'pixels');
    await collect([fixture('flowers.jpeg')], { dumpPixelsDir: out });
    const dumped = readFileSync(join(out, 'flowers.jpeg.rgb'));
    const decoded = await decodeImage(readFileSync(fixture('flowers.jpeg')), engine.preprocess);
    expect(dumped.equals(Buffer.from(decoded.pixels))).toBe(true);
  });

  it('refuses a bad request before reading any file', async () => {
    await expect(collect([join(dir, 'missing.jpg')], { taps: ['fc9'] })).rejects.toMatchObject({
      code: 'VGG_UNKNOWN_TAP',
    });
    await expect(collect([], { batchSize: 0 })).rejects.toThrow(
      'Expected positive integer for batchSize but received 0',
    );
  });
});
