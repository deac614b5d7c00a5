import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { invalidOption, VggError } from './errors.js';
import { PAIR_OUTPUT, type PairHeadOptions, pairColumns } from './features/pair-head.js';
import { loadPairHead, type PairModelOptions } from './features/pair-options.js';
import { exists, linkOrCopy, sha256File, sha256Text, writeAtomically } from './file-cache.js';
import { convertWeights, ensureGraph } from './model-cache.js';
import { resolveVggConfig, type VggConfig, type VggConfigOverrides } from './model-config.js';
import { readUserOnnxFile } from './onnx/onnx-file.js';
import { type GraphPrecision, selectTaps } from './onnx/onnx-graph.js';
import { readSafetensorsHeader } from './safetensors.js';
import { checkSeed, SEEDED_INIT_VERSION, writeSeededWeights } from './seeded-init.js';
import { GRAM_TAP_PREFIX, listTaps, type VggTap } from './taps.js';
import { checkStateDict, needsFloat32Conversion } from './weights-check.js';

export interface ModelOptions {
  /** Variant name ("vgg16", "vgg16_bn") or layer list ("[64,'M',128,'M']"). Default "vgg16". Not with onnxPath. */
  model?: string;
  /** Path to a torchvision state_dict in safetensors (F32, F16, BF16 or F64). Mutually exclusive with onnxPath. */
  weightsPath?: string;
  /** Path to a VGG ONNX file with one input [N, 3, H, W] and logits [N, C] as first output. Not with weightsPath. */
  onnxPath?: string;
  /** Seed for the deterministic init used when neither weightsPath nor onnxPath is given. Default 0. */
  seed?: number;
  /** Width of fc6 and fc7. Default 4096. Not with onnxPath. */
  classifierWidth?: number;
  /** Number of classes. Default 1000; with onnxPath, taken from the file (must match if given). */
  numClasses?: number;
  /** Square input size in pixels. Default 224; with onnxPath, taken from the file (must match if given). */
  inputSize?: number;
  /** BatchNorm after every conv. Default false; a `_bn` model name sets it. Not with onnxPath. */
  batchNorm?: boolean;
  /** Output size of the adaptive average pool. Default 7. Not with onnxPath. */
  poolSize?: number;
  /** Directory for generated graphs and converted or seeded weights. Default: <os.tmpdir()>/vgg-core-cache. */
  cacheDir?: string;
  /**
   * The taps the graph declares as outputs: 'probs' (or 'logits') for classification, plus embedding taps such
   * as 'fc7' or 'relu3_3'; {@link modelOutputsFor} derives them from a run's request. The graph keeps only what
   * they need and is cached per set, so a run pays for nothing it does not read (every extra conv tap is one more
   * pass over a large activation). Default: every tap. With onnxPath only 'probs' and 'logits' are possible; probs
   * are then the softmax of the file's logits.
   */
  outputs?: readonly string[];
  /**
   * Element type of the generated graph's weights and activations: 'float16' is for CUDA (half the weight memory,
   * tensor cores), with a half-float copy of the weights cached beside the float32 one; inputs and outputs stay
   * float32. On the CPU onnxruntime runs float16 through casts, slower than float32. Not with onnxPath.
   * Default 'float32'.
   */
  precision?: GraphPrecision;
  /**
   * Adds the pair head: the graph then scores pairs (a images, then b images, in one batch) with the LPIPS-formula
   * perceptual distance, its per-layer terms and the feature reconstruction loss, as output `pair`. `outputs`
   * defaults to none then. Not with onnxPath.
   */
  pair?: PairModelOptions;
}

export interface ModelIdentity {
  /** e.g. "vgg16", "vgg16_bn", "custom[8,M,16,M]" or "onnx:<basename>". */
  variant: string;
  source: 'seeded' | 'safetensors' | 'onnx';
  /** sha256 hex of the weights/ONNX file bytes; for seeded: sha256 of the generated safetensors. */
  weightsSha256: string;
  /** True for seeded (random) weights. */
  untrained: boolean;
  seed: number | null;
  numClasses: number;
  inputSize: number;
}

export interface PreparedModel {
  identity: ModelIdentity;
  /** Null for a user ONNX file. */
  config: VggConfig | null;
  /** Absolute path of the .onnx file to give InferenceSession.create(path). */
  onnxPath: string;
  /** "input" for generated graphs; the file's input name for user ONNX. */
  inputName: string;
  /**
   * Output names by role, for the outputs the graph declares. `taps` holds each declared tap, logits and probs
   * included; for a user ONNX file only logits (probs are computed from them).
   */
  outputs: {
    logits?: string;
    probs?: string;
    taps: Record<string, { name: string; dim: number }>;
    /** The pair head, when prepared with `pair`: its output [pairs, columns.length] and column names. */
    pair?: {
      name: string;
      columns: string[];
      layers: string[];
      contentLayer: string;
      lpipsWeightsSha256: string | null;
    };
  };
  /** The float32 safetensors file the graph's initializers point into; null for a user ONNX file. */
  weightsPath: string | null;
  /** Batch size the graph requires, or null when the batch axis is dynamic (always null for generated graphs). */
  fixedBatchSize: number | null;
  /** Element type inside the graph; 'float32' for a user ONNX file (its own business). */
  precision: GraphPrecision;
}

export const DEFAULT_MODEL = 'vgg16';
export const DEFAULT_SEED = 0;

/**
 * The outputs a run reads, for {@link ModelOptions.outputs}: 'probs' when it classifies (topK > 0), then its
 * embedding taps.
 */
export function modelOutputsFor(request: {
  readonly topK: number;
  readonly taps: readonly string[];
}): string[] {
  return [...new Set([...(request.topK > 0 ? ['probs'] : []), ...request.taps])];
}

/**
 * Resolves weights (seeded, safetensors or user ONNX) into an ONNX file ready for onnxruntime. Generated graphs
 * and weights live in `cacheDir` under content-derived names, so repeat calls only re-hash the weights file.
 */
export async function prepareModel(options: ModelOptions = {}): Promise<PreparedModel> {
  checkOptions(options);
  if (options.onnxPath !== undefined) return prepareUserOnnx(options.onnxPath, options);
  const overrides: VggConfigOverrides = {};
  if (options.classifierWidth !== undefined) overrides.classifierWidth = options.classifierWidth;
  if (options.numClasses !== undefined) overrides.numClasses = options.numClasses;
  if (options.inputSize !== undefined) overrides.inputSize = options.inputSize;
  if (options.batchNorm !== undefined) overrides.batchNorm = options.batchNorm;
  if (options.poolSize !== undefined) overrides.poolSize = options.poolSize;
  const config = resolveVggConfig(options.model ?? DEFAULT_MODEL, overrides);
  const cacheDir = resolve(options.cacheDir ?? join(tmpdir(), 'vgg-core-cache'));
  await mkdir(cacheDir, { recursive: true });
  const pair = options.pair === undefined ? null : await loadPairHead(config, options.pair);
  const taps = pair !== null && options.outputs === undefined ? [] : selectTaps(config, options.outputs);
  const precision = options.precision ?? 'float32';
  const prepared =
    options.weightsPath !== undefined
      ? await prepareSafetensors(config, taps, precision, options.weightsPath, cacheDir, pair)
      : await prepareSeeded(config, taps, precision, options.seed ?? DEFAULT_SEED, cacheDir, pair);
  if (pair !== null) {
    prepared.outputs.pair = {
      name: PAIR_OUTPUT,
      columns: pairColumns(pair.head),
      layers: [...pair.head.layers],
      contentLayer: pair.head.contentLayer,
      lpipsWeightsSha256: pair.weightsSha256,
    };
  }
  return prepared;
}

type PairHead = { head: PairHeadOptions; weightsSha256: string | null } | null;

/** Looks up a tap of a prepared model; throws VGG_UNKNOWN_TAP with what is available. */
export function getModelTap(model: PreparedModel, tap: string): { name: string; dim: number } {
  const found = Object.hasOwn(model.outputs.taps, tap) ? model.outputs.taps[tap] : undefined;
  if (found) return found;
  if (model.config === null) {
    throw new VggError(
      'VGG_UNKNOWN_TAP',
      `Tap ${JSON.stringify(tap)} is not available for ONNX file ${model.onnxPath}: a user-supplied graph only ` +
        `provides logits (output ${JSON.stringify(model.outputs.logits)})`,
    );
  }
  const declared = Object.keys(model.outputs.taps).join(', ');
  if (listTaps(model.config).some((t) => t.name === tap) || tap.startsWith(GRAM_TAP_PREFIX)) {
    throw new VggError(
      'VGG_UNKNOWN_TAP',
      `Tap ${JSON.stringify(tap)} is not an output of this ${model.identity.variant} graph (it declares ${declared}); ` +
        'include it in the outputs passed to prepareModel',
    );
  }
  throw new VggError(
    'VGG_UNKNOWN_TAP',
    `Expected one of ${listTaps(model.config)
      .map((t) => t.name)
      .join(', ')} for tap of ${model.identity.variant} but received ${JSON.stringify(tap)}`,
  );
}

function checkOptions(options: ModelOptions): void {
  if (options === null || typeof options !== 'object') throw invalidOption('options', 'object', options);
  for (const key of ['model', 'weightsPath', 'onnxPath', 'cacheDir'] as const) {
    const value = options[key];
    if (value !== undefined && (typeof value !== 'string' || value === '')) {
      throw invalidOption(key, 'non-empty string', value);
    }
  }
  if (options.weightsPath !== undefined && options.onnxPath !== undefined) {
    throw new VggError(
      'VGG_INVALID_OPTION',
      `Expected at most one of weightsPath and onnxPath but received both (${options.weightsPath}, ${options.onnxPath})`,
    );
  }
  for (const key of ['classifierWidth', 'numClasses', 'inputSize', 'poolSize'] as const) {
    const value = options[key];
    if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value < 1)) {
      throw invalidOption(key, 'positive integer', value);
    }
  }
  if (options.seed !== undefined) checkSeed(options.seed);
  if (
    options.outputs !== undefined &&
    (!Array.isArray(options.outputs) ||
      options.outputs.length === 0 ||
      options.outputs.some((name) => typeof name !== 'string'))
  ) {
    throw invalidOption('outputs', 'non-empty array of tap names (e.g. ["probs", "fc7"])', options.outputs);
  }
  if (options.precision !== undefined && options.precision !== 'float32' && options.precision !== 'float16') {
    throw invalidOption('precision', "one of 'float32', 'float16'", options.precision);
  }
  if (options.pair !== undefined && (options.pair === null || typeof options.pair !== 'object')) {
    throw invalidOption('pair', 'object', options.pair);
  }
  if (options.pair !== undefined && options.outputs !== undefined) {
    // onnxruntime runs every node of the graph on each call, so a pair graph could not also embed single images.
    throw invalidOption(
      'outputs',
      'unset with pair (a pair graph outputs only the pair scores)',
      options.outputs,
    );
  }
  if (options.onnxPath !== undefined) {
    const other = options.outputs?.find((name) => name !== 'probs' && name !== 'logits');
    if (other !== undefined) {
      throw new VggError(
        'VGG_UNKNOWN_TAP',
        `Tap ${JSON.stringify(other)} is not available for ONNX file ${options.onnxPath}: a user-supplied graph only ` +
          'provides logits (and probs computed from them)',
      );
    }
    for (const key of ['model', 'classifierWidth', 'batchNorm', 'poolSize', 'precision', 'pair'] as const) {
      if (options[key] !== undefined) {
        throw new VggError(
          'VGG_INVALID_OPTION',
          `Expected ${key} to be unset with onnxPath (the ONNX file fixes the architecture) but received ${JSON.stringify(options[key])}`,
          { option: key },
        );
      }
    }
  }
}

async function prepareSeeded(
  config: VggConfig,
  taps: readonly VggTap[],
  precision: GraphPrecision,
  seed: number,
  cacheDir: string,
  pair: PairHead,
): Promise<PreparedModel> {
  // The input size does not change any weight, so every input size shares one weights file.
  const { inputSize: _inputSize, name: _name, ...architecture } = config;
  const key = sha256Text(JSON.stringify({ v: SEEDED_INIT_VERSION, seed, architecture })).slice(0, 32);
  const dir = join(cacheDir, `seeded-${key}`);
  await mkdir(dir, { recursive: true });
  const weightsPath = join(dir, 'weights.safetensors');
  const sidecar = join(dir, 'weights.json');
  let sha256: string | null = null;
  try {
    const info = JSON.parse(await readFile(sidecar, 'utf8')) as { sha256?: unknown; byteLength?: unknown };
    const size = (await stat(weightsPath)).size;
    if (typeof info.sha256 === 'string' && info.byteLength === size) sha256 = info.sha256;
  } catch {
    sha256 = null;
  }
  if (sha256 === null) {
    const written = await writeAtomically(weightsPath, (tmp) => writeSeededWeights(tmp, config, seed));
    await writeAtomically(sidecar, (tmp) =>
      writeFile(tmp, JSON.stringify({ sha256: written.sha256, byteLength: written.byteLength, seed })),
    );
    sha256 = written.sha256;
  }
  const files = await ensureGraph(dir, config, taps, precision, weightsPath, pair);
  return ours(config, taps, precision, files, {
    variant: config.name,
    source: 'seeded',
    weightsSha256: sha256,
    untrained: true,
    seed,
    numClasses: config.numClasses,
    inputSize: config.inputSize,
  });
}

async function prepareSafetensors(
  config: VggConfig,
  taps: readonly VggTap[],
  precision: GraphPrecision,
  path: string,
  cacheDir: string,
  pair: PairHead,
): Promise<PreparedModel> {
  const source = resolve(path);
  const header = await readSafetensorsHeader(source);
  checkStateDict(header, config);
  const sha256 = await sha256File(source);
  const dir = join(cacheDir, `weights-${sha256.slice(0, 32)}`);
  await mkdir(dir, { recursive: true });
  const weightsPath = join(dir, 'weights.safetensors');
  if (needsFloat32Conversion(header, config)) {
    // onnxruntime maps initializers byte for byte, so F16/BF16 weights are widened into an f32 file once.
    if (!(await exists(weightsPath))) {
      await writeAtomically(weightsPath, (tmp) => convertWeights(source, config, 'F32', tmp));
    }
  } else {
    await linkOrCopy(source, weightsPath);
  }
  const files = await ensureGraph(dir, config, taps, precision, weightsPath, pair);
  return ours(config, taps, precision, files, {
    variant: config.name,
    source: 'safetensors',
    weightsSha256: sha256,
    untrained: false,
    seed: null,
    numClasses: config.numClasses,
    inputSize: config.inputSize,
  });
}

function ours(
  config: VggConfig,
  declared: readonly VggTap[],
  precision: GraphPrecision,
  { onnxPath, weightsPath }: { onnxPath: string; weightsPath: string },
  identity: ModelIdentity,
): PreparedModel {
  const taps: Record<string, { name: string; dim: number }> = {};
  for (const tap of declared) taps[tap.name] = { name: tap.name, dim: tap.dim };
  return {
    identity,
    config,
    onnxPath,
    inputName: 'input',
    outputs: {
      ...(taps.logits ? { logits: 'logits' } : {}),
      ...(taps.probs ? { probs: 'probs' } : {}),
      taps,
    },
    weightsPath,
    fixedBatchSize: null,
    precision,
  };
}

async function prepareUserOnnx(path: string, options: ModelOptions): Promise<PreparedModel> {
  const onnxPath = resolve(path);
  const expect: { inputSize?: number; numClasses?: number } = {};
  if (options.inputSize !== undefined) expect.inputSize = options.inputSize;
  if (options.numClasses !== undefined) expect.numClasses = options.numClasses;
  const { sha256, signature } = await readUserOnnxFile(onnxPath, expect);
  return {
    identity: {
      variant: `onnx:${basename(onnxPath)}`,
      source: 'onnx',
      weightsSha256: sha256,
      untrained: false,
      seed: null,
      numClasses: signature.numClasses,
      inputSize: signature.inputSize,
    },
    config: null,
    onnxPath,
    inputName: signature.inputName,
    outputs: {
      logits: signature.outputName,
      taps: { logits: { name: signature.outputName, dim: signature.numClasses } },
    },
    weightsPath: null,
    fixedBatchSize: signature.fixedBatchSize,
    precision: 'float32',
  };
}
