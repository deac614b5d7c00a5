import type { VggConfig } from './model-config.js';
import { vggLayout } from './vgg-layout.js';

/** What a tensor of the torchvision state_dict is, which decides how it is initialised and counted. */
export type StateDictRole =
  | 'conv.weight'
  | 'conv.bias'
  | 'bn.weight'
  | 'bn.bias'
  | 'bn.running_mean'
  | 'bn.running_var'
  | 'bn.num_batches_tracked'
  | 'linear.weight'
  | 'linear.bias';

export interface StateDictEntry {
  /** torchvision key, e.g. "features.0.weight" or "classifier.6.bias". */
  readonly name: string;
  readonly shape: readonly number[];
  readonly role: StateDictRole;
  /** Input features of the layer that owns the tensor (conv: Cin*9); used by initialisers. */
  readonly fanIn: number;
  /** Whether it is a trainable parameter; BN running stats and the counter are buffers. */
  readonly isParameter: boolean;
  /** Whether the logits layer owns it (initialised without the ReLU gain). */
  readonly isLogits: boolean;
}

/** The tensors of a torchvision VGG state_dict, in torchvision's order. */
export function stateDictSpec(config: VggConfig): StateDictEntry[] {
  const layout = vggLayout(config);
  const entries: StateDictEntry[] = [];
  const add = (name: string, shape: number[], role: StateDictRole, fanIn: number, isLogits = false): void => {
    const isParameter = !role.startsWith('bn.running') && role !== 'bn.num_batches_tracked';
    entries.push({ name, shape, role, fanIn, isParameter, isLogits });
  };
  for (const stage of layout.features) {
    if (stage.kind !== 'conv') continue;
    const fanIn = stage.inChannels * 9;
    const conv = `features.${stage.convIndex}`;
    add(`${conv}.weight`, [stage.outChannels, stage.inChannels, 3, 3], 'conv.weight', fanIn);
    add(`${conv}.bias`, [stage.outChannels], 'conv.bias', fanIn);
    if (stage.bnIndex !== null) {
      const bn = `features.${stage.bnIndex}`;
      add(`${bn}.weight`, [stage.outChannels], 'bn.weight', fanIn);
      add(`${bn}.bias`, [stage.outChannels], 'bn.bias', fanIn);
      add(`${bn}.running_mean`, [stage.outChannels], 'bn.running_mean', fanIn);
      add(`${bn}.running_var`, [stage.outChannels], 'bn.running_var', fanIn);
      add(`${bn}.num_batches_tracked`, [], 'bn.num_batches_tracked', fanIn);
    }
  }
  for (const fc of layout.classifier) {
    const isLogits = fc.name === 'fc8';
    add(
      `classifier.${fc.index}.weight`,
      [fc.outFeatures, fc.inFeatures],
      'linear.weight',
      fc.inFeatures,
      isLogits,
    );
    add(`classifier.${fc.index}.bias`, [fc.outFeatures], 'linear.bias', fc.inFeatures, isLogits);
  }
  return entries;
}

/** Number of trainable parameters, counted as torchvision does (BN running stats are buffers). */
export function countParameters(config: VggConfig): number {
  let total = 0;
  for (const entry of stateDictSpec(config)) {
    if (entry.isParameter) total += numel(entry.shape);
  }
  return total;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
