#!/usr/bin/env node
// vgg-model: inspect VGG configurations and classify local images. Exit codes: 0 when every command succeeded
// (for predict: at least one image was classified; undecodable images are reported per image), 1 when predict
// could classify none of its images, 2 for usage errors and for models or providers that cannot load.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { invalidOption, isVggError } from './errors.js';
import {
  describeProvider,
  type ExecutionProviderSetting,
  parseExecutionProvider,
} from './execution-provider.js';
import { InferenceEngine } from './inference-engine.js';
import { inspectModel } from './inspect-model.js';
import { formatLayerTable, layerTableToJson } from './layer-table.js';
import type { VggConfigOverrides } from './model-config.js';
import { predictFiles } from './predict.js';
import { type ModelIdentity, type ModelOptions, modelOutputsFor, prepareModel } from './prepare-model.js';

interface ConfigFlags {
  classifierWidth?: number;
  numClasses?: number;
  inputSize?: number;
  batchNorm?: boolean;
  poolSize?: number;
}

interface PredictFlags extends ConfigFlags {
  model?: string;
  weights?: string;
  onnx?: string;
  seed?: number;
  cacheDir?: string;
  top: number;
  taps?: string[];
  l2?: boolean;
  fp16?: boolean;
  provider: ExecutionProviderSetting;
  threads?: number;
  batchSize: number;
  json?: boolean;
  dumpPixels?: string;
}

const EXIT_NONE_CLASSIFIED = 1;
const EXIT_USAGE = 2;

// A reader that goes away (`vgg-model predict ... | head`) ends the output quietly instead of crashing.
let stdoutClosed = false;
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE' && !stdoutClosed) throw error;
  stdoutClosed = true;
});

function integer(min: number) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed) || parsed < min) {
      throw new InvalidArgumentError(`Expected integer >= ${min}.`);
    }
    return parsed;
  };
}

function tapList(value: string): string[] {
  const taps = value.split(',').map((tap) => tap.trim());
  if (taps.some((tap) => tap === ''))
    throw new InvalidArgumentError('Expected comma-separated tap names, e.g. fc7,pool5.');
  return taps;
}

function provider(value: string): ExecutionProviderSetting {
  try {
    return parseExecutionProvider(value, '--provider');
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** Options that shape a generated VGG graph; shared by inspect and predict. */
function addConfigOptions(command: Command, onnxConflicts: boolean): Command {
  const conflicts = onnxConflicts ? ['onnx'] : [];
  return command
    .addOption(
      new Option('--classifier-width <n>', 'width of fc6 and fc7 (default 4096)')
        .argParser(integer(1))
        .conflicts(conflicts),
    )
    .addOption(new Option('--num-classes <n>', 'number of classes (default 1000)').argParser(integer(1)))
    .addOption(new Option('--input-size <px>', 'square input size (default 224)').argParser(integer(1)))
    .addOption(
      new Option('--batch-norm', 'BatchNorm after every conv (or use a _bn variant)').conflicts(conflicts),
    )
    .addOption(
      new Option('--pool-size <n>', 'adaptive average pool output size (default 7)')
        .argParser(integer(1))
        .conflicts(conflicts),
    );
}

function configOverrides(flags: ConfigFlags): VggConfigOverrides {
  const overrides: VggConfigOverrides = {};
  if (flags.classifierWidth !== undefined) overrides.classifierWidth = flags.classifierWidth;
  if (flags.numClasses !== undefined) overrides.numClasses = flags.numClasses;
  if (flags.inputSize !== undefined) overrides.inputSize = flags.inputSize;
  if (flags.batchNorm !== undefined) overrides.batchNorm = flags.batchNorm;
  if (flags.poolSize !== undefined) overrides.poolSize = flags.poolSize;
  return overrides;
}

function describeModel(identity: ModelIdentity, provider: string): string {
  const weights =
    identity.source === 'seeded'
      ? `seeded weights, seed ${identity.seed}`
      : `${identity.source} weights sha256 ${identity.weightsSha256.slice(0, 12)}`;
  return `model ${identity.variant} (${weights}; ${identity.numClasses} classes; input ${identity.inputSize}px) on ${provider}`;
}

async function predict(images: string[], flags: PredictFlags): Promise<void> {
  const modelOptions: ModelOptions = { ...configOverrides(flags) };
  if (flags.model !== undefined) modelOptions.model = flags.model;
  if (flags.weights !== undefined) modelOptions.weightsPath = flags.weights;
  if (flags.onnx !== undefined) modelOptions.onnxPath = flags.onnx;
  if (flags.seed !== undefined) modelOptions.seed = flags.seed;
  if (flags.cacheDir !== undefined) modelOptions.cacheDir = flags.cacheDir;
  // A graph with only what this run prints: probs for --top, plus the --taps.
  const outputs = modelOutputsFor({ topK: flags.top, taps: flags.taps ?? [] });
  if (outputs.length === 0)
    throw invalidOption('--top', 'positive integer when no --taps are given', flags.top);
  modelOptions.outputs = outputs;
  const model = await prepareModel(modelOptions);
  const engine = await InferenceEngine.create({
    model,
    provider: flags.provider,
    intraOpNumThreads: flags.threads,
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
      l2Normalize: flags.l2 ?? false,
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

  addConfigOptions(
    program
      .command('inspect')
      .description('Print the layer table of a model: output shapes, parameters, MACs, receptive field.')
      .argument('<model>', "variant (vgg16, vgg19_bn), layer list (\"[64,'M',128,'M']\") or an .onnx file")
      .option('--json', 'print JSON (top-level "params" is the parameter count)'),
    false,
  )
    .exitOverride()
    .action(async (spec: string, flags: ConfigFlags & { json?: boolean }) => {
      const table = await inspectModel(spec, configOverrides(flags));
      process.stdout.write(
        flags.json ? `${JSON.stringify(layerTableToJson(table))}\n` : `${formatLayerTable(table)}\n`,
      );
    });

  addConfigOptions(
    program
      .command('predict')
      .description(
        'Classify local image files (torchvision ImageNet preprocessing). Without --weights or --onnx the weights ' +
          'are a seeded random init: useful for plumbing, not for answers.',
      )
      .argument('<image...>', 'image files (JPEG, PNG, WebP, GIF, TIFF, AVIF, SVG)')
      .addOption(new Option('--model <spec>', 'variant or layer list (default vgg16)').conflicts(['onnx']))
      .addOption(
        new Option('--weights <file>', 'torchvision state_dict as .safetensors').conflicts(['onnx', 'seed']),
      )
      .addOption(new Option('--onnx <file>', 'a VGG .onnx file (logits as first output)').conflicts(['seed']))
      .addOption(
        new Option('--seed <n>', 'seed of the random init used without weights (default 0)').argParser(
          integer(0),
        ),
      )
      .option(
        '--cache-dir <dir>',
        'where generated graphs and weights are cached (default <tmpdir>/vgg-core-cache)',
      )
      .addOption(new Option('--top <k>', 'classes per image').argParser(integer(0)).default(5))
      .addOption(
        new Option('--taps <list>', 'embeddings to print, e.g. fc7,pool5,relu3_3').argParser(tapList),
      )
      .option('--l2', 'L2-normalise embeddings')
      .option('--fp16', 'round embeddings to float16 (printed as the numbers they encode)')
      .addOption(
        new Option('--provider <p>', 'cpu, cuda, cuda:N, or auto (cuda, else cpu with a warning)')
          .argParser(provider)
          .default('cpu'),
      )
      .addOption(
        new Option('--threads <n>', 'onnxruntime intra-op threads (default: all cores)').argParser(
          integer(1),
        ),
      )
      .addOption(new Option('--batch-size <n>', 'images per inference run').argParser(integer(1)).default(8))
      .option('--json', 'one JSON object per image per line (JSONL)')
      .option(
        '--dump-pixels <dir>',
        'write each decoded crop (input-size² × 3 uint8, HWC RGB) as <dir>/<basename>.rgb',
      ),
    true,
  )
    .exitOverride()
    .action((images: string[], flags: PredictFlags) => predict(images, flags));

  return program;
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Commander already printed the message (or the help).
    process.exitCode = error.exitCode === 0 ? 0 : EXIT_USAGE;
  } else if (isVggError(error)) {
    process.stderr.write(`error: ${error.message}\n`);
    process.exitCode = EXIT_USAGE;
  } else {
    throw error;
  }
}
