import type { VggConfig } from '../model-config.js';
import { Xoshiro128 } from '../seeded-init.js';
import { numel, stateDictSpec } from '../state-dict.js';

/**
 * A state_dict with non-trivial values everywhere, for tests: weights on the He scale, non-zero biases, and batch
 * norm statistics far from the identity (gamma 0.5..1.5, beta ±0.3, mean ±0.3, var 0.25..2), so a graph that
 * ignored or misapplied any of them would fail.
 */
export function randomStateDict(config: VggConfig, seed: number): Map<string, Float32Array> {
  const rng = new Xoshiro128(seed, 0xbeef);
  const out = new Map<string, Float32Array>();
  for (const entry of stateDictSpec(config)) {
    if (entry.role === 'bn.num_batches_tracked') continue;
    const data = new Float32Array(numel(entry.shape));
    const bound = Math.sqrt(6 / entry.fanIn);
    for (let i = 0; i < data.length; i++) {
      switch (entry.role) {
        case 'bn.weight':
          data[i] = rng.uniform(0.5, 1.5);
          break;
        case 'bn.running_var':
          data[i] = rng.uniform(0.25, 2);
          break;
        case 'bn.bias':
        case 'bn.running_mean':
          data[i] = rng.uniform(-0.3, 0.3);
          break;
        case 'conv.bias':
        case 'linear.bias':
          data[i] = rng.uniform(-0.2, 0.2);
          break;
        default:
          data[i] = rng.uniform(-bound, bound);
      }
    }
    out.set(entry.name, data);
  }
  return out;
}
