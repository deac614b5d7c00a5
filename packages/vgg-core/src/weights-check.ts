import { VggWeightsError } from './errors.js';
import type { VggConfig } from './model-config.js';
import { CONVERTIBLE_FLOAT_DTYPES, type SafetensorsHeader } from './safetensors.js';
import { numel, stateDictSpec } from './state-dict.js';

/** Whether every tensor the graph reads is already float32 (so the file can be mapped as is). */
export function needsFloat32Conversion(header: SafetensorsHeader, config: VggConfig): boolean {
  return stateDictSpec(config).some(
    (entry) => entry.role !== 'bn.num_batches_tracked' && header.tensors.get(entry.name)?.dtype !== 'F32',
  );
}

/**
 * Checks that a safetensors header holds exactly the torchvision state_dict of `config`. `num_batches_tracked`
 * may be absent (it does not affect inference) but must be a scalar integer when present.
 */
export function checkStateDict(header: SafetensorsHeader, config: VggConfig): void {
  const path = header.path;
  const expected = stateDictSpec(config);
  const expectedNames = new Set(expected.map((e) => e.name));
  const fmt = (shape: readonly number[]): string => `[${shape.join(', ')}]`;
  for (const entry of expected) {
    const actual = header.tensors.get(entry.name);
    if (!actual) {
      if (entry.role === 'bn.num_batches_tracked') continue;
      const extra = [...header.tensors.keys()].filter((name) => !expectedNames.has(name));
      const hint =
        extra.length > 0 && extra.every((n) => n.startsWith('module.'))
          ? ' (strip the "module." prefix)'
          : '';
      throw new VggWeightsError(
        { problem: 'missing', tensor: entry.name, expectedShape: entry.shape, actualShape: null, path },
        `Weights ${path} lack tensor ${entry.name} with shape ${fmt(entry.shape)} required by ${config.name}${hint}`,
      );
    }
    if (entry.role === 'bn.num_batches_tracked') {
      if (!/^[IU]\d+$/.test(actual.dtype) || numel(actual.shape) !== 1 || actual.shape.length > 1) {
        throw new VggWeightsError(
          { problem: 'shape', tensor: entry.name, expectedShape: [], actualShape: actual.shape, path },
          `Expected an integer scalar for ${entry.name} in ${path} but received ${actual.dtype} ${fmt(actual.shape)}`,
        );
      }
      continue;
    }
    if (!CONVERTIBLE_FLOAT_DTYPES.includes(actual.dtype)) {
      throw new VggWeightsError(
        { problem: 'dtype', tensor: entry.name, expectedShape: entry.shape, actualShape: actual.shape, path },
        `Expected F32, F16, BF16 or F64 for tensor ${entry.name} in ${path} but received ${actual.dtype}`,
      );
    }
    if (actual.shape.length !== entry.shape.length || actual.shape.some((d, i) => d !== entry.shape[i])) {
      throw new VggWeightsError(
        { problem: 'shape', tensor: entry.name, expectedShape: entry.shape, actualShape: actual.shape, path },
        `Expected shape ${fmt(entry.shape)} for tensor ${entry.name} of ${config.name} but ${path} has ${fmt(actual.shape)}`,
      );
    }
  }
  for (const [name, info] of header.tensors) {
    if (!expectedNames.has(name)) {
      throw new VggWeightsError(
        { problem: 'unexpected', tensor: name, expectedShape: null, actualShape: info.shape, path },
        `Weights ${path} hold tensor ${name} with shape ${fmt(info.shape)} that ${config.name} does not have`,
      );
    }
  }
}
