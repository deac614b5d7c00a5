import type { FlagTable, FlagValues } from 'vgg-cli-kit';
import type { PreprocessOptions } from './preprocess-options.js';

/**
 * The one definition of the preprocessing flags that `vgg-model predict` takes and the pipeline's run options
 * include. Defaults are vgg-core's and are applied by resolvePreprocessOptions, so an unset flag stays unset.
 */
export const PREPROCESS_FLAGS = {
  preprocess: {
    kind: 'choice',
    choices: ['torchvision', 'fast'],
    valueName: 'pipeline',
    defaultText: 'torchvision',
    description:
      "torchvision: the crop torchvision's eval transform makes of PIL's loader, byte for byte; fast: libvips, " +
      'colour-managed, shrink-on-load, not exact (README: Parity with PyTorch)',
  },
  noAutoOrient: {
    kind: 'boolean',
    description: "ignore EXIF orientation, as torchvision's default_loader does (strict parity)",
  },
} as const satisfies FlagTable;

/** Preprocessing chosen with {@link PREPROCESS_FLAGS}: unset flags are absent, `noAutoOrient` is a boolean. */
export type PreprocessFlagValues = FlagValues<typeof PREPROCESS_FLAGS>;

/** The {@link PreprocessOptions} these flags set (other keys of `values` are ignored). */
export function preprocessOptionsOf(
  values: Readonly<PreprocessFlagValues>,
): Pick<PreprocessOptions, 'pipeline' | 'autoOrient'> {
  return {
    ...(values.preprocess !== undefined ? { pipeline: values.preprocess } : {}),
    ...(values.noAutoOrient ? { autoOrient: false } : {}),
  };
}
