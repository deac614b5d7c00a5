import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveVggConfig } from '../model-config.js';
import { writeSafetensors } from '../safetensors.js';
import { gramMatrixFromUpper, upperTriangleIndices } from './gram.js';
import { pairColumns } from './pair-head.js';
import { loadPairHead, resolvePairLayers } from './pair-options.js';

const vgg16 = resolveVggConfig('vgg16');

describe('pair options', () => {
  it("default to LPIPS's layers and relu2_2, and name the columns after them", () => {
    expect(resolvePairLayers(vgg16, {})).toEqual({
      layers: ['relu1_2', 'relu2_2', 'relu3_3', 'relu4_3', 'relu5_3'],
      contentLayer: 'relu2_2',
    });
    expect(pairColumns({ layers: ['relu1_2', 'relu3_3'] })).toEqual([
      'perceptual_distance',
      'lpips_relu1_2',
      'lpips_relu3_3',
      'feature_reconstruction_loss',
    ]);
  });

  it('refuse layers the model lacks, naming the option and the conv taps', () => {
    expect(() => resolvePairLayers(resolveVggConfig('vgg11'), {})).toThrow(
      /Expected conv taps of vgg11 \(relu1_1, relu2_1, .*\) for pairLayers but received "relu1_2"/,
    );
    expect(() => resolvePairLayers(vgg16, { contentLayer: 'fc7' })).toThrow(
      /for contentLayer but received "fc7"/,
    );
  });

  it("read LPIPS's linear weights by LPIPS's names and refuse missing or misshapen ones", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vgg-lpips-'));
    const channels = [64, 128, 256, 512, 512];
    const good = join(dir, 'lin.safetensors');
    await writeSafetensors(
      good,
      channels.map((c, i) => ({
        name: `lin${i}.model.1.weight`,
        dtype: 'F32' as const,
        shape: [1, c, 1, 1],
        data: new Float32Array(c).fill(i + 1),
      })),
    );
    const { head, weightsSha256 } = await loadPairHead(vgg16, { lpipsWeightsPath: good });
    expect(weightsSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(head.linearWeights?.get('relu4_3')).toEqual(new Float32Array(512).fill(4));

    const short = join(dir, 'short.safetensors');
    await writeSafetensors(short, [
      { name: 'lin0.model.1.weight', dtype: 'F32', shape: [1, 64, 1, 1], data: new Float32Array(64) },
    ]);
    await expect(loadPairHead(vgg16, { lpipsWeightsPath: short })).rejects.toMatchObject({
      code: 'VGG_WEIGHTS',
      problem: 'missing',
      tensor: 'lin1.model.1.weight',
    });
    const wrong = join(dir, 'wrong.safetensors');
    await writeSafetensors(
      wrong,
      channels.map((c, i) => ({
        name: `lin${i}.model.1.weight`,
        dtype: 'F32' as const,
        shape: [1, i === 2 ? 128 : c, 1, 1],
        data: new Float32Array(i === 2 ? 128 : c),
      })),
    );
    await expect(loadPairHead(vgg16, { lpipsWeightsPath: wrong })).rejects.toThrow(
      /lin2\.model\.1\.weight should be \[1, 256, 1, 1\] for relu3_3 but is \[1, 128, 1, 1\]/,
    );
  });
});

describe('Gram layout', () => {
  it('stores the upper triangle row by row and rebuilds the symmetric matrix', () => {
    expect(Array.from(upperTriangleIndices(3))).toEqual([0, 1, 2, 4, 5, 8]);
    expect(Array.from(gramMatrixFromUpper([1, 2, 3, 4, 5, 6], 3))).toEqual([1, 2, 3, 2, 4, 5, 3, 5, 6]);
    expect(() => gramMatrixFromUpper([1, 2], 3)).toThrow(/Expected 6 values/);
  });
});
