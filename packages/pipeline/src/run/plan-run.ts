import { expectedValue, findConflict, withDefaults } from 'vgg-cli-kit';
import {
  isVggError,
  LPIPS_LAYERS,
  listGramTaps,
  listTaps,
  resolvePairLayers,
  resolvePreprocessOptions,
  resolveVggConfig,
  type VggConfig,
} from 'vgg-core';
import { isPipelineError, RunError } from '../errors.js';
import { inputFormatOf } from '../inputs/source-kinds.js';
import { parseLocation } from '../storage/location.js';
import { modelOptionsForRun } from './model-binding.js';
import { checkKeptColumns } from './output-columns.js';
import {
  RUN_OPTIONS,
  type RunOptionSection,
  type RunOptions,
  type RunOptionsInput,
  type RunOptionTable,
  runOptionAt,
  runOptionFlag,
  sectionsOf,
} from './run-options.js';
import {
  generateRunId,
  type RunModelSpec,
  type RunOutputSpec,
  type RunInputSpec,
  type RunPreprocessSpec,
  type RunSpec,
  validateRunId,
} from './run-spec.js';

/** A run ready to submit: its spec, and how its chunk jobs are tried. */
export interface RunPlan {
  spec: RunSpec;
  /** Attempts per chunk before it is recorded as failed. */
  attempts: number;
}

/**
 * Builds a run's spec from its options and checks that it can work, before anything is enqueued: each value against
 * its flag, flags that exclude each other, the output location, and the model, taps and preprocessing against
 * vgg-core (so `--taps relu9_9` fails here, not in a worker at commit). Throws {@link RunError} `RUN_INVALID` whose
 * `field` is the flag at fault and whose message names it and the valid values.
 */
export function planRun(input: RunOptionsInput, now: Date = new Date()): RunPlan {
  const options = withDefaults(RUN_OPTIONS, input);
  checkValues(options);
  const sections = sectionsOf(options);
  const runId = sections.run.runId === undefined ? generateRunId(now) : String(sections.run.runId);
  attempt('runId', () => validateRunId(runId));
  const spec: RunSpec = {
    runId,
    createdAt: now.toISOString(),
    model: sections.model as RunModelSpec,
    preprocess: sections.preprocess as RunPreprocessSpec,
    input: sections.input as unknown as RunInputSpec,
    output: { ...sections.output, out: outputRoot(options.out) } as RunOutputSpec,
    chunkSize: sections.run.chunkSize as number,
  };
  if (spec.output.pairs !== undefined) planPairs(spec, options);
  else if (
    options.contentLayer !== undefined ||
    options.lpipsWeights !== undefined ||
    options.pairSize !== undefined
  ) {
    const key =
      options.contentLayer !== undefined
        ? 'contentLayer'
        : options.lpipsWeights !== undefined
          ? 'lpipsWeights'
          : 'pairSize';
    const flag = runOptionFlag(key);
    throw new RunError('RUN_INVALID', { field: flag }, `${flag} applies to pair runs; add --pairs FILE.`);
  }
  validateSpec(spec);
  return { spec, attempts: sections.job.attempts as number };
}

/**
 * A pair run: its rows are pairs, not images, so it has no top-k, no taps, and keeps column `b` (the second image)
 * beside `uri` (the first); the model must have LPIPS's layers and the content layer.
 */
function planPairs(spec: RunSpec, options: RunOptions): void {
  const output = spec.output;
  for (const key of ['taps', 'l2', 'fp16', 'npy'] as const) {
    const value = options[key];
    if (value === true || (Array.isArray(value) && value.length > 0)) {
      const flag = runOptionFlag(key);
      throw new RunError(
        'RUN_INVALID',
        { field: flag },
        `${flag} applies to image runs; a --pairs run writes only the pair scores (drop ${flag}, or submit the images as their own run).`,
      );
    }
  }
  if (spec.model.onnx !== undefined) {
    throw new RunError(
      'RUN_INVALID',
      { field: '--onnx' },
      '--pairs needs a generated VGG graph (--model with --weights, or seeded); an --onnx file provides only logits.',
    );
  }
  const { model: variant, ...overrides } = modelOptionsForRun(spec.model);
  const config = attempt('model', () => resolveVggConfig(variant ?? spec.model.model, overrides), 'model');
  try {
    resolvePairLayers(config, { contentLayer: output.pairs?.contentLayer ?? '' });
  } catch (cause) {
    if (!isVggError(cause, 'VGG_INVALID_OPTION')) throw cause;
    const layers = cause.message.includes('for pairLayers');
    const flag = runOptionFlag(layers ? 'model' : 'contentLayer');
    const message = layers
      ? `Expected a model with LPIPS's layers (${LPIPS_LAYERS.join(', ')}: vgg16 or vgg19, with or without _bn) for --model with --pairs but received ${JSON.stringify(spec.model.model)}`
      : cause.message.replace(' for contentLayer but', ` for ${flag} but`);
    throw new RunError('RUN_INVALID', { field: flag }, message, { cause });
  }
  if (output.pairs?.size === 'native' && spec.preprocess.pipeline === 'fast') {
    throw new RunError(
      'RUN_INVALID',
      { field: runOptionFlag('pairSize') },
      `--pair-size native decodes with the torchvision pipeline (PIL's pixels at full size); drop ${runOptionFlag('preprocess')} fast.`,
    );
  }
  output.topK = 0;
  if (spec.input.keepCols.includes('b')) {
    throw invalid('keepCols', 'columns other than b (a pair run keeps b, the second image, itself)', 'b');
  }
  const format = spec.input.format ?? inputFormatOf(output.pairs?.manifest ?? '');
  if (format !== 'csv' && format !== 'tsv' && format !== 'jsonl' && format !== 'parquet') {
    throw invalid(
      'pairs',
      'a manifest of pairs: .csv, .tsv, .jsonl (optionally .gz or .zst) or .parquet, or name the format with --input-format',
      output.pairs?.manifest,
    );
  }
  spec.input = { ...spec.input, urlCol: 'a', keepCols: ['b', ...spec.input.keepCols], uriCols: ['b'] };
}

function checkValues(options: RunOptions): void {
  const table: RunOptionTable = RUN_OPTIONS;
  const values = options as Readonly<Record<string, unknown>>;
  for (const [key, spec] of Object.entries(table)) {
    const value = values[key];
    if (value === undefined) continue;
    const expected = expectedValue(spec, value);
    if (expected !== null) throw invalid(key as keyof typeof RUN_OPTIONS, expected, value);
  }
  if (values.out === undefined) throw invalid('out', 's3:// URI or local directory', undefined);
  const conflict = findConflict(table, values);
  if (conflict) {
    const [a, b] = conflict.map((key) => runOptionFlag(key as keyof typeof RUN_OPTIONS));
    throw new RunError(
      'RUN_INVALID',
      { field: a ?? null },
      `Expected at most one of ${a} and ${b} but received both`,
    );
  }
}

/** `<out>` as stored: an absolute local directory, or an s3:// URI without a trailing slash. */
function outputRoot(out: string): string {
  const location = attempt('out', () => parseLocation(out));
  if (location.kind === 'http') throw invalid('out', 's3:// URI or local directory', out);
  return location.kind === 'local' ? location.dir : out.replace(/\/+$/, '');
}

function validateSpec(spec: RunSpec): void {
  const { model, output } = spec;
  let config: VggConfig | null = null;
  if (model.onnx === undefined) {
    const { model: variant, ...overrides } = modelOptionsForRun(model);
    config = attempt('model', () => resolveVggConfig(variant ?? model.model, overrides), 'model');
  }
  // A user ONNX file only provides logits; generated graphs provide every tap of their configuration.
  const available = config ? listTaps(config).map((tap) => tap.name) : ['logits'];
  const grams = config ? listGramTaps(config).map((tap) => tap.name) : [];
  const seen = new Set<string>();
  for (const tap of output.taps) {
    if (!available.includes(tap) && !grams.includes(tap)) {
      const gramText = config ? ', or gram:<conv tap> (gram:relu1_2, …)' : '';
      throw invalid(
        'taps',
        `one of ${available.join(', ')}${gramText} (taps of ${config?.name ?? 'an ONNX file'})`,
        tap,
      );
    }
    if (seen.has(tap)) throw invalid('taps', 'each tap once', output.taps.join(','));
    seen.add(tap);
  }
  if ((output.l2Normalize || output.dtype === 'float16' || output.npy) && output.taps.length === 0) {
    throw new RunError(
      'RUN_INVALID',
      { field: '--taps' },
      '--l2, --fp16 and --npy apply to embeddings; add --taps (for example --taps fc7).',
    );
  }
  const keptProblem = checkKeptColumns(spec.input.keepCols);
  if (keptProblem !== null) throw invalid('keepCols', keptProblem, spec.input.keepCols.join(','));
  const preprocess = attempt('cropSize', () => resolvePreprocessOptions(spec.preprocess), 'preprocess');
  // The engine feeds the crop to the model as is, so it must be the model's input size.
  const inputSize = config?.inputSize ?? model.inputSize;
  if (inputSize !== undefined && preprocess.cropSize !== inputSize) {
    throw invalid('cropSize', `${inputSize} (the model's --input-size)`, preprocess.cropSize);
  }
}

function invalid(key: keyof typeof RUN_OPTIONS, expected: string, received: unknown): RunError {
  const flag = runOptionFlag(key);
  const shown = typeof received === 'string' ? JSON.stringify(received) : String(received);
  return new RunError(
    'RUN_INVALID',
    { field: flag },
    `Expected ${expected} for ${flag} but received ${shown}`,
  );
}

/**
 * Runs a vgg-core (or pipeline) check and rewords its validation error with the flag the user typed: vgg-core
 * names options as in "Expected X for poolSize but received Y" or "Expected inputSize of …"; an option of
 * `section` named there becomes its flag, and otherwise `fallback`'s flag prefixes the message.
 */
function attempt<T>(
  fallback: keyof typeof RUN_OPTIONS,
  check: () => T,
  section: RunOptionSection = 'run',
): T {
  try {
    return check();
  } catch (cause) {
    if (!isVggError(cause, 'VGG_INVALID_OPTION') && !isPipelineError(cause, 'OPTION_INVALID')) throw cause;
    // vgg-core names the option at fault; pipeline checks (and older vgg-core messages) name it in the message.
    const structured = isVggError(cause) ? cause.option : undefined;
    const named = /^Expected .* for (\S+) but received /s.exec(cause.message)?.[1];
    const leading = /^Expected (\w+) /.exec(cause.message)?.[1];
    const name = [structured, named, leading].find(
      (word) => word !== undefined && runOptionAt(section, word) !== undefined,
    );
    const key = name === undefined ? undefined : runOptionAt(section, name);
    if (name === undefined || key === undefined) {
      const flag = runOptionFlag(fallback);
      throw new RunError('RUN_INVALID', { field: flag }, `${flag}: ${cause.message}`, { cause });
    }
    const flag = runOptionFlag(key);
    const reworded = cause.message
      .replace(` for ${name} but received `, ` for ${flag} but received `)
      .replace(`Expected ${name} `, `Expected ${flag} `);
    const message = reworded.includes(flag) ? reworded : `${flag}: ${cause.message}`;
    throw new RunError('RUN_INVALID', { field: flag }, message, { cause });
  }
}
