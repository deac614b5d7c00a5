#!/usr/bin/env node
// vgg-model: inspect VGG configurations and classify local images. Exit codes: 0 when every command succeeded
// (for predict: at least one image was classified; undecodable images are reported per image), 1 when predict
// could classify none of its images, 2 for usage errors and for models or providers that cannot load.
import { Command, CommanderError } from 'commander';
import { FlagSet, type FlagTable, type FlagValues, isUsageError } from 'vgg-cli-kit';
import { invalidOption, isVggError } from './errors.js';
import { describeProvider, parseExecutionProvider } from './execution-provider.js';
import { InferenceEngine } from './inference-engine.js';
import { inspectModel } from './inspect-model.js';
import { formatLayerTable, layerTableToJson } from './layer-table.js';
import { MODEL_FLAGS, modelOptionsOf } from './model-options.js';
import { predictFiles } from './predict.js';
import { PREPROCESS_FLAGS, preprocessOptionsOf } from './preprocess-flags.js';
import { type ModelIdentity, modelOutputsFor, prepareModel } from './prepare-model.js';

const { classifierWidth, numClasses, inputSize, batchNorm, poolSize } = MODEL_FLAGS;

/** Flags of `inspect`: the architecture of a variant or layer list (an .onnx file fixes its own). */
const INSPECT_FLAGS = {
  classifierWidth,
  numClasses,
  inputSize,
  batchNorm,
  poolSize,
  json: { kind: 'boolean', description: 'print JSON (top-level "params" is the parameter count)' },
} as const satisfies FlagTable;

/** Flags of `predict`: the model, the outputs, and where it runs. */
const PREDICT_FLAGS = {
  ...MODEL_FLAGS,
  ...PREPROCESS_FLAGS,
  cacheDir: {
    kind: 'string',
    valueName: 'dir',
    defaultText: '<tmpdir>/vgg-core-cache',
    description: 'where generated graphs and weights are cached',
  },
  top: { kind: 'integer', min: 0, default: 5, valueName: 'k', description: 'classes per image' },
  taps: { kind: 'list', description: 'embeddings to print, e.g. fc7,pool5,relu3_3' },
  l2: { kind: 'boolean', description: 'L2-normalise embeddings' },
  fp16: { kind: 'boolean', description: 'round embeddings to float16 (printed as the numbers they encode)' },
  provider: {
    kind: 'string',
    valueName: 'p',
    default: 'cpu',
    parse: parseExecutionProvider,
    description: 'cpu, cuda, cuda:N, or auto (cuda, else cpu with a warning)',
  },
  threads: { kind: 'integer', min: 1, defaultText: 'all cores', description: 'onnxruntime intra-op threads' },
  batchSize: { kind: 'integer', min: 1, default: 8, description: 'images per inference run' },
  json: { kind: 'boolean', description: 'one JSON object per image per line (JSONL)' },
  dumpPixels: {
    kind: 'string',
    valueName: 'dir',
    description: 'write each decoded crop (input-size² × 3 uint8, HWC RGB) as <dir>/<basename>.rgb',
  },
} as const satisfies FlagTable;

type PredictFlags = FlagValues<typeof PREDICT_FLAGS>;

// vgg-model reads no environment twins: its flags are all it takes.
const inspectFlags = new FlagSet(INSPECT_FLAGS);
const predictFlags = new FlagSet(PREDICT_FLAGS);

const EXIT_NONE_CLASSIFIED = 1;
const EXIT_USAGE = 2;

// A reader that goes away (`vgg-model predict ... | head`) ends the output quietly instead of crashing.
let stdoutClosed = false;
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE' && !stdoutClosed) throw error;
  stdoutClosed = true;
});

function describeModel(identity: ModelIdentity, provider: string): string {
  const weights =
    identity.source === 'seeded'
      ? `seeded weights, seed ${identity.seed}`
      : `${identity.source} weights sha256 ${identity.weightsSha256.slice(0, 12)}`;
  return `model ${identity.variant} (${weights}; ${identity.numClasses} classes; input ${identity.inputSize}px) on ${provider}`;
}

async function predict(images: string[], flags: PredictFlags): Promise<void> {
  // A graph with only what this run prints: probs for --top, plus the --taps.
  const outputs = modelOutputsFor({ topK: flags.top, taps: flags.taps ?? [] });
  if (outputs.length === 0)
    throw invalidOption('--top', 'positive integer when no --taps are given', flags.top);
  const model = await prepareModel({
    ...modelOptionsOf(flags),
    outputs,
    ...(flags.cacheDir !== undefined ? { cacheDir: flags.cacheDir } : {}),
  });
  const engine = await InferenceEngine.create({
    model,
    provider: flags.provider,
    intraOpNumThreads: flags.threads,
    preprocess: preprocessOptionsOf(flags),
    // cuDNN searches algorithms once per input shape: on CUDA the last, smaller batch is padded to the same shape.
    ...(flags.provider !== 'cpu' && model.fixedBatchSize === null ? { fixedBatchSize: flags.batchSize } : {}),
    onWarning: (message) => process.stderr.write(`warning: ${message}\n`),
  });
  try {
    const providerName = describeProvider(engine.provider);
    const modelJson = { ...model.identity, provider: providerName };
    const out = (line: string) => process.stdout.write(`${line}\n`);
    if (!flags.json) {
      out(describeModel(model.identity, providerName));
      if (model.identity.untrained) {
        out(
          'UNTRAINED: these weights are a deterministic random init, not a trained model; the classes are meaningless.',
        );
      }
    }
    let classified = 0;
    const predictions = predictFiles(engine, images, {
      topK: flags.top,
      taps: flags.taps ?? [],
      l2Normalize: flags.l2,
      dtype: flags.fp16 ? 'float16' : 'float32',
      batchSize: flags.batchSize,
      ...(flags.dumpPixels !== undefined ? { dumpPixelsDir: flags.dumpPixels } : {}),
    });
    for await (const prediction of predictions) {
      if (stdoutClosed) break;
      if (prediction.ok) classified += 1;
      if (flags.json) {
        const row = prediction.ok
          ? {
              file: prediction.file,
              width: prediction.width,
              height: prediction.height,
              top: prediction.top.map((c) => ({ class_id: c.classId, label: c.label, prob: c.prob })),
              ...(flags.taps !== undefined ? { embeddings: prediction.embeddings } : {}),
              model: modelJson,
            }
          : { file: prediction.file, error: prediction.error, message: prediction.message, model: modelJson };
        out(JSON.stringify(row));
        continue;
      }
      if (!prediction.ok) {
        out(`${prediction.file}: error ${prediction.error}: ${prediction.message}`);
        continue;
      }
      out(`${prediction.file} (${prediction.width}x${prediction.height})`);
      for (const c of prediction.top) out(`  ${c.prob.toFixed(4)}  ${c.label} (${c.classId})`);
      for (const [tap, values] of Object.entries(prediction.embeddings)) {
        const head = values.slice(0, 8).map((v) => v.toFixed(4));
        out(`  ${tap} [${values.length}]: ${head.join(' ')}${values.length > 8 ? ' ...' : ''}`);
      }
    }
    if (classified === 0) process.exitCode = EXIT_NONE_CLASSIFIED;
  } finally {
    await engine.close();
  }
}

function buildProgram(): Command {
  const program = new Command('vgg-model')
    .description('Inspect VGG models and classify local images with vgg-core (onnxruntime, sharp).')
    .showHelpAfterError()
    .exitOverride()
    .addHelpText(
      'after',
      '\nExit codes: 0 success; 1 predict classified none of its images; 2 usage error, or a model or provider that cannot load.',
    );

  inspectFlags
    .addTo(
      program
        .command('inspect')
        .description('Print the layer table of a model: output shapes, parameters, MACs, receptive field.')
        .argument('<model>', "variant (vgg16, vgg19_bn), layer list (\"[64,'M',128,'M']\") or an .onnx file"),
    )
    .exitOverride()
    .action(async (spec: string, _options: unknown, command: Command) => {
      const { json, ...overrides } = inspectFlags.read(command, {});
      const table = await inspectModel(spec, modelOptionsOf(overrides));
      process.stdout.write(
        json ? `${JSON.stringify(layerTableToJson(table))}\n` : `${formatLayerTable(table)}\n`,
      );
    });

  predictFlags
    .addTo(
      program
        .command('predict')
        .description(
          'Classify local image files (torchvision ImageNet preprocessing). Without --weights or --onnx the weights ' +
            'are a seeded random init: useful for plumbing, not for answers.',
        )
        .argument('<image...>', 'image files (JPEG, PNG, WebP, GIF, TIFF, AVIF, BMP, PPM/PGM/PBM, SVG)'),
    )
    .exitOverride()
    .action((images: string[], _options: unknown, command: Command) =>
      predict(images, predictFlags.read(command, {})),
    );

  return program;
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Commander already printed the message (or the help).
    process.exitCode = error.exitCode === 0 ? 0 : EXIT_USAGE;
  } else if (isVggError(error) || isUsageError(error)) {
    process.stderr.write(`error: ${error.message}\n`);
    process.exitCode = EXIT_USAGE;
  } else {
    throw error;
  }
}
