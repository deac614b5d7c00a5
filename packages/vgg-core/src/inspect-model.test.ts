import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectModel } from './inspect-model.js';
import { formatLayerTable, layerTableToJson } from './layer-table.js';
import { resolveVggConfig } from './model-config.js';
import { buildVggOnnx } from './onnx/onnx-graph.js';
import { countParameters } from './state-dict.js';
import { randomStateDict } from './testing/random-state-dict.js';

describe('inspectModel', () => {
  it('reports receptive fields growing by 2 per stacked 3x3 conv (conv1_2 of vgg16 sees 5x5)', async () => {
    const table = await inspectModel('vgg16');
    const rf = (name: string) => table.rows.find((r) => r.name === name)?.receptiveField;
    expect(rf('conv1_1')).toBe(3);
    expect(rf('conv1_2')).toBe(5);
    expect(rf('pool1')).toBe(6);
    expect(rf('conv2_1')).toBe(10);
    expect(rf('pool5')).toBe(212);
    expect(rf('fc6')).toBe('global');
    expect(table.rows.find((r) => r.name === 'pool5')?.jump).toBe(32);
  });

  it('totals parameters like countParameters and about 15.5 G MACs for vgg16', async () => {
    for (const name of ['vgg11', 'vgg16', 'vgg19_bn']) {
      expect((await inspectModel(name)).params).toBe(countParameters(resolveVggConfig(name)));
    }
    const vgg16 = await inspectModel('vgg16');
    expect(vgg16.macs).toBe(15_470_264_320);
    expect(vgg16.rows.find((r) => r.name === 'conv1_2')?.outputShape).toEqual([64, 224, 224]);
    expect(vgg16.rows.find((r) => r.name === 'fc8')?.outputShape).toEqual([1000]);
  });

  it('formats a terminal table with totals and the 18C^2 versus 25C^2 note', async () => {
    const text = formatLayerTable(await inspectModel('vgg16'));
    expect(text).toContain('vgg16: input 3x224x224, 138,357,544 params, 15.47 GMACs per image');
    expect(text).toMatch(/conv1_2\s+features\.2\s+Conv2d 3x3\s+64x224x224\s+36,928\s+1\.85G\s+5\s+1/);
    expect(text).toMatch(/Total\s+138,357,544\s+15\.47G/);
    expect(text).toContain('18C^2');
    expect(text).toContain('25C^2');
  });

  it('serialises to JSON with integer totals and the layers', async () => {
    const json = layerTableToJson(await inspectModel('vgg11_bn'));
    expect(json.params).toBe(132_868_840);
    expect(Number.isInteger(json.macs)).toBe(true);
    expect(json.layers[0]).toMatchObject({
      name: 'conv1_1',
      module: 'features.0',
      outputShape: [64, 224, 224],
    });
    expect(JSON.parse(JSON.stringify(json)).params).toBe(132_868_840);
  });

  it('describes uneven adaptive pooling of custom configurations', async () => {
    const table = await inspectModel('[4,M,8]', {
      inputSize: 10,
      poolSize: 3,
      classifierWidth: 6,
      numClasses: 2,
    });
    const avgpool = table.rows.find((r) => r.name === 'avgpool');
    expect(avgpool?.type).toBe('AdaptiveAvgPool2d 3x3 (uneven, max 3x3)');
    expect(avgpool?.outputShape).toEqual([8, 3, 3]);
  });
});

describe('inspectModel on an .onnx file', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vgg-inspect-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the graph and infers shapes, parameters and MACs', async () => {
    const config = resolveVggConfig('[4,M,8,8,M]', {
      batchNorm: true,
      inputSize: 16,
      poolSize: 2,
      classifierWidth: 12,
      numClasses: 5,
    });
    const path = join(dir, 'small.onnx');
    const bytes = buildVggOnnx(config, {
      weights: { kind: 'inline', tensors: randomStateDict(config, 1) },
      outputs: ['logits'],
    });
    await writeFile(path, bytes);
    const fromFile = await inspectModel(path);
    const fromConfig = await inspectModel(config);
    expect(fromFile.model).toBe('onnx:small.onnx');
    expect(fromFile.input).toEqual([3, 16, 16]);
    expect(fromFile.params).toBe(countParameters(config));
    expect(fromFile.macs).toBe(fromConfig.macs);
    const shapes = fromFile.rows.map((r) => [r.name, r.outputShape]);
    expect(shapes).toContainEqual(['features.4', [8, 8, 8]]);
    expect(shapes).toContainEqual(['avgpool', [8, 2, 2]]);
    expect(shapes).toContainEqual(['flatten', [32]]);
    expect(shapes).toContainEqual(['classifier.6', [5]]);
    expect(fromFile.rows.find((r) => r.name === 'features.3')?.receptiveField).toBe(4);
    expect(fromFile.rows.find((r) => r.name === 'features.4')?.receptiveField).toBe(8);
  });
});
