import { type FlagInput, type FlagSpec, type FlagTable, type FlagValues, flagName } from 'vgg-cli-kit';
import { DEFAULT_CONTENT_LAYER, DEFAULT_MODEL, DEFAULT_SEED, MODEL_FLAGS, PREPROCESS_FLAGS } from 'vgg-core';
import { INPUT_FORMATS } from '../inputs/source-kinds.js';

/**
 * THE definition of a run's options. `vgg-producer submit` and `vgg-local` derive their flags, environment twins
 * (`--chunk-size` <-> `VGG_CHUNK_SIZE`) and --help from it; {@link planRun} derives the stored {@link RunSpec} from
 * it; validation at submit names its flags. To add a run option, add one entry here: its flag description, kind,
 * bounds and default, and the `section` of the spec it lands in (under its own key unless `field` renames it). The
 * model entries are vgg-core's {@link MODEL_FLAGS}, so `vgg-model` takes the same model flags.
 */

/** Where an option's value goes: a section of the stored spec, its top level (`run`), or the chunk jobs. */
export type RunOptionSection = 'model' | 'preprocess' | 'input' | 'output' | 'run' | 'job';

/** What a run option adds to a flag: its home in the spec. */
export interface RunOptionTarget {
  section: RunOptionSection;
  /** Field name in the section. Default: the option's key. */
  field?: string;
  /**
   * The value stored for the option (undefined stores nothing), given its value and all options. Default: the
   * value itself. Used where the stored form predates the flag (`--fp16` stores `dtype`).
   */
  store?: (value: never, options: Readonly<Record<string, unknown>>) => unknown;
}

export type RunOptionTable = { readonly [key: string]: FlagSpec & RunOptionTarget };

/** Puts every flag of a table in one section. */
function inSection<S extends RunOptionSection, T extends FlagTable>(
  section: S,
  table: T,
): { [K in keyof T]: T[K] & { section: S } } {
  const entries = Object.entries(table).map(([key, spec]) => [key, { ...spec, section }]);
  return Object.fromEntries(entries) as unknown as { [K in keyof T]: T[K] & { section: S } };
}

export const RUN_OPTIONS = {
  // --- the model: vgg-core's flags, with files named by URI ---
  ...inSection('model', MODEL_FLAGS),
  model: { ...MODEL_FLAGS.model, section: 'model', store: (model?: string) => model ?? DEFAULT_MODEL },
  weights: {
    ...MODEL_FLAGS.weights,
    section: 'model',
    valueName: 'uri',
    description: 'torchvision state_dict as .safetensors (path, s3:// or https://)',
  },
  onnx: {
    ...MODEL_FLAGS.onnx,
    section: 'model',
    valueName: 'uri',
    description: 'a VGG ONNX file (path, s3:// or https://); logits only, no taps',
  },
  seed: { ...MODEL_FLAGS.seed, section: 'model', store: (seed?: number) => seed ?? DEFAULT_SEED },
  batchNorm: { ...MODEL_FLAGS.batchNorm, section: 'model', store: (on: boolean) => (on ? true : undefined) },

  // --- what each row holds ---
  top: {
    kind: 'integer',
    min: 1,
    default: 5,
    valueName: 'k',
    description: 'top-k predictions per image',
    section: 'output',
    field: 'topK',
  },
  taps: {
    kind: 'list',
    default: [],
    defaultText: 'none',
    description:
      'embedding taps: fc6,fc7,pool5,relu1_2,relu2_2,relu3_3,relu4_3,...; gram:relu1_2,... for normalised Gram matrices (upper triangle)',
    section: 'output',
  },
  l2: { kind: 'boolean', description: 'L2-normalise embeddings', section: 'output', field: 'l2Normalize' },
  fp16: {
    kind: 'boolean',
    description: 'store embeddings as float16',
    section: 'output',
    field: 'dtype',
    store: (on: boolean) => (on ? 'float16' : 'float32'),
  },
  npy: {
    kind: 'boolean',
    description: 'also write clip-retrieval style .npy embedding shards',
    section: 'output',
  },
  redactParams: {
    kind: 'list',
    default: [],
    defaultText: 'none',
    valueName: 'names',
    description:
      "query parameters stripped from the outputs' URIs, besides the built-in list of credential names (signature, token, key, secret, password, X-Amz-*, sig, ...; see README)",
    section: 'output',
    // Stored lowercase, and not at all when empty, so specs from before the option compare equal on resume.
    store: (names: string[]) => (names.length > 0 ? names.map((name) => name.toLowerCase()) : undefined),
  },
  // --- pair runs (perceptual distance): one row per pair of images ---
  pairs: {
    kind: 'string',
    valueName: 'file',
    description:
      'score pairs instead of images: a CSV, TSV, JSONL or Parquet manifest (path, s3:// or https://) with columns a and b (image URIs; --key-col names a key column); each pair is one row with perceptual_distance (LPIPS formula over relu1_2..relu5_3), its lpips_<layer> terms and feature_reconstruction_loss',
    section: 'output',
    store: (file: string | undefined, options) =>
      file === undefined
        ? undefined
        : {
            manifest: file,
            contentLayer: options.contentLayer ?? DEFAULT_CONTENT_LAYER,
            ...(typeof options.lpipsWeights === 'string' ? { lpipsWeights: options.lpipsWeights } : {}),
            ...(options.pairSize === 'native' ? { size: 'native' } : {}),
          },
  },
  pairSize: {
    kind: 'choice',
    choices: ['crop', 'native'],
    valueName: 'mode',
    defaultText: 'crop',
    description:
      "with --pairs: crop = the run's Resize and CenterCrop (--resize-size, --crop-size); native = each image at its own size, no resize and no crop (a and b must be the same size, each side at least 16 px; torchvision pipeline only), e.g. an original and its compressed copy",
    section: 'output',
    // Stored inside `pairs`.
    store: () => undefined,
  },
  contentLayer: {
    kind: 'string',
    valueName: 'layer',
    defaultText: DEFAULT_CONTENT_LAYER,
    description: 'with --pairs: layer of feature_reconstruction_loss (a conv tap such as relu3_3)',
    section: 'output',
    // Stored inside `pairs`.
    store: () => undefined,
  },
  lpipsWeights: {
    kind: 'string',
    valueName: 'uri',
    defaultText: 'none (every channel weighs 1)',
    description:
      "with --pairs: LPIPS's learned linear layers as .safetensors (lin0.model.1.weight ... lin4.model.1.weight, converted from LPIPS's vgg.pth)",
    section: 'output',
    store: () => undefined,
  },

  // --- preprocessing: vgg-core's PreprocessOptions ---
  resizeSize: {
    kind: 'integer',
    min: 1,
    valueName: 'px',
    defaultText: '256, or 256/224 of --input-size',
    description: 'shorter side before the centre crop',
    section: 'preprocess',
    // Keeps torchvision's 256/224 ratio for other input sizes.
    store: (size: number | undefined, options) =>
      size ??
      (typeof options.inputSize === 'number' ? Math.round((options.inputSize * 256) / 224) : undefined),
  },
  cropSize: {
    kind: 'integer',
    min: 1,
    valueName: 'px',
    defaultText: 'the input size',
    description: 'centre crop side',
    section: 'preprocess',
    store: (size: number | undefined, options) => size ?? options.inputSize,
  },
  caffe: {
    kind: 'boolean',
    description: 'Caffe preprocessing: BGR, mean subtraction, no std (Caffe-converted weights)',
    section: 'preprocess',
    field: 'mode',
    store: (on: boolean) => (on ? 'caffe' : undefined),
  },
  maxPixels: {
    kind: 'integer',
    min: 1,
    defaultText: '100000000',
    description: 'refuse images with more pixels (decompression bombs)',
    section: 'preprocess',
  },
  // vgg-core's PREPROCESS_FLAGS, as vgg-model takes them.
  preprocess: { ...PREPROCESS_FLAGS.preprocess, section: 'preprocess', field: 'pipeline' },
  noAutoOrient: {
    ...PREPROCESS_FLAGS.noAutoOrient,
    section: 'preprocess',
    field: 'autoOrient',
    store: (on: boolean) => (on ? false : undefined),
  },

  // --- how sources are read (RunInputSpec) ---
  inputFormat: {
    kind: 'choice',
    choices: INPUT_FORMATS,
    defaultText: 'by extension',
    description:
      'read every file source (and the files of a directory or prefix) as this format; text manifests may be gzip or zstd',
    section: 'input',
    field: 'format',
  },
  urlCol: {
    kind: 'string',
    valueName: 'name',
    defaultText: 'uri, else url',
    description: 'manifest column (CSV, TSV, Parquet) or JSON field holding each image URI',
    section: 'input',
  },
  keyCol: {
    kind: 'string',
    valueName: 'name',
    defaultText: "none; tar shards: WebDataset's __key__",
    description: "manifest column or field carried into each row's key",
    section: 'input',
  },
  keepCols: {
    kind: 'list',
    default: [],
    defaultText: 'none',
    description:
      "columns carried into output columns of the same names (text): manifest columns or fields, or for tar shards fields of a sample's .json and its members by extension (txt)",
    section: 'input',
  },

  // --- the run and its jobs ---
  chunkSize: {
    kind: 'integer',
    min: 1,
    // A worker holds a chunk's results (every embedding) until it commits the shard: 10k rows of fc7 as float32
    // are 160 MiB per chunk in flight.
    max: 10_000,
    default: 256,
    description:
      "images per queue job (at most 10000: a worker holds a chunk's results until its shard is written)",
    section: 'run',
  },
  attempts: {
    kind: 'integer',
    min: 1,
    default: 3,
    description: 'tries per chunk before it is recorded as failed',
    section: 'job',
  },
  out: {
    kind: 'string',
    valueName: 'uri',
    required: true,
    description: 'output: s3://bucket/prefix or a local directory',
    section: 'output',
  },
  runId: {
    kind: 'string',
    flag: 'run',
    valueName: 'id',
    defaultText: 'generated',
    description: 'run id; submit the same id again to resume it',
    section: 'run',
  },
} as const satisfies RunOptionTable;

/** A run's options: what `vgg-producer submit` takes, as values. Unset options are absent. */
export type RunOptions = FlagValues<typeof RUN_OPTIONS>;

/** Run options as code gives them: `out` is required, every other option may be left to its default. */
export type RunOptionsInput = FlagInput<typeof RUN_OPTIONS>;

/** The flag of a run option, e.g. `--crop-size`. */
export function runOptionFlag(key: keyof typeof RUN_OPTIONS): string {
  return flagName(key, RUN_OPTIONS[key]);
}

/** The run option stored at `field` of `section`, for naming it in messages. */
export function runOptionAt(section: RunOptionSection, field: string): keyof typeof RUN_OPTIONS | undefined {
  const table: RunOptionTable = RUN_OPTIONS;
  return Object.entries(table).find(
    ([key, spec]) => spec.section === section && (spec.field ?? key) === field,
  )?.[0] as keyof typeof RUN_OPTIONS | undefined;
}

/** Every section of the spec, filled from options by walking {@link RUN_OPTIONS}. */
export type RunOptionSections = Record<RunOptionSection, Record<string, unknown>>;

/** Distributes options over the sections of the spec, as each entry of {@link RUN_OPTIONS} says. */
export function sectionsOf(options: RunOptions): RunOptionSections {
  const sections: RunOptionSections = { model: {}, preprocess: {}, input: {}, output: {}, run: {}, job: {} };
  const all = options as Readonly<Record<string, unknown>>;
  const table: RunOptionTable = RUN_OPTIONS;
  for (const [key, target] of Object.entries(table)) {
    const value = all[key];
    const stored = target.store
      ? (target.store as (v: unknown, o: typeof all) => unknown)(value, all)
      : value;
    if (stored !== undefined) sections[target.section][target.field ?? key] = stored;
  }
  return sections;
}
